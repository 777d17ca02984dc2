package agent_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestNoGoroutineLeaks tracks calls that end every way a call can end,
// closes the agent, and checks that every goroutine the agent started is
// gone: an agent lives inside someone else's service.
func TestNoGoroutineLeaks(t *testing.T) {
	_, nc := runNATS(t, "")
	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	// ours counts goroutines running the agent's code or its connections'
	// (the stand-in's and NATS's own are not the agent's to stop).
	ours := func() (int, string) {
		time.Sleep(50 * time.Millisecond)
		buf := make([]byte, 4<<20)
		all := string(buf[:runtime.Stack(buf, true)])
		n, stacks := 0, ""
		for _, g := range strings.Split(all, "\n\n") {
			if strings.Contains(g, "leak_test.go") || strings.Contains(g, "agent/realtimetest.") || strings.Contains(g, "nats-server") {
				continue
			}
			if strings.Contains(g, "calltop/calltop/agent.") || strings.Contains(g, "coder/websocket") || strings.Contains(g, "persistConn") {
				n++
				stacks += g + "\n\n"
			}
		}
		return n, stacks
	}
	base, _ := ours()

	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Prefix: "leak", PublishInterval: 10 * time.Millisecond, EvaluateInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var live []string
	for i := range 20 {
		id := rt.NewCall(realtimetest.Script{TurnGap: 10 * time.Millisecond, Turns: 2, EndAfterTurns: i%4 == 0})
		if err := a.Track(ctx, id, agent.Meta{User: "u"}); err != nil {
			t.Fatal(err)
		}
		live = append(live, id)
	}
	_ = a.Track(ctx, "rtc_u1_gone", agent.Meta{}) // gone after retries
	if err := a.Hangup(ctx, live[1], feed.End{Reason: feed.ReasonOperator}); err != nil {
		t.Fatal(err)
	}
	rt.DropSideband(live[2])
	rt.EndCall(live[3])
	during, _ := ours()
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, stacks := ours()
		if n <= base {
			t.Logf("agent goroutines: %d before, %d with ~17 live calls, %d after Close", base, during, n)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d agent goroutines after Close, %d before:\n%s", n, base, stacks)
		}
	}
}
