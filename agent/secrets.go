package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/realtime"

	"github.com/calltop/calltop/feed"
)

// DefaultSecretTTL is the client-secret lifetime when none is asked for:
// short, since it only has to last until the browser starts its call.
const DefaultSecretTTL = 60 * time.Second

// secretMemory is how long a secret is remembered after it expires, so a
// late registration of a second call still shows as key_reused.
const secretMemory = 2 * time.Minute

// mintedSecret is what the agent remembers of a client secret: never its
// value, only a fingerprint to recognise it when a call reports it.
type mintedSecret struct {
	fp        string
	user      string
	mintedAt  time.Time
	expiresAt time.Time
	calls     []string
	flagged   bool
}

// secretBook remembers minted secrets until shortly after they expire.
type secretBook struct {
	mu      sync.Mutex
	secrets map[string]*mintedSecret // by fingerprint
}

// Fingerprint identifies a client secret in events and logs without
// revealing it: the first 12 hex digits of its SHA-256.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "fp_" + hex.EncodeToString(sum[:6])
}

// MintClientSecret mints an ephemeral key for user through openai-go
// (client.Realtime.ClientSecrets.New) with session (JSON, "type":
// "realtime"; the agent's default if empty) and ttl (DefaultSecretTTL if
// zero; OpenAI accepts 10 s to 2 h). It returns OpenAI's response JSON as
// is, for the browser. The agent records whom the key was minted for and
// when it expires: a key no call claims before it expires, one claimed by
// two calls, or by another user, is published as a flag. The key's value
// never appears in an event or a log.
func (a *Agent) MintClientSecret(ctx context.Context, user string, session json.RawMessage, ttl time.Duration) (json.RawMessage, error) {
	if ttl == 0 {
		ttl = DefaultSecretTTL
	}
	if ttl < 10*time.Second || ttl > 2*time.Hour {
		return nil, fmt.Errorf("mint client secret: %w: ttl %s outside 10s..2h", ErrInvalidRequest, ttl)
	}
	session, _, err := a.sessionConfig(session)
	if err != nil {
		return nil, fmt.Errorf("mint client secret: %w: %w", ErrInvalidRequest, err)
	}
	if _, _, _, ref := a.admit(ctx, ModeClientSecret, user, true, nil); ref != nil {
		return nil, ref
	}
	res, err := a.oai.Realtime.ClientSecrets.New(ctx, realtime.ClientSecretNewParams{
		ExpiresAfter: realtime.ClientSecretNewParamsExpiresAfter{Seconds: openai.Int(int64(ttl / time.Second)), Anchor: "created_at"},
	}, option.WithJSONSet("session", session))
	if err != nil {
		return nil, fmt.Errorf("mint client secret for %s: %w", user, keyRefused(err))
	}
	if res.Value == "" {
		return nil, fmt.Errorf("mint client secret for %s: OpenAI returned no value", user)
	}
	exp := time.Unix(res.ExpiresAt, 0)
	if res.ExpiresAt == 0 {
		exp = time.Now().Add(ttl)
	}
	s := &mintedSecret{fp: Fingerprint(res.Value), user: user, mintedAt: time.Now(), expiresAt: exp}
	a.secrets.mu.Lock()
	if a.secrets.secrets == nil {
		a.secrets.secrets = make(map[string]*mintedSecret)
	}
	a.secrets.secrets[s.fp] = s
	a.secrets.mu.Unlock()
	a.log.Info("client secret minted", "user", user, "key", s.fp, "expires_at", exp.UTC())
	return json.RawMessage(res.RawJSON()), nil
}

// claimSecret checks a call's claim of the ephemeral key it was created
// with (Track's WithClientSecret) against what was minted: a key claimed
// by more than one call, or for another user than its own, raises a flag
// on the call. An unknown key (minted elsewhere, or already forgotten) is
// not checked.
func (a *Agent) claimSecret(callID, user, secret string) {
	fp := Fingerprint(secret)
	a.secrets.mu.Lock()
	s, ok := a.secrets.secrets[fp]
	var others []string
	var owner string
	if ok && !slices.Contains(s.calls, callID) {
		others = append(others, s.calls...)
		s.calls = append(s.calls, callID)
		owner = s.user
	}
	a.secrets.mu.Unlock()
	if !ok {
		return
	}
	c := a.lookup(callID)
	if c == nil {
		return
	}
	if owner != "" && owner != user {
		c.flag(feed.Flag{Kind: feed.FlagKeyOtherUser, Message: fmt.Sprintf("key minted for %s, call registered for %s", owner, user),
			Evidence: map[string]string{"key": fp, "minted_for": owner, "registered_for": user}})
	}
	if len(others) > 0 {
		c.flag(feed.Flag{Kind: feed.FlagKeyReused, Message: fmt.Sprintf("key already used by %d other call(s)", len(others)),
			Evidence: map[string]string{"key": fp, "other_calls": strings.Join(others, ","), "minted_for": s.user}})
	}
}

// sweepSecrets publishes a key_unclaimed flag for every secret that
// expired without a call (ClaimGrace after its expiry, for registrations
// in flight) and forgets secrets after secretMemory.
func (a *Agent) sweepSecrets(now time.Time) {
	var unclaimed []mintedSecret
	a.secrets.mu.Lock()
	for fp, s := range a.secrets.secrets {
		since := now.Sub(s.expiresAt)
		if len(s.calls) == 0 && !s.flagged && since > a.cfg.ClaimGrace {
			s.flagged = true
			unclaimed = append(unclaimed, *s)
		}
		if since > secretMemory {
			delete(a.secrets.secrets, fp)
		}
	}
	a.secrets.mu.Unlock()
	for _, s := range unclaimed {
		e := feed.Event{Kind: feed.KindFlag, User: s.user, Agent: a.cfg.Name, At: now.UTC(),
			Flag: &feed.Flag{Kind: feed.FlagKeyUnclaimed, Message: "ephemeral key expired without a call registered for it (used outside the app?)",
				Evidence: map[string]string{"key": s.fp, "minted_at": s.mintedAt.UTC().Format(time.RFC3339), "expires_at": s.expiresAt.UTC().Format(time.RFC3339)}}}
		err := a.feed.Publish(e)
		a.notify(e)
		if err != nil {
			a.log.Warn("publish flag", "err", err)
		}
	}
}
