package realtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/realtime"
	"github.com/openai/openai-go/v3/webhooks"
)

// openaiClient is openai-go pointed at the stand-in; secret verifies webhooks.
func openaiClient(s *Server, secret string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(s.BaseURL()),
		option.WithAPIKey(s.APIKey()),
		option.WithWebhookSecret(secret),
		option.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}),
	)
}

// hookReceiver is a webhook endpoint that verifies deliveries with
// openai-go's Unwrap: 400 for a bad signature, 200 otherwise. Its decide
// function (optional) runs for each verified realtime.call.incoming event
// and picks the status to answer.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []webhooks.RealtimeCallIncomingWebhookEvent
	errs   []error
	header []http.Header
	decide func(ev webhooks.RealtimeCallIncomingWebhookEvent, n int) int
}

func newHookReceiver(t *testing.T, client openai.Client) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := client.Webhooks.Unwrap(body, r.Header)
		h.mu.Lock()
		h.header = append(h.header, r.Header.Clone())
		if err != nil {
			h.errs = append(h.errs, err)
			h.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in := ev.AsRealtimeCallIncoming()
		h.got = append(h.got, in)
		n := len(h.got)
		decide := h.decide
		h.mu.Unlock()
		status := http.StatusOK
		if decide != nil {
			status = decide(in, n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) events() []webhooks.RealtimeCallIncomingWebhookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhooks.RealtimeCallIncomingWebhookEvent(nil), h.got...)
}

func (h *hookReceiver) lastErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) == 0 {
		return nil
	}
	return h.errs[len(h.errs)-1]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var (
	sipCallIDRe = regexp.MustCompile(`^rtc_[0-9a-f]{32}$`)
	evtIDRe     = regexp.MustCompile(`^evt_[0-9a-f]{32}$`)
	whIDRe      = regexp.MustCompile(`^wh_[0-9a-f]{32}$`)
)

// TestSIPWebhookVerifiedByOpenAIGo is the whole SIP flow the way a backend
// runs it with openai-go: the signed realtime.call.incoming webhook passes
// client.Webhooks.Unwrap, Calls.Accept answers the call, its sideband
// attaches and talks on the accepted model, Calls.Hangup ends it.
func TestSIPWebhookVerifiedByOpenAIGo(t *testing.T) {
	secret := NewWebhookSecret()
	s := newTestServer(t, Options{TurnGap: time.Millisecond, WebhookSecret: secret})
	if s.WebhookSecret() != secret {
		t.Fatalf("WebhookSecret %q", s.WebhookSecret())
	}
	client := openaiClient(s, secret)
	recv := newHookReceiver(t, client)
	accepted := make(chan error, 1)
	recv.decide = func(ev webhooks.RealtimeCallIncomingWebhookEvent, _ int) int {
		accepted <- client.Realtime.Calls.Accept(context.Background(), ev.Data.CallID, realtime.CallAcceptParams{
			RealtimeSessionCreateRequest: realtime.RealtimeSessionCreateRequestParam{
				Model:        "gpt-realtime-mini",
				Instructions: openai.String("You answer the phone for Brightline."),
			},
		})
		return http.StatusOK
	}
	s.SetWebhook(WebhookTarget{URL: recv.URL})

	before := time.Now().Unix()
	id := s.IncomingSIPCall("+14155550123", "sip:+18005551212@sip.example.com")
	if !sipCallIDRe.MatchString(id) {
		t.Fatalf("call id %q", id)
	}
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("openai-go Accept: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no webhook; errors: %v", recv.lastErr())
	}

	evs := recv.events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.Data.CallID != id || ev.Type != "realtime.call.incoming" || ev.Object != "event" ||
		!evtIDRe.MatchString(ev.ID) || ev.CreatedAt < before || ev.CreatedAt > time.Now().Unix() {
		t.Errorf("event %s", ev.RawJSON())
	}
	info, ok := s.SIPCall(id)
	if !ok {
		t.Fatal("SIPCall: unknown")
	}
	hdrs := map[string]string{}
	for _, h := range ev.Data.SipHeaders {
		hdrs[h.Name] = h.Value
	}
	if len(ev.Data.SipHeaders) != 3 || ev.Data.SipHeaders[0].Name != "From" || hdrs["From"] != "sip:+14155550123@sip.example.com" ||
		hdrs["To"] != "sip:+18005551212@sip.example.com" || hdrs["Call-ID"] != info.SIPCallID || info.SIPCallID == "" {
		t.Errorf("sip headers %+v (info %+v)", ev.Data.SipHeaders, info)
	}
	// The body's field order follows the documented example.
	if !strings.HasPrefix(ev.RawJSON(), `{"object":"event","id":"evt_`) || !strings.Contains(ev.RawJSON(), `"data":{"call_id":"`+id+`","sip_headers":[{"name":"From","value":`) {
		t.Errorf("raw event %s", ev.RawJSON())
	}
	recv.mu.Lock()
	h := recv.header[0]
	recv.mu.Unlock()
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if !whIDRe.MatchString(h.Get("webhook-id")) || h.Get("webhook-id") != info.WebhookID || ts < before || ts > time.Now().Unix() ||
		!strings.HasPrefix(h.Get("webhook-signature"), "v1,") || h.Get("User-Agent") != "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)" ||
		h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	waitFor(t, "the delivery to be recorded", func() bool { return len(s.Deliveries()) == 1 })
	if ds := s.Deliveries(); len(ds) != 1 || ds[0].Status != 200 || ds[0].Attempt != 1 || ds[0].CallID != id ||
		ds[0].WebhookID != info.WebhookID || !bytes.Equal(ds[0].Body, info.Event) || ds[0].URL != recv.URL {
		t.Errorf("deliveries %+v", ds)
	}

	if acc, rej, model := s.SIPOutcome(id); !acc || rej != 0 || model != "gpt-realtime-mini" {
		t.Errorf("SIPOutcome = %v %d %q", acc, rej, model)
	}
	var sess struct {
		Type, Model, Instructions string
	}
	if err := json.Unmarshal(s.CallSession(id), &sess); err != nil || sess.Type != "realtime" || sess.Model != "gpt-realtime-mini" {
		t.Errorf("CallSession %s (%v)", s.CallSession(id), err)
	}
	if live := s.Live(); len(live) != 1 || live[0] != id {
		t.Errorf("Live %v", live)
	}

	c := attach(t, s, id)
	upd := configure(t, c)
	var got struct {
		Model        string `json:"model"`
		Instructions string `json:"instructions"`
		ExpiresAt    int64  `json:"expires_at"`
	}
	_ = upd.field("session", &got)
	if got.Model != "gpt-realtime-mini" || got.Instructions != "You answer the phone for Brightline." ||
		got.ExpiresAt < before+3600 || got.ExpiresAt > time.Now().Unix()+3600 {
		t.Errorf("session.updated %+v", got)
	}
	readUntil(t, c, "response.done")
	readUntil(t, c, "response.done") // talks until ended

	if err := client.Realtime.Calls.Hangup(context.Background(), id); err != nil {
		t.Fatalf("openai-go Hangup: %v", err)
	}
	if _, err := readAll(t, c); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("after hangup: %v", err)
	}
	if info, _ := s.SIPCall(id); info.State != SIPAccepted || !info.Ended {
		t.Errorf("after hangup %+v", info)
	}
}

// TestWebhookForgeriesRejectedByUnwrap crafts bad deliveries with the
// helpers and checks that openai-go's verifier rejects each one, while the
// genuine article (and a fresh replay of it, which only dedupe on
// webhook-id can stop) passes.
func TestWebhookForgeriesRejectedByUnwrap(t *testing.T) {
	s := newTestServer(t, Options{})
	client := openaiClient(s, s.WebhookSecret())
	unwrap := func(h http.Header, body []byte) error {
		_, err := client.Webhooks.Unwrap(body, h)
		return err
	}
	id := s.IncomingSIPCall("+14155550123", "+18005551212") // no target: nothing sent
	info, _ := s.SIPCall(id)
	if len(s.Deliveries()) != 0 || info.State != SIPPending {
		t.Fatalf("unexpected delivery or state %+v", info)
	}
	body := info.Event
	now := time.Now()

	if err := unwrap(s.SignWebhook(info.WebhookID, now, body), body); err != nil {
		t.Fatalf("genuine: %v", err)
	}
	if err := unwrap(SignWebhookWithSecret(s.WebhookSecret(), "wh_x", now, body), body); err != nil {
		t.Fatalf("package signer: %v", err)
	}
	for name, tc := range map[string]struct {
		h    http.Header
		body []byte
		want string
	}{
		"wrong secret": {SignWebhookWithSecret(NewWebhookSecret(), info.WebhookID, now, body), body, "verification failed"},
		"tampered":     {s.SignWebhook(info.WebhookID, now, body), bytes.Replace(body, []byte(id), []byte("rtc_00000000000000000000000000000000"), 1), "verification failed"},
		"other id":     {withHeader(s.SignWebhook("wh_1", now, body), "webhook-id", "wh_2"), body, "verification failed"},
		"stale":        {s.SignWebhook(info.WebhookID, now.Add(-6*time.Minute), body), body, "too old"},
		"future":       {s.SignWebhook(info.WebhookID, now.Add(6*time.Minute), body), body, "too new"},
		"unsigned":     {withHeader(s.SignWebhook(info.WebhookID, now, body), "webhook-signature", ""), body, "missing"},
	} {
		if err := unwrap(tc.h, tc.body); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Unwrap error %v, want %q", name, err, tc.want)
		}
	}

	// Over HTTP: a receiver that verifies with Unwrap answers 400 to the
	// forgeries. A delivery captured and replayed later than the 5-minute
	// tolerance is rejected; a prompt replay passes Unwrap with the same
	// webhook-id, which the receiver must dedupe on.
	recv := newHookReceiver(t, client)
	old, err := s.DeliverWebhook(recv.URL, "wh_captured", now.Add(-10*time.Minute), body)
	if err != nil || old.StatusCode != 400 || !strings.Contains(recv.lastErr().Error(), "too old") {
		t.Fatalf("stale delivery: %v %v", old, err)
	}
	forged := SignWebhookWithSecret(NewWebhookSecret(), "wh_forged", now, body)
	if resp, err := s.PostWebhook(recv.URL, forged, body); err != nil || resp.StatusCode != 400 {
		t.Fatalf("forged delivery: %v %v", resp, err)
	}
	first, err := s.DeliverWebhook(recv.URL, "", time.Time{}, body)
	if err != nil || first.StatusCode != 200 {
		t.Fatalf("genuine delivery: %v %v", first, err)
	}
	ds := s.Deliveries()
	orig := ds[len(ds)-1]
	replay, err := s.PostWebhook(recv.URL, orig.Header, orig.Body)
	if err != nil || replay.StatusCode != 200 {
		t.Fatalf("replay: %v %v", replay, err)
	}
	ds = s.Deliveries()
	if len(ds) != 4 || ds[3].WebhookID != orig.WebhookID || !whIDRe.MatchString(orig.WebhookID) || ds[3].Attempt != 0 ||
		ds[0].Status != 400 || ds[1].Status != 400 {
		t.Errorf("deliveries %+v", ds)
	}
	if b, _ := io.ReadAll(old.Body); !strings.Contains(string(b), "too old") {
		t.Errorf("response body not readable: %q", b)
	}
}

func withHeader(h http.Header, k, v string) http.Header {
	if v == "" {
		h.Del(k)
	} else {
		h.Set(k, v)
	}
	return h
}

// TestWebhookRetries: non-2xx answers, redirects and timeouts are retried
// with a doubling backoff under the same webhook-id, freshly signed.
func TestWebhookRetries(t *testing.T) {
	const backoff = 20 * time.Millisecond
	s := newTestServer(t, Options{WebhookBackoff: backoff, WebhookTimeout: 100 * time.Millisecond})
	client := openaiClient(s, s.WebhookSecret())
	recv := newHookReceiver(t, client)
	var mu sync.Mutex
	plan := []int{500, 307, 0, 200} // 0: too slow (a timeout)
	calls := 0
	recv.decide = func(_ webhooks.RealtimeCallIncomingWebhookEvent, _ int) int {
		mu.Lock()
		st := plan[min(calls, len(plan)-1)]
		calls++
		mu.Unlock()
		if st == 0 {
			time.Sleep(300 * time.Millisecond)
			return 200
		}
		return st
	}
	s.SetWebhook(WebhookTarget{URL: recv.URL})
	id := s.IncomingSIPCall("alice", "bob")
	waitFor(t, "the fourth attempt", func() bool {
		ds := s.Deliveries()
		return len(ds) == 4 && ds[3].Status != 0
	})
	ds := s.Deliveries()
	info, _ := s.SIPCall(id)
	for i, d := range ds {
		if d.Attempt != i+1 || d.WebhookID != info.WebhookID || d.CallID != id || !bytes.Equal(d.Body, info.Event) {
			t.Errorf("attempt %d: %+v", i+1, d)
		}
		if _, err := client.Webhooks.UnwrapWithTolerance(d.Body, d.Header, time.Hour); err != nil {
			t.Errorf("attempt %d not verifiable: %v", i+1, err)
		}
		if i > 0 {
			if gap := d.Sent.Sub(ds[i-1].Sent); gap < backoff<<(i-1) {
				t.Errorf("retry %d after %v, want >= %v", i, gap, backoff<<(i-1))
			}
		}
	}
	if ds[0].Status != 500 || ds[1].Status != 307 || ds[2].Err == nil || ds[2].Status != 0 || ds[3].Status != 200 {
		t.Errorf("statuses %d %d %v %d", ds[0].Status, ds[1].Status, ds[2].Err, ds[3].Status)
	}
	if info.From != "sip:alice@sip.example.com" || info.To != "sip:bob@sip.example.com" {
		t.Errorf("from/to %q %q", info.From, info.To)
	}

	// A receiver that never says yes gets WebhookAttempts tries, no more.
	s2 := newTestServer(t, Options{WebhookAttempts: 3, WebhookBackoff: time.Millisecond,
		Webhook: WebhookTarget{URL: recv.URL + "/nope", Secret: NewWebhookSecret()}})
	s2.IncomingSIPCall("a", "b") // every delivery fails verification: 400
	waitFor(t, "three attempts", func() bool { return len(s2.Deliveries()) == 3 && s2.Deliveries()[2].Status != 0 })
	time.Sleep(20 * time.Millisecond)
	if n := len(s2.Deliveries()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

// TestCloseCancelsWebhookDelivery: Close does not wait for a receiver that
// never answers.
func TestCloseCancelsWebhookDelivery(t *testing.T) {
	block := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer recv.Close()
	defer close(block)
	s := NewServer(Options{Webhook: WebhookTarget{URL: recv.URL}, WebhookTimeout: time.Minute})
	id := s.IncomingSIPCall("a", "b")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if info, _ := s.SIPCall(id); info.State != SIPCancelled || !info.Ended {
		t.Errorf("pending call after Close: %+v", info)
	}
	if ds := s.Deliveries(); len(ds) != 1 || ds[0].Err == nil || !errors.Is(ds[0].Err, context.Canceled) {
		t.Errorf("deliveries %+v", ds)
	}
	// After Close a SIP call is born cancelled and nothing is sent.
	id2 := s.IncomingSIPCall("a", "b")
	if info, _ := s.SIPCall(id2); info.State != SIPCancelled || len(s.Deliveries()) != 1 {
		t.Errorf("after Close: %+v", info)
	}
}
