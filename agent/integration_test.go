package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

const offer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"

// waitSignal folds events until a user event matching cond arrives.
func (e *env) waitSignal(what string, cond func(feed.Event) bool) feed.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		for _, s := range e.board.Signals() {
			if cond(s) {
				return s
			}
		}
		batch, err := e.w.Next(ctx)
		if err != nil {
			e.t.Fatalf("waiting for %s: %v", what, err)
		}
		for _, ev := range batch {
			e.board.Apply(ev)
		}
	}
}

func TestRelay(t *testing.T) {
	e := newEnv(t, realtimetest.Options{TurnGap: 5 * time.Millisecond}, agent.Config{})
	relay := httptest.NewServer(e.agent.Relay(agent.RelayConfig{
		User: func(r *http.Request) (string, error) {
			if u := r.Header.Get("X-Test-User"); u != "" {
				return u, nil
			}
			return "", errors.New("not signed in")
		},
		Admit: func(r *http.Request, user string) error {
			if user == "broke@example.com" {
				return &agent.RefusedError{Status: http.StatusPaymentRequired, Reason: "credits", Detail: "no credit left"}
			}
			return nil
		},
		Session: func(r *http.Request, user string) (json.RawMessage, error) {
			return json.RawMessage(`{"type":"realtime","model":"gpt-realtime-mini","instructions":"Be brief."}`), nil
		},
	}))
	defer relay.Close()
	post := func(user, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, relay.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/sdp")
		if user != "" {
			req.Header.Set("X-Test-User", user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := post("alice@example.com", offer)
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/sdp" || !strings.HasPrefix(loc, "/v1/calls/rtc_") || !bytes.HasPrefix(answer, []byte("v=0")) {
		t.Fatalf("relay: %d %q Location %q body %.40q", resp.StatusCode, resp.Header.Get("Content-Type"), loc, answer)
	}
	id := strings.TrimPrefix(loc, "/v1/calls/")
	c := e.waitCall(id, "usage from the relayed call", func(c feed.Call) bool { return c.Usage.Responses > 0 })
	if c.User != "alice@example.com" || c.Model != "gpt-realtime-mini" {
		t.Fatalf("relayed call = %+v", c)
	}

	before := len(e.openai.Live())
	resp = post("broke@example.com", offer)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPaymentRequired || !strings.Contains(string(body), `"credits"`) {
		t.Fatalf("refused relay: %d %s", resp.StatusCode, body)
	}
	ref := e.waitSignal("refused event", func(ev feed.Event) bool { return ev.Kind == feed.KindRefused && ev.User == "broke@example.com" })
	if ref.Refusal.Mode != agent.ModeRelay || ref.Refusal.Status != 402 {
		t.Fatalf("refusal = %+v", ref.Refusal)
	}
	for _, tc := range []struct {
		user, body string
		status     int
	}{
		{"", offer, http.StatusUnauthorized},
		{"alice@example.com", "hello", http.StatusBadRequest},
	} {
		resp := post(tc.user, tc.body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("relay user %q body %.10q: %d, want %d", tc.user, tc.body, resp.StatusCode, tc.status)
		}
	}
	if after := len(e.openai.Live()); after != before {
		t.Fatalf("refused or bad requests reached OpenAI: %d live calls, was %d", after, before)
	}
}

// createWithKey starts a call at the stand-in as a browser would, with an
// ephemeral key, and returns its ID.
func createWithKey(t *testing.T, rt *realtimetest.Server, key string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rt.BaseURL()+"/realtime/calls", strings.NewReader(offer))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("browser's POST /realtime/calls: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

func TestClientSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, realtimetest.Options{TurnGap: 5 * time.Millisecond}, agent.Config{ClaimGrace: time.Millisecond})
	ctx := context.Background()
	raw, err := e.agent.MintClientSecret(ctx, "alice@example.com", json.RawMessage(`{"type":"realtime","model":"gpt-realtime"}`), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var secret struct {
		Value     string `json:"value"`
		ExpiresAt int64  `json:"expires_at"`
	}
	if err := json.Unmarshal(raw, &secret); err != nil || !strings.HasPrefix(secret.Value, "ek_") || secret.ExpiresAt == 0 {
		t.Fatalf("client secret %s: %v", raw, err)
	}
	if _, err := e.agent.MintClientSecret(ctx, "alice@example.com", nil, time.Second); !errors.Is(err, agent.ErrInvalidRequest) {
		t.Fatal("a 1s TTL was accepted (OpenAI's minimum is 10s)")
	}

	first := createWithKey(t, e.openai, secret.Value)
	// The first waits for its sideband, the second does not: the key is
	// checked either way.
	if err := e.agent.Track(ctx, first, agent.Meta{User: "alice@example.com"}, agent.WithClientSecret(secret.Value)); err != nil {
		t.Fatal(err)
	}
	second := createWithKey(t, e.openai, secret.Value)
	if err := e.agent.Track(ctx, second, agent.Meta{User: "bob@example.com"}, agent.Async(), agent.WithClientSecret(secret.Value)); err != nil {
		t.Fatal(err)
	}
	c := e.waitCall(second, "two flags", func(c feed.Call) bool { return len(c.Flags) == 2 })
	kinds := map[feed.FlagKind]feed.Flag{}
	for _, f := range c.Flags {
		kinds[f.Kind] = f
	}
	if kinds[feed.FlagKeyReused].Evidence["other_calls"] != first || kinds[feed.FlagKeyOtherUser].Evidence["minted_for"] != "alice@example.com" {
		t.Fatalf("flags = %+v", c.Flags)
	}
	if c1, _ := e.board.Get(first); len(c1.Flags) != 0 {
		t.Fatalf("the first, legitimate call was flagged: %+v", c1.Flags)
	}
	// The key's value never leaves the agent: not in any event.
	for _, call := range e.board.Calls() {
		b, _ := json.Marshal(call)
		if strings.Contains(string(b), secret.Value) {
			t.Fatal("the client secret's value appears in an event")
		}
	}

	// A key nobody claims is flagged on its user once it expires.
	if _, err := e.agent.MintClientSecret(ctx, "mallory@example.com", nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	f := e.waitSignal("key_unclaimed", func(ev feed.Event) bool { return ev.Kind == feed.KindFlag && ev.User == "mallory@example.com" })
	if f.Flag.Kind != feed.FlagKeyUnclaimed || !strings.HasPrefix(f.Flag.Evidence["key"], "fp_") {
		t.Fatalf("flag = %+v", f.Flag)
	}
}

func TestSidecarToken(t *testing.T) {
	e := newEnv(t, realtimetest.Options{TurnGap: 5 * time.Millisecond}, agent.Config{})
	api := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{Token: "s3cret"}))
	defer api.Close()
	id := e.openai.NewCall(realtimetest.Script{Turns: 1, TurnGap: 5 * time.Millisecond})
	do := func(token, path, ctype, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, api.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	track := `{"call_id":"` + id + `","user":"u"}`
	for _, tok := range []string{"", "wrong"} {
		for _, path := range []string{"/v1/calls", "/v1/client_secrets", "/v1/relay?user=u"} {
			if resp := do(tok, path, "application/json", track); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s with token %q: %d, want 401", path, tok, resp.StatusCode)
			}
		}
	}
	if got := e.agent.Calls(); len(got) != 0 {
		t.Fatalf("unauthorized requests started tracking %v", got)
	}
	if resp := do("s3cret", "/v1/calls", "application/json", track); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("with the token: %d", resp.StatusCode)
	}
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses == 1 })

	resp := do("s3cret", "/v1/relay?user=carol", "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), "/v1/calls/rtc_") {
		t.Fatalf("sidecar relay: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	relayed := strings.TrimPrefix(resp.Header.Get("Location"), "/v1/calls/")
	if c := e.waitCall(relayed, "started", func(c feed.Call) bool { return c.User != "" }); c.User != "carol" {
		t.Fatalf("relayed call = %+v", c)
	}
	if resp := do("s3cret", "/v1/webhooks/openai", "application/json", "{}"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("webhook without a secret configured: %d, want 404", resp.StatusCode)
	}
}
