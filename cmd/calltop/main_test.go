package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// syncBuffer is a bytes.Buffer safe to write from a command's goroutines
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// calltop runs one command in-process and returns its exit code and output.
func calltop(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func lsJSON(t *testing.T, natsURL string) map[string]feed.Summary {
	t.Helper()
	code, out, errs := calltop(t, "ls", "--json", "--nats", natsURL)
	if code != 0 {
		t.Fatalf("ls --json: exit %d: %s", code, errs)
	}
	calls := map[string]feed.Summary{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var s feed.Summary
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("ls --json line %q: %v", sc.Text(), err)
		}
		calls[s.CallID] = s
	}
	return calls
}

// TestSidecarLsKill drives the binary's commands the way the README does:
// `calltop server`, `calltop agent` with a call posted to its API, `calltop
// ls --json`, `calltop kill`.
func TestSidecarLsKill(t *testing.T) {
	natsAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	var serverOut, agentErr syncBuffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, []string{"server", "--listen", natsAddr, "--store", t.TempDir()}, &serverOut, &serverOut)
	}()
	natsURL := "nats://" + natsAddr
	waitFor(t, "NATS server", func() bool { return strings.Contains(serverOut.String(), "JetStream on") })

	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	apiAddr := freeAddr(t)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code := run(ctx, []string{"agent", "--nats", natsURL, "--openai-base-url", rt.BaseURL(), "--listen", apiAddr}, &agentErr, &agentErr); code != 0 {
			t.Errorf("agent exited %d: %s", code, agentErr.String())
		}
	}()
	waitFor(t, "agent API", func() bool { return strings.Contains(agentErr.String(), "agent ready") })

	id := rt.NewCall(realtimetest.Script{Model: "gpt-realtime", TurnGap: 5 * time.Millisecond})
	resp, err := http.Post("http://"+apiAddr+"/v1/calls", "application/json", strings.NewReader(fmt.Sprintf(`{"call_id":%q,"user":"alice"}`, id)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/calls: %d", resp.StatusCode)
	}
	var s feed.Summary
	waitFor(t, "call with usage in ls", func() bool {
		s = lsJSON(t, natsURL)[id]
		return s.Responses > 0 && s.Tokens.Total > 0
	})
	if s.User != "alice" || s.State != feed.StateLive || s.Model != "gpt-realtime" || s.CostUSD <= 0 || s.EndReason != "" || s.EndedAt != nil {
		t.Fatalf("ls: %+v", s)
	}

	// Flags may come before the call ID too.
	code, out, errs := calltop(t, "kill", "--reason", "test kill", id, "--nats", natsURL)
	if code != 0 || !strings.Contains(out, id+" hung up") {
		t.Fatalf("kill: exit %d, out %q, err %q", code, out, errs)
	}
	if n := rt.Hangups(id); n != 1 {
		t.Fatalf("stand-in saw %d hangups, want 1", n)
	}
	s = lsJSON(t, natsURL)[id]
	if s.State != feed.StateEnded || s.EndReason != feed.ReasonOperator || s.EndDetail != "test kill" || s.EndedAt == nil || !strings.Contains(s.EndedBy, "@") {
		t.Fatalf("after kill: %+v", s)
	}
	code, _, errs = calltop(t, "kill", id, "--nats", natsURL)
	if code != 1 || !strings.Contains(errs, "no agent owns this call") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("second kill: exit %d, %q", code, errs)
	}
	code, out, _ = calltop(t, "ls", "--nats", natsURL)
	if code != 0 || !strings.Contains(out, "CALL") || !strings.Contains(out, id) || !strings.Contains(out, "operator") {
		t.Fatalf("ls table: exit %d\n%s", code, out)
	}
}

func TestBadInputOneLine(t *testing.T) {
	dead := "nats://" + freeAddr(t) // nothing listens there
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ls", "--nats", dead}, 1, "connect to NATS"},
		{[]string{"kill", "rtc_x", "--nats", dead}, 1, "connect to NATS"},
		{[]string{"kill", "rtc.x"}, 1, "invalid call id"},
		{[]string{"kill"}, 2, "which call? give its ID\n\nUsage:\n  calltop kill CALL_ID"},
		{[]string{"kill", "rtc_a", "--reason", "x", "rtc_b"}, 2, "one call at a time"},
		{[]string{"ls", "--bogus"}, 2, "calltop ls: unknown flag: --bogus (calltop ls -h lists the flags)\n"},
		{[]string{"ls", "-nats", dead}, 2, "-nats: flags take two dashes: --nats"},
		{[]string{"ls", "-nats=" + dead}, 2, "-nats: flags take two dashes: --nats"},
		{[]string{"ls", "stray"}, 2, `calltop ls: unexpected argument "stray"`},
		{[]string{"--bogus"}, 2, "calltop watch: unknown flag: --bogus"},
		{[]string{"lss"}, 2, `unknown command "lss" (did you mean ls?)`},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"server", "--listen", "nonsense"}, 1, "--listen"},
		{[]string{"demo", "--calls", "0"}, 1, "--calls 0"},
		{[]string{"watch", "--nats", dead}, 1, "connect to NATS"},
	} {
		code, _, errs := calltop(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || strings.Contains(errs, "goroutine ") {
			t.Errorf("calltop %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	t.Setenv("OPENAI_API_KEY", "")
	if code, _, errs := calltop(t, "agent", "--nats", dead); code != 1 || !strings.Contains(errs, "OPENAI_API_KEY") || strings.Count(errs, "\n") != 1 {
		t.Errorf("agent without key: exit %d, %q", code, errs)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
