package agent_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// TestNATSWipeHeals: NATS restarts on an empty store (its data lost).
// Within 10 s the agent has recreated the streams and buckets and
// announced every call it owns again: a dashboard that was running all
// along follows new calls and new usage (its consumer would otherwise wait
// for sequence numbers the new stream does not have), a fresh `ls` shows
// every live call with its user and model, and credits work again.
func TestNATSWipeHeals(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{}, withCredits())
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime-mini", TurnGap: 40 * time.Millisecond})
		if err := e.agent.Track(ctx, id, agent.Meta{User: fmt.Sprintf("user%d", i), Model: "gpt-realtime-mini"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	}
	flagged := ids[0]
	port := e.nats.Addr().(*net.TCPAddr).Port
	t0 := time.Now()
	e.nats.Shutdown()
	waitFor(t, "the dashboard to say it cannot read", func() bool { _, _, stale := e.w.Stale(); return stale })
	t.Logf("stale after %s", time.Since(t0).Round(time.Millisecond))
	srv, err := natsserver.Run(natsserver.Options{Port: port, StoreDir: t.TempDir()}) // empty
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Cleanup(func() { e.agent.Close(context.Background()) }) // before the server goes (cleanups run last first)
	wiped := time.Now()
	var missing string // what the last check lacked
	within := func(what string, cond func() bool) {
		t.Helper()
		deadline := wiped.Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("10 s after NATS came back empty: still no %s (%s)", what, missing)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The running dashboard follows usage and new calls again.
	seen, _ := e.board.Get(flagged)
	e.waitCall(flagged, "new usage on the running dashboard", func(c feed.Call) bool { return c.Usage.Responses > seen.Usage.Responses+1 })
	fresh := e.openai.NewCall(realtimetest.Script{TurnGap: 40 * time.Millisecond})
	if err := e.agent.Track(ctx, fresh, agent.Meta{User: "newcomer", Model: "gpt-realtime"}); err != nil {
		t.Fatal(err)
	}
	e.waitCall(fresh, "a call started after the wipe", func(c feed.Call) bool { return c.User == "newcomer" })
	within("fresh read of the stream", func() bool { _, _, stale := e.w.Stale(); return !stale })

	// A fresh `ls` sees every live call, with user and model.
	within("every call in a fresh snapshot", func() bool {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		b, err := e.feed.Snapshot(sctx, time.Hour)
		if err != nil {
			missing = err.Error()
			return false
		}
		for i, id := range append(ids, fresh) {
			c, ok := b.Get(id)
			want := "newcomer"
			if i < len(ids) {
				want = fmt.Sprintf("user%d", i)
			}
			if !ok || c.User != want || c.Model == "" || !c.Live() || c.Agent != e.agent.Name() {
				missing = fmt.Sprintf("%s: %+v", id, c)
				return false
			}
		}
		return true
	})
	t.Logf("whole again %s after NATS came back empty", time.Since(wiped).Round(time.Millisecond))

	// Credits work again (the buckets were recreated; balances were in
	// the lost data).
	within("a working credit store", func() bool {
		_, err := e.credits.Set(ctx, "frank", 2*feed.Dollar)
		return err == nil
	})
	if bal, ok, err := e.credits.Balance(ctx, "frank"); err != nil || !ok || bal != 2*feed.Dollar {
		t.Fatalf("balance after the wipe: %s %v %v", bal, ok, err)
	}
	// Calls still end and leave their final record.
	terminate(t, e, flagged)
	within("the final record", func() bool {
		rec, ok, err := e.feed.Final(ctx, flagged)
		return err == nil && ok && rec.End != nil && rec.End.Reason == feed.ReasonOperator && rec.Start.User == "user0"
	})
	t.Logf("final record stored %s after the wipe", time.Since(wiped).Round(time.Millisecond))
}
