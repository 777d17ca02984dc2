package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhooks are signed the Standard Webhooks way (standardwebhooks.com),
// the format OpenAI signs its own webhooks with, so an app verifies
// calltop's with the library it already uses for OpenAI's (openai-go's
// client.Webhooks.VerifySignature, the openai and standardwebhooks
// packages for Python and Node):
//
//	webhook-id:        stable for one event, across retries and agents
//	webhook-timestamp: unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// where key is the base64 decoding of the secret after "whsec_".

// secretPrefix starts every Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// minSecretBytes is the least key length Standard Webhooks (and
// openai-go's verifier) accept: a shorter key would be refused by the
// app's library, so the agent refuses it first.
const minSecretBytes = 24

// decodeSecret returns the signing key of a whsec_ secret. Its errors
// never quote the secret.
func decodeSecret(secret string) ([]byte, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return nil, errors.New("notify secret: not set (want whsec_ followed by base64, the secret your app verifies webhooks with)")
	}
	enc, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("notify secret: does not start with whsec_ (want whsec_ followed by base64, e.g. whsec_$(openssl rand -base64 32))")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	// The verifiers compare canonical encodings: one that decodes but is
	// not canonical (stray bits, line breaks) would be refused by the app.
	if err != nil || base64.StdEncoding.EncodeToString(key) != enc {
		return nil, errors.New("notify secret: the part after whsec_ is not standard base64")
	}
	if len(key) < minSecretBytes {
		return nil, fmt.Errorf("notify secret: decodes to %d bytes, want at least %d (e.g. whsec_$(openssl rand -base64 32))", len(key), minSecretBytes)
	}
	return key, nil
}

// sign sets the Standard Webhooks headers of one attempt on h. The names
// are set in lower case, as the specification writes them (HTTP does not
// care; naive receivers might).
func sign(h http.Header, key []byte, id string, at time.Time, body []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	h["webhook-id"] = []string{id}
	h["webhook-timestamp"] = []string{ts}
	h["webhook-signature"] = []string{"v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))}
}
