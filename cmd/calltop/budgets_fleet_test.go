package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
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

// TestCreditsAcrossAgents: a user with credit for one and a half calls
// (of 6 turns, measured first) makes two overlapping calls that would
// talk on, one on each of two agent processes.
// Each agent charges its call as it spends and watches the user's
// balance, so at least one call is cut (policy:credits) when the other
// agent's call spent the rest, each cut call was told to wrap up before
// the hangup (the stand-in saw the system message first), and the final
// balance is below zero by at most one response's cost per call.
func TestCreditsAcrossAgents(t *testing.T) {
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	pol := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(pol, []byte(`{"default": {"wrap_up": true, "warn_at": 0.5}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "agent-a", srv.ClientURL(), rt, "--policy", pol)
	b := startAgent(t, "agent-b", srv.ClientURL(), rt, "--policy", pol)
	script := realtimetest.Script{Turns: 6, TurnGap: 20 * time.Millisecond, EndAfterTurns: true}

	// What one call costs, and one response on average: a user without
	// a credit limit.
	calib := rt.NewCall(script)
	a.track(t, calib, "calibration")
	var one feed.Summary
	waitUntil(t, 30*time.Second, "the calibration call to end", func() bool {
		one = lsJSON(t, srv.ClientURL())[calib]
		return one.EndedAt != nil
	})
	perResponse := one.CostUSD / float64(one.Responses)

	ctx := context.Background()
	cl := feedtest.Connect(t, srv.ClientURL())
	store, err := cl.Credits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	credit, err := feed.MicrosFromUSD(1.5 * one.CostUSD)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Set(ctx, "payer", credit); err != nil {
		t.Fatal(err)
	}
	// Two calls that talk until they are cut.
	endless := script
	endless.Turns, endless.EndAfterTurns = 0, false
	ids := []string{rt.NewCall(endless), rt.NewCall(endless)}
	a.track(t, ids[0], "payer")
	b.track(t, ids[1], "payer")
	var calls map[string]feed.Summary
	waitUntil(t, 30*time.Second, "both calls to end", func() bool {
		calls = lsJSON(t, srv.ClientURL())
		return calls[ids[0]].EndedAt != nil && calls[ids[1]].EndedAt != nil
	})
	cut := 0
	for _, id := range ids {
		s := calls[id]
		if s.EndReason != "policy:credits" && s.EndDetail != "policy:credits" {
			continue
		}
		cut++
		msgs := rt.SystemMessages(id)
		if len(msgs) == 0 || !strings.Contains(msgs[0], "wrap up") {
			t.Errorf("call %s cut without a wrap-up before the hangup (system messages %q)", id, msgs)
		}
	}
	if cut == 0 {
		t.Fatalf("no call cut for credits: %+v %+v", calls[ids[0]], calls[ids[1]])
	}
	// Settled: nothing left as live spend, the balance is final.
	var balance feed.Micros
	waitUntil(t, 20*time.Second, "both calls settled", func() bool {
		spend, err := store.LiveSpend(ctx, "payer")
		balance, _, _ = store.Balance(ctx, "payer")
		return err == nil && len(spend) == 0
	})
	spent := calls[ids[0]].CostUSD + calls[ids[1]].CostUSD
	if got := credit.USD() - spent; got-balance.USD() > 1e-5 || balance.USD()-got > 1e-5 {
		t.Errorf("balance %s, want the credit %s minus the calls' %.6f", balance, credit, spent)
	}
	over := -balance.USD()
	t.Logf("credit %s, calls %.6f + %.6f, balance %s: overshoot %.2f responses (a response: $%.6f)",
		credit, calls[ids[0]].CostUSD, calls[ids[1]].CostUSD, balance, over/perResponse, perResponse)
	if over > 2*2*perResponse { // one response per concurrent call, twice the average response
		t.Fatalf("overshoot $%.6f: more than one response per concurrent call ($%.6f each on average)", over, perResponse)
	}
}
