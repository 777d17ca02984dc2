package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
	"github.com/calltop/calltop/natsserver"
)

// TestMain lets a test run `calltop` in a process of its own: the test
// binary started with CALLTOP_TEST_CHILD=1 is the calltop binary (same
// main), so a test can kill it with SIGKILL and see what the fleet does.
func TestMain(m *testing.M) {
	if os.Getenv("CALLTOP_TEST_CHILD") == "1" {
		os.Args = append([]string{"calltop"}, os.Args[1:]...)
		main()
	}
	os.Exit(m.Run())
}

// child is a calltop process started by a test.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed once the process exited, with err set
	err  error
	api  string
}

// startAgent runs `calltop agent` in its own process against natsURL and
// the stand-in, and waits until its API answers.
func startAgent(t testing.TB, name, natsURL string, rt *realtimetest.Server, extra ...string) *child {
	t.Helper()
	api := freeAddr(t)
	args := append([]string{"agent", "--name", name, "--nats", natsURL, "--listen", api}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CALLTOP_TEST_CHILD=1", "OPENAI_API_KEY="+rt.APIKey(), "OPENAI_BASE_URL="+rt.BaseURL())
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, cmd: cmd, out: out, done: make(chan struct{}), api: "http://" + api}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, out.String())
		}
	})
	waitUntil(t, 20*time.Second, name+" to answer", func() bool {
		resp, err := http.Get(c.api + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c
}

// track registers a call with the agent's API, as a backend does.
func (c *child) track(t testing.TB, id, user string) {
	t.Helper()
	resp, err := http.Post(c.api+"/v1/calls", "application/json",
		strings.NewReader(fmt.Sprintf(`{"call_id":%q,"user":%q,"model":"gpt-realtime"}`, id, user)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/calls to %s: %d", c.name, resp.StatusCode)
	}
}

func waitUntil(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still no %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fleetWorld is an embedded NATS and the stand-in, shared by agent
// processes.
func fleetWorld(t *testing.T) (natsURL string, rt *realtimetest.Server) {
	t.Helper()
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	rt = realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	return srv.ClientURL(), rt
}

// TestKilledAgentsCallsAreAdopted: an agent killed with SIGKILL (no
// goodbye, no final word) has its calls adopted by another agent within
// 20 s, with the defaults (heartbeat 5 s, adopt after 15 s): `ls` shows the
// new owner, the original started_at and totals that carry on, and a kill
// works and reaches OpenAI exactly once.
func TestKilledAgentsCallsAreAdopted(t *testing.T) {
	natsURL, rt := fleetWorld(t)
	a := startAgent(t, "agent-a", natsURL, rt)
	startAgent(t, "agent-b", natsURL, rt)
	var ids []string
	for i := range 3 {
		id := rt.NewCall(realtimetest.Script{TurnGap: 200 * time.Millisecond})
		a.track(t, id, fmt.Sprintf("user%d", i))
		ids = append(ids, id)
	}
	var before map[string]feed.Summary
	waitUntil(t, 20*time.Second, "3 calls of agent-a with usage", func() bool {
		before = lsJSON(t, natsURL)
		for _, id := range ids {
			if s := before[id]; s.Agent != "agent-a" || s.Responses < 1 {
				return false
			}
		}
		return true
	})
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.done
	var after map[string]feed.Summary
	waitUntil(t, 20*time.Second, "every call adopted (and attached) by agent-b", func() bool {
		after = lsJSON(t, natsURL)
		for _, id := range ids {
			if s := after[id]; s.Agent != "agent-b" || s.State != feed.StateLive || s.GapSeconds == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("adopted %s after SIGKILL", time.Since(killed).Round(100*time.Millisecond))
	for i, id := range ids {
		b, s := before[id], after[id]
		if !s.StartedAt.Equal(b.StartedAt) || s.User != fmt.Sprintf("user%d", i) || s.Responses < b.Responses || s.GapSeconds <= 0 {
			t.Fatalf("adopted %s: started %v (was %v), user %q, %d responses (were %d), gap %.1fs",
				id, s.StartedAt, b.StartedAt, s.User, s.Responses, b.Responses, s.GapSeconds)
		}
	}
	waitUntil(t, 10*time.Second, "totals that carry on", func() bool {
		return lsJSON(t, natsURL)[ids[0]].Responses > after[ids[0]].Responses
	})
	if code, _, errs := calltop(t, "kill", ids[0], "--nats", natsURL, "--reason", "adopted"); code != 0 {
		t.Fatalf("kill of an adopted call: exit %d: %s", code, errs)
	}
	if n := rt.Hangups(ids[0]); n != 1 {
		t.Fatalf("%d hangups reached OpenAI, want 1", n)
	}
	waitUntil(t, 10*time.Second, "the adopted call ended by the operator", func() bool {
		s := lsJSON(t, natsURL)[ids[0]]
		return s.State == feed.StateEnded && s.EndReason == feed.ReasonOperator && s.Agent == "agent-b"
	})
}

// TestStoppedAgentHandsOver: an agent stopped with SIGTERM while another
// runs hands its calls over at once, with their totals: no dashboard ever
// shows its calls with a silent agent, the agent says goodbye, and the
// calls go on under the other agent.
func TestStoppedAgentHandsOver(t *testing.T) {
	natsURL, rt := fleetWorld(t)
	a := startAgent(t, "agent-a", natsURL, rt)
	startAgent(t, "agent-b", natsURL, rt)
	cl := feedtest.Connect(t, natsURL)
	w, err := cl.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	board := feed.NewBoard(time.Hour)
	var ids []string
	for i := range 3 {
		id := rt.NewCall(realtimetest.Script{TurnGap: 100 * time.Millisecond})
		a.track(t, id, fmt.Sprintf("user%d", i))
		ids = append(ids, id)
	}
	// fold reads events until cond holds, checking on every batch that no
	// live call is shown under a silent agent.
	fold := func(what string, cond func() bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for !cond() {
			batch, err := w.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			now := time.Now()
			for _, e := range batch {
				board.Apply(e)
			}
			for _, c := range board.Calls() {
				if ag, ok := board.Agent(c.Agent); c.Live() && ok && ag.State(now) == feed.AgentSilent {
					t.Fatalf("call %s shown under a silent agent %s", c.ID, c.Agent)
				}
			}
		}
	}
	owned := func(agent string) bool {
		for _, id := range ids {
			if c, ok := board.Get(id); !ok || c.Agent != agent || c.Usage.Responses < 1 {
				return false
			}
		}
		return true
	}
	fold("agent-a's calls", func() bool { return owned("agent-a") })
	responses := map[string]int{}
	for _, id := range ids {
		c, _ := board.Get(id)
		responses[id] = c.Usage.Responses
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	fold("agent-b owning the calls", func() bool { return owned("agent-b") })
	t.Logf("handed over %s after SIGTERM", time.Since(stopped).Round(10*time.Millisecond))
	select {
	case <-a.done:
		if a.err != nil {
			t.Fatalf("agent-a exited with %v", a.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent-a did not exit")
	}
	fold("agent-a's goodbye", func() bool { ag, ok := board.Agent("agent-a"); return ok && ag.Left() && ag.Handoff })
	for _, id := range ids {
		c, _ := board.Get(id)
		if !c.Live() || c.Usage.Responses < responses[id] || c.Term != 2 {
			t.Fatalf("handed-over call %s: %+v", id, c)
		}
	}
	if !strings.Contains(a.out.String(), "calls handed over") {
		t.Fatalf("agent-a did not say it handed its calls over:\n%s", a.out.String())
	}
}
