package realtimetest

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTarget is an endpoint that receives the server's signed webhooks,
// typically an agent's webhook handler under httptest.
type WebhookTarget struct {
	URL    string // where events are POSTed; "" delivers nothing
	Secret string // the signing secret, "whsec_<base64>" (see NewWebhookSecret)
}

// WebhookDelivery is one webhook request the server sent, automatic
// (IncomingSIPCall) or by hand (DeliverWebhook, PostWebhook).
type WebhookDelivery struct {
	URL       string
	WebhookID string // the webhook-id header ("wh_…"); the same for every attempt of one event
	CallID    string // the SIP call: data.call_id (data.session_id for live.call.incoming) of the body, if it has one
	Attempt   int    // 1 for the first try of an automatic delivery, 2… for retries; 0 by hand
	Sent      time.Time
	Header    http.Header // the request headers as sent
	Body      []byte      // the request body as sent
	Status    int         // the HTTP status answered; 0 if the request failed
	Err       error       // the transport error (timeout, refused, …), if any
}

// webhookUserAgent is the user-agent of OpenAI's webhook deliveries.
const webhookUserAgent = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"

// NewWebhookSecret returns a fresh signing secret in OpenAI's format:
// "whsec_" followed by the standard base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = crand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// newWebhookID returns a webhook-id like "wh_685342e6c53c8190a1be43f081506c52".
func newWebhookID() string { return "wh_" + randFrom(hexset, 32) }

// SignWebhookWithSecret returns the headers of a Standard Webhooks delivery
// of body signed with secret: webhook-id, webhook-timestamp (ts in unix
// seconds), webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>",
// keyed with the base64-decoded part of a "whsec_" secret, or with the
// secret's bytes otherwise, as openai-go does), user-agent and
// content-type. Tests use it to forge deliveries (a wrong secret, a stale
// timestamp, a body changed after signing).
func SignWebhookWithSecret(secret, id string, ts time.Time, body []byte) http.Header {
	key := []byte(secret)
	if enc, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if dec, err := base64.StdEncoding.DecodeString(enc); err == nil {
			key = dec
		}
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(stamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", stamp)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	h.Set("user-agent", webhookUserAgent)
	h.Set("content-type", "application/json")
	return h
}

// SignWebhook is SignWebhookWithSecret with the server's secret
// (WebhookSecret).
func (s *Server) SignWebhook(id string, ts time.Time, body []byte) http.Header {
	return SignWebhookWithSecret(s.WebhookSecret(), id, ts, body)
}

// WebhookSecret returns the secret the server signs webhooks with: the
// configured one or the one it made.
func (s *Server) WebhookSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook.Secret
}

// SetWebhook changes where later IncomingSIPCall events are delivered (an
// empty URL stops deliveries) and, if t.Secret is set, the signing secret.
// It exists because a test's receiver often needs BaseURL before it can
// start.
func (s *Server) SetWebhook(t WebhookTarget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook.URL = t.URL
	if t.Secret != "" {
		s.webhook.Secret = t.Secret
	}
}

// DeliverWebhook POSTs body to url signed with the server's secret as of ts,
// with webhook-id id, exactly like an automatic delivery (one attempt, no
// retry). An empty id gets a fresh "wh_…"; a zero ts means now. Tests use it
// to deliver an event synchronously (SIPCall(id).Event), to replay one (same
// id) or to send a stale one (old ts). The response body is read in full
// and can be read again from resp.Body; the delivery is recorded with
// Attempt 0.
func (s *Server) DeliverWebhook(url, id string, ts time.Time, body []byte) (*http.Response, error) {
	if id == "" {
		id = newWebhookID()
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	return s.PostWebhook(url, s.SignWebhook(id, ts, body), body)
}

// PostWebhook POSTs body to url with exactly the given headers (for a
// recorded delivery replayed byte for byte, or headers forged with
// SignWebhookWithSecret), like DeliverWebhook otherwise.
func (s *Server) PostWebhook(url string, header http.Header, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WebhookTimeout)
	defer cancel()
	var ev struct {
		Data struct {
			CallID    string `json:"call_id"`
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &ev)
	callID := ev.Data.CallID
	if callID == "" {
		callID = ev.Data.SessionID
	}
	return s.post(ctx, url, header.Clone(), body, callID, 0)
}

// Deliveries returns every webhook request sent so far, oldest first.
func (s *Server) Deliveries() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookDelivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Header = d.Header.Clone()
		d.Body = bytes.Clone(d.Body)
		out[i] = d
	}
	return out
}

// newHookClient is the HTTP client of webhook deliveries: no redirects
// (OpenAI does not follow them) and no kept-alive connections, so nothing
// lingers after Close.
func newHookClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// post sends one webhook request and records it. The response body is
// buffered (up to 1 MiB) so the connection can be closed at once.
func (s *Server) post(ctx context.Context, url string, header http.Header, body []byte, callID string, attempt int) (*http.Response, error) {
	d := WebhookDelivery{URL: url, WebhookID: header.Get("webhook-id"), CallID: callID, Attempt: attempt,
		Sent: time.Now(), Header: header, Body: bytes.Clone(body)}
	resp, err := s.send(ctx, url, header, body)
	if err != nil {
		d.Err = err
	} else {
		d.Status = resp.StatusCode
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return resp, err
}

func (s *Server) send(ctx context.Context, url string, header http.Header, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	resp, err := s.hookClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// deliverEvent delivers one event to target: up to WebhookAttempts tries,
// each freshly timestamped and signed under the same webhook-id, the n-th
// retry after WebhookBackoff·2^(n-1), until a 2xx answer. Close cancels it.
// It runs on a goroutine counted in s.wg.
func (s *Server) deliverEvent(target WebhookTarget, callID, id string, body []byte) {
	defer s.wg.Done()
	backoff := s.opts.WebhookBackoff
	for attempt := 1; attempt <= s.opts.WebhookAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(backoff)
			select {
			case <-s.closing:
				t.Stop()
				return
			case <-t.C:
			}
			backoff *= 2
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.WebhookTimeout)
		resp, err := s.post(ctx, target.URL, SignWebhookWithSecret(target.Secret, id, time.Now(), body), body, callID, attempt)
		cancel()
		if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return
		}
	}
}
