package realtimetest

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLiveDropAndReattach: a dropped sideband reads EOF without a close
// frame; the session runs on, and a new attach starts with session.started
// and sees the cumulative usage further along.
func TestLiveDropAndReattach(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond})
	c, _ := liveAttach(t, s, id, "")
	before := usageSeconds(t, readUntil(t, c, "session.usage.updated"))
	s.DropSideband(id)
	if _, err := readAll(t, c); err == nil || websocket.CloseStatus(err) != -1 {
		t.Fatalf("drop: %v", err)
	}
	waitFor(t, "the sideband to go", func() bool { return s.Attached(id) == 0 })
	waitFor(t, "usage to grow while detached", func() bool { return s.LiveSeconds(id) > before+0.02 })
	c2, _ := liveAttach(t, s, id, "")
	if after := usageSeconds(t, readUntil(t, c2, "session.usage.updated")); after <= before+0.02 {
		t.Errorf("usage after re-attach %v, before the drop %v", after, before)
	}
	if s.Attaches(id) != 2 || !slices.Contains(s.Live(), id) {
		t.Errorf("attaches %d live %v", s.Attaches(id), s.Live())
	}

	// An outage drops Live sidebands too; the session survives it.
	s.SetReachable(false)
	if _, err := readAll(t, c2); websocket.CloseStatus(err) != -1 {
		t.Errorf("outage: %v", err)
	}
	if _, _, err := liveDial(s, id, "", authHeader(s.APIKey())); err == nil {
		t.Error("attach during an outage")
	}
	s.SetReachable(true)
	c3, _ := liveAttach(t, s, id, "")
	readUntil(t, c3, "session.usage.updated")
}

// TestLiveCloseSideband: a chosen close code (with a Live-shaped error
// event first for 3000+) leaves the session live.
func TestLiveCloseSideband(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond})
	for _, tc := range []struct {
		code      int
		reason    string
		errorCode string
	}{
		{4000, "invalid_request_error.invalid_model", "invalid_model"},
		{1001, "going away", ""},
	} {
		c, _ := liveAttach(t, s, id, "")
		readUntil(t, c, "session.usage.updated")
		if n := s.CloseSideband(id, tc.code, tc.reason); n != 1 {
			t.Fatalf("CloseSideband closed %d", n)
		}
		evs, code := readUntilClose(t, c)
		if int(code) != tc.code {
			t.Errorf("close %v, want %d", code, tc.code)
		}
		var errCode string
		for _, ev := range evs {
			if ev.Type == "error" {
				errCode = liveErrOf(t, ev).Code
			}
			if ev.Type == "session.closed" {
				t.Errorf("session.closed on CloseSideband")
			}
		}
		if errCode != tc.errorCode {
			t.Errorf("%d: error %q, want %q", tc.code, errCode, tc.errorCode)
		}
		if !slices.Contains(s.Live(), id) {
			t.Fatalf("%d ended the session", tc.code)
		}
	}
}

// TestLiveFailAttaches: injected handshake failures carry
// session_id_not_found for 404/410 and count in Attaches.
func TestLiveFailAttaches(t *testing.T) {
	var mu sync.Mutex
	var attempts []int
	s := newTestServer(t, Options{AttachStatus: func(id string, attempt int) int {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, attempt)
		if strings.HasPrefix(id, "live_") && attempt == 3 {
			return http.StatusBadGateway
		}
		return 0
	}})
	id := s.NewLiveSession(LiveScript{})
	s.FailAttaches(id, http.StatusServiceUnavailable, 1)
	if _, r, _ := liveDial(s, id, "", authHeader(s.APIKey())); r == nil || r.StatusCode != 503 {
		t.Fatalf("want 503, got %v", r)
	}
	s.FailAttaches(id, http.StatusGone, 1)
	_, r, _ := liveDial(s, id, "", authHeader(s.APIKey()))
	if b, _ := io.ReadAll(r.Body); r.StatusCode != 410 || string(b) != sessionNotFoundBody {
		t.Errorf("410: %d %s", r.StatusCode, b)
	}
	if _, r, _ := liveDial(s, id, "", authHeader(s.APIKey())); r == nil || r.StatusCode != 502 {
		t.Fatalf("AttachStatus: want 502, got %v", r)
	}
	liveAttach(t, s, id, "")
	if n := s.Attaches(id); n != 4 || s.Attached(id) != 1 {
		t.Errorf("Attaches %d Attached %d", n, s.Attached(id))
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []int{3, 4}) { // FailAttaches answered the first two
		t.Errorf("AttachStatus saw %v", attempts)
	}
}

// TestLiveInjectAndFlood: raw frames and floods of Live events reach Live
// sidebands and change no truth.
func TestLiveInjectAndFlood(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: time.Hour})
	c, _ := liveAttach(t, s, id, "")
	readUntil(t, c, "info")
	if n := s.Inject(id, []byte(`{"type":"session.brand_new","event_id":"event_x"}`), false); n != 1 {
		t.Fatalf("Inject wrote to %d", n)
	}
	if ev, err := readEvent(c, 5*time.Second); err != nil || ev.Type != "session.brand_new" {
		t.Fatalf("injected: %s %v", ev.raw, err)
	}
	const n = 500
	done := make(chan int, 1)
	go func() {
		got := 0
		for got < n {
			ev, err := readEvent(c, 5*time.Second)
			if err != nil {
				break
			}
			if ev.Type == "session.output_transcript.delta" {
				got++
			}
		}
		done <- got
	}()
	if sent := s.Flood(id, n); sent != n {
		t.Fatalf("Flood sent %d", sent)
	}
	if got := <-done; got != n {
		t.Errorf("read %d of %d flooded Live events", got, n)
	}
	if s.LiveSeconds(id) != 0 {
		t.Errorf("flood changed the usage: %v", s.LiveSeconds(id))
	}
}

// TestLiveHangupStatus: HangupStatus fails chosen Live hangups with
// OpenAI bodies (404s as session_id_not_found) and the session stays live.
func TestLiveHangupStatus(t *testing.T) {
	s := newTestServer(t, Options{HangupRetryAfter: 20 * time.Millisecond, HangupStatus: func(id string, attempt int) int {
		switch attempt {
		case 1:
			return http.StatusTooManyRequests
		case 2:
			return http.StatusNotFound
		}
		return 0
	}})
	id := s.NewLiveSession(LiveScript{})
	r, b := liveHangup(t, s, id)
	if r.StatusCode != 429 || r.Header.Get("Retry-After-Ms") != "20" || apiErrorOf(t, b).Code != "rate_limit_exceeded" {
		t.Fatalf("first: %d %v %s", r.StatusCode, r.Header, b)
	}
	if r, b = liveHangup(t, s, id); r.StatusCode != 404 || string(b) != sessionNotFoundBody || !slices.Contains(s.Live(), id) {
		t.Fatalf("second: %d %s", r.StatusCode, b)
	}
	if r, _ = liveHangup(t, s, id); r.StatusCode != 200 {
		t.Fatalf("third: %d", r.StatusCode)
	}
	if reason, ok := s.LiveEnded(id); !ok || reason != "close_requested" {
		t.Errorf("LiveEnded %q %v", reason, ok)
	}
}
