package realtimetest

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCloseStopsEverything(t *testing.T) {
	baseline := runtime.NumGoroutine()
	s := NewServer(Options{PingInterval: 10 * time.Millisecond})
	if !strings.HasPrefix(s.BaseURL(), "http://127.0.0.1:") || !strings.HasSuffix(s.BaseURL(), "/v1") {
		t.Fatalf("BaseURL %q", s.BaseURL())
	}
	if s.APIKey() != "sk-realtimetest" {
		t.Fatalf("APIKey %q", s.APIKey())
	}
	var readers sync.WaitGroup
	for i := range 3 {
		id := s.NewCall(Script{TurnGap: time.Millisecond})
		c := attach(t, s, id)
		if i < 2 {
			configure(t, c)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			_, _ = readAll(t, c)
		}()
	}
	// A sideband whose client never reads, and a beta one, must not hold Close up.
	stuck := attach(t, s, s.NewCall(Script{TurnGap: time.Millisecond}))
	configure(t, stuck)
	// A pending SIP call and an accepted one end too.
	s.IncomingSIPCall("+14155550123", "+18005551212")
	sip := s.IncomingSIPCall("+14155550124", "+18005551212")
	if resp, body := postJSON(t, s, "/realtime/calls/"+sip+"/accept", s.APIKey(), `{"type":"realtime"}`); resp.StatusCode != 200 {
		t.Fatalf("accept: %d %s", resp.StatusCode, body)
	}
	configure(t, attach(t, s, sip))
	ek := mintSecret(t, s, `{"type":"realtime"}`)
	do(t, s, "POST", "/realtime/calls", ek, "application/sdp", strings.NewReader(testOffer))
	go s.Simulate(context.Background(), SimConfig{Calls: 2, MinLife: time.Second, TurnGap: time.Millisecond})
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	s.Close() // idempotent
	readers.Wait()
	_ = stuck.CloseNow()

	if len(s.Live()) != 0 {
		t.Errorf("live calls after Close: %v", s.Live())
	}
	if id := s.NewCall(Script{}); len(s.Live()) != 0 || id == "" {
		t.Errorf("NewCall after Close should give an ended call")
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}
