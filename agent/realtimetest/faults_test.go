package realtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func TestInject(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{TurnGap: time.Hour}) // quiet: only injected frames arrive
	c := attach(t, s, id)
	configure(t, c)
	for _, tc := range []struct {
		frame  string
		binary bool
	}{
		{`{"type":"response.done","response":`, false},
		{"\x00\x01\x02", true},
		{`{"type":"response.brand_new_event","event_id":"event_x"}`, false},
		{`[]`, false},
	} {
		if n := s.Inject(id, []byte(tc.frame), tc.binary); n != 1 {
			t.Fatalf("Inject wrote to %d sidebands", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		typ, data, err := c.Read(ctx)
		cancel()
		if err != nil || string(data) != tc.frame || (typ == websocket.MessageBinary) != tc.binary {
			t.Errorf("got %v %q %v, want %q", typ, data, err, tc.frame)
		}
	}
	// Oversized for the client: it fails the connection (1009); the call lives on.
	c.SetReadLimit(1 << 10)
	big := append([]byte(`{"type":"response.output_audio_transcript.delta","delta":"`), bytes.Repeat([]byte("x"), 4<<10)...)
	s.Inject(id, append(big, `"}`...), false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := c.Read(ctx); err == nil || !strings.Contains(err.Error(), "message too big") {
		t.Errorf("oversized: %v", err)
	}
	if s.liveCall(id) == nil {
		t.Fatal("call ended")
	}
	waitFor(t, "the sideband to go", func() bool { return s.Attached(id) == 0 })
	if n := s.Inject(id, []byte("{}"), false); n != 0 {
		t.Errorf("Inject with nothing attached: %d", n)
	}
	c2 := attach(t, s, id)
	configure(t, c2)
	if s.Attached(id) != 1 || s.Attaches(id) != 2 {
		t.Errorf("attached %d, attaches %d", s.Attached(id), s.Attaches(id))
	}
}

func TestFlood(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{TurnGap: 2 * time.Millisecond})
	c := attach(t, s, id)
	configure(t, c)
	const n = 5000
	type result struct {
		deltas, dones int
		ids           map[string]bool
		err           error
	}
	done := make(chan result, 1)
	go func() {
		r := result{ids: map[string]bool{}}
		for r.deltas < n {
			ev, err := readEvent(c, 5*time.Second)
			if err != nil {
				r.err = err
				break
			}
			switch ev.Type {
			case "response.output_audio_transcript.delta":
				var d struct {
					ResponseID string `json:"response_id"`
					ItemID     string `json:"item_id"`
					Delta      string `json:"delta"`
				}
				_ = json.Unmarshal(ev.raw, &d)
				if d.Delta != "" && strings.HasPrefix(d.ResponseID, "resp_") && strings.HasPrefix(d.ItemID, "item_") {
					r.deltas++ // the script's own deltas count too; close enough
				}
				r.ids[ev.ID] = true
			case "response.done":
				r.dones++
			}
		}
		done <- r
	}()
	start := time.Now()
	if sent := s.Flood(id, n); sent != n {
		t.Fatalf("Flood sent %d", sent)
	}
	el := time.Since(start)
	r := <-done
	if r.err != nil || len(r.ids) < r.deltas {
		t.Fatalf("reader: %+v err %v (unique ids %d)", r.deltas, r.err, len(r.ids))
	}
	t.Logf("Flood: %d events in %v (%.0f/s)", n, el, n/el.Seconds())
	if s.Emitted(id).Responses < r.dones {
		t.Errorf("Emitted %d < seen %d", s.Emitted(id).Responses, r.dones)
	}
	if s.Flood("rtc_unknown", 10) != 0 {
		t.Error("Flood of an unknown call")
	}
}

func TestCloseSideband(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{TurnGap: 2 * time.Millisecond})
	for _, tc := range []struct {
		code      int
		reason    string
		errorCode string // "" = no error event first
	}{
		{4000, "invalid_request_error.invalid_model", "invalid_model"},
		{3000, "invalid_request_error.invalid_api_key", "invalid_api_key"},
		{3000, "", "server_error"},
		{1000, "", ""},
		{1001, "going away", ""},
	} {
		c := attach(t, s, id)
		configure(t, c)
		if n := s.CloseSideband(id, tc.code, tc.reason); n != 1 {
			t.Fatalf("CloseSideband closed %d", n)
		}
		evs, err := readAll(t, c)
		var ce websocket.CloseError
		if !asCloseError(err, &ce) || int(ce.Code) != tc.code || ce.Reason != tc.reason {
			t.Errorf("%d: closed with %v", tc.code, err)
		}
		var errEv string
		for _, ev := range evs {
			if ev.Type == "error" {
				errEv = ev.errorCode()
			}
		}
		if errEv != tc.errorCode {
			t.Errorf("%d %q: error event %q, want %q", tc.code, tc.reason, errEv, tc.errorCode)
		}
		if s.liveCall(id) == nil {
			t.Fatalf("%d closed the call", tc.code)
		}
	}
	// Re-attaching after any of them finds the call still talking.
	c := attach(t, s, id)
	configure(t, c)
	readUntil(t, c, "response.done")
}

func TestFailAttaches(t *testing.T) {
	s := newTestServer(t, Options{HangupRetryAfter: 1500 * time.Millisecond})
	id := s.NewCall(Script{})
	s.FailAttaches(id, http.StatusServiceUnavailable, 2)
	for i := range 2 {
		_, r, err := dial(s, id, authHeader(s.APIKey()))
		if err == nil || r == nil || r.StatusCode != 503 {
			t.Fatalf("attempt %d: %v %v", i+1, r, err)
		}
		b, _ := io.ReadAll(r.Body)
		if e := apiErrorOf(t, b); e.Type != "server_error" {
			t.Errorf("503 body %s", b)
		}
	}
	// A 401 uses up nothing.
	if _, r, _ := dial(s, id, nil); r == nil || r.StatusCode != 401 {
		t.Errorf("no key: %v", r)
	}
	attach(t, s, id)
	if n := s.Attaches(id); n != 4 {
		t.Errorf("Attaches = %d, want 4", n)
	}

	// 410 forever: the body is call_id_not_found; an order is replaced or cancelled.
	s.FailAttaches(id, http.StatusGone, 1000)
	_, r, _ := dial(s, id, authHeader(s.APIKey()))
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 410 || apiErrorOf(t, b).Code != "call_id_not_found" {
		t.Errorf("410: %d %s", r.StatusCode, b)
	}
	s.FailAttaches(id, http.StatusTooManyRequests, 1)
	_, r, _ = dial(s, id, authHeader(s.APIKey()))
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "2" || r.Header.Get("Retry-After-Ms") != "1500" {
		t.Errorf("429: %d %v", r.StatusCode, r.Header)
	}
	s.FailAttaches(id, 500, 5)
	s.FailAttaches(id, 500, 0)
	attach(t, s, id)

	// Ended and unknown calls count too.
	s.EndCall(id)
	for range 3 {
		_, _, _ = dial(s, id, authHeader(s.APIKey()))
		_, _, _ = dial(s, "rtc_u1_unknown", authHeader(s.APIKey()))
	}
	if s.Attaches(id) != 10 || s.Attaches("rtc_u1_unknown") != 3 {
		t.Errorf("Attaches %d %d", s.Attaches(id), s.Attaches("rtc_u1_unknown"))
	}
}

func TestAttachStatusOption(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	s := newTestServer(t, Options{AttachStatus: func(callID string, attempt int) int {
		mu.Lock()
		seen = append(seen, attempt)
		mu.Unlock()
		if attempt <= 2 {
			return http.StatusBadGateway
		}
		return 0
	}})
	id := s.NewCall(Script{})
	for range 2 {
		if _, r, _ := dial(s, id, authHeader(s.APIKey())); r == nil || r.StatusCode != 502 {
			t.Fatalf("want 502, got %v", r)
		}
	}
	attach(t, s, id)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[2] != 3 {
		t.Errorf("attempts %v", seen)
	}
}

func TestHangupStatus(t *testing.T) {
	var mu sync.Mutex
	var answered []int
	s := newTestServer(t, Options{
		HangupRetryAfter: 30 * time.Millisecond,
		HangupStatus: func(callID string, attempt int) int {
			switch attempt {
			case 1:
				return http.StatusTooManyRequests
			case 2:
				return http.StatusInternalServerError
			}
			return 0
		},
		OnHangup: func(_ string, status int) {
			mu.Lock()
			answered = append(answered, status)
			mu.Unlock()
		},
	})
	id := s.NewCall(Script{})
	c := attach(t, s, id)
	path := "/realtime/calls/" + id + "/hangup"
	r, b := do(t, s, "POST", path, s.APIKey(), "", nil)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" || r.Header.Get("Retry-After-Ms") != "30" ||
		apiErrorOf(t, b).Code != "rate_limit_exceeded" {
		t.Fatalf("first hangup: %d %v %s", r.StatusCode, r.Header, b)
	}
	r, b = do(t, s, "POST", path, s.APIKey(), "", nil)
	if r.StatusCode != 500 || apiErrorOf(t, b).Type != "server_error" || s.liveCall(id) == nil {
		t.Fatalf("second hangup: %d %s", r.StatusCode, b)
	}
	if r, _ := do(t, s, "POST", path, "", "", nil); r.StatusCode != 401 { // auth comes first
		t.Fatalf("no key: %d", r.StatusCode)
	}
	r, b = do(t, s, "POST", path, s.APIKey(), "", nil)
	if r.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("fourth hangup: %d %s", r.StatusCode, b)
	}
	if _, err := readAll(t, c); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("sideband: %v", err)
	}
	if s.Hangups(id) != 4 {
		t.Errorf("Hangups %d", s.Hangups(id))
	}
	mu.Lock()
	if got := answered; len(got) != 4 || got[0] != 429 || got[1] != 500 || got[2] != 401 || got[3] != 200 {
		t.Errorf("OnHangup %v", got)
	}
	mu.Unlock()

	// openai-go retries 429 and 5xx on its own, honouring Retry-After-Ms.
	id2 := s.NewCall(Script{})
	client := openai.NewClient(option.WithBaseURL(s.BaseURL()), option.WithAPIKey(s.APIKey()), option.WithMaxRetries(2))
	start := time.Now()
	if err := client.Realtime.Calls.Hangup(context.Background(), id2); err != nil {
		t.Fatalf("openai-go Hangup: %v", err)
	}
	if s.Hangups(id2) != 3 || s.liveCall(id2) != nil || time.Since(start) < 30*time.Millisecond {
		t.Errorf("openai-go: %d hangups in %v", s.Hangups(id2), time.Since(start))
	}
}
