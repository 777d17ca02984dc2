package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/natsserver"
)

// relayCall posts an SDP offer to an agent's relay for user, as a
// browser's backend does, and returns the status and body.
func (c *child) relayCall(t *testing.T, user string) (int, string) {
	t.Helper()
	resp, err := http.Post(c.api+"/v1/relay?user="+user, "application/sdp", strings.NewReader("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConcurrencyAcrossAgents: with max_concurrent 1, a user's second call
// on another agent process is refused (429); when the agent holding the
// first call is killed, its live count comes back down once the call is
// adopted and ends, and the user can call again.
func TestConcurrencyAcrossAgents(t *testing.T) {
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	rt := realtimetest.NewServer(realtimetest.Options{TurnGap: time.Hour})
	t.Cleanup(rt.Close)
	pol := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(pol, []byte(`{"default": {"max_concurrent": 1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--policy", pol, "--heartbeat", "200ms", "--adopt-after", "1s"}
	a := startAgent(t, "agent-a", srv.ClientURL(), rt, flags...)
	b := startAgent(t, "agent-b", srv.ClientURL(), rt, flags...)
	if st, body := a.relayCall(t, "erin"); st != http.StatusCreated {
		t.Fatalf("first call on agent-a: %d %s", st, body)
	}
	if st, body := b.relayCall(t, "erin"); st != http.StatusTooManyRequests || !strings.Contains(body, "concurrency") {
		t.Fatalf("second call on agent-b: %d %s, want 429 concurrency", st, body)
	}
	if st, body := b.relayCall(t, "frank"); st != http.StatusCreated {
		t.Fatalf("another user on agent-b: %d %s", st, body)
	}
	if n := len(rt.Live()); n != 2 {
		t.Fatalf("%d calls at OpenAI, want 2 (the refused one never reached it)", n)
	}
	// Kill agent-a: agent-b adopts erin's call (counted once: still 429),
	// and once it ends erin may call again.
	var erinCall string
	for id, s := range lsJSON(t, srv.ClientURL()) {
		if s.User == "erin" {
			erinCall = id
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "erin's call adopted by agent-b", func() bool {
		return lsJSON(t, srv.ClientURL())[erinCall].Agent == "agent-b"
	})
	if st, body := b.relayCall(t, "erin"); st != http.StatusTooManyRequests {
		t.Fatalf("after the adoption: %d %s, want 429 (the adopted call still counts, once)", st, body)
	}
	rt.EndCall(erinCall)
	waitUntil(t, 20*time.Second, "erin admitted again", func() bool {
		st, _ := b.relayCall(t, "erin")
		return st == http.StatusCreated
	})
}
