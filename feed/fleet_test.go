package feed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/natsserver"
)

// TestLateDashboardAt10kCalls: 10,000 calls, each with many usage events,
// then a dashboard (a snapshot) started late: every call has its user and
// model, because the live state keeps the newest message per subject
// instead of evicting the oldest (a call's started) under the weight of
// usage.
func TestLateDashboardAt10kCalls(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	if _, err := c.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	const calls, usages = 10000, 6
	for i := range calls {
		id := fmt.Sprintf("rtc_%05d", i)
		e := started(id, 1, fmt.Sprintf("user%d", i))
		e.Start.Model = "gpt-realtime"
		if err := c.Publish(e); err != nil {
			t.Fatal(err)
		}
		for s := uint64(2); s < 2+usages; s++ {
			if err := c.Publish(usage(id, s, int64(s), 0.001*float64(s))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	waitStored(t, c, calls*2)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	b, err := c.Snapshot(sctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of %d calls in %s", b.Len(), time.Since(start).Round(time.Millisecond))
	if b.Len() != calls {
		t.Fatalf("%d calls on the board, want %d", b.Len(), calls)
	}
	for _, call := range b.Calls() {
		if call.User == "" || call.Model == "" || call.Usage.Responses != usages+1 {
			t.Fatalf("late dashboard: %+v", call)
		}
	}
}

// TestSnapshotDuringBurst: `calltop ls` while agents write 20,000 events a
// second returns as soon as it has read what was there when it started;
// a count of pending messages would keep moving and never reach zero.
func TestSnapshotDuringBurst(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	if _, err := c.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	// The writers are agents: other connections than the reader's.
	nc, err := Connect(srv.ClientURL(), "burst")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	agents, _ := NewClient(nc, c.Subjects.Prefix)
	for i := range 2000 {
		if err := agents.Publish(started(fmt.Sprintf("rtc_%d", i), 1, "u")); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var burst atomic.Int64
	perTick := 200 // per 10 ms: 20,000 a second
	if raceOn {
		perTick = 20
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for s := uint64(2); ; s++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for i := range perTick {
				_ = agents.Publish(usage(fmt.Sprintf("rtc_%d", i), s, int64(s), 0))
			}
			burst.Add(int64(perTick))
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, "the burst to run", func() bool { return burst.Load() > int64(10*perTick) })
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	b, err := c.Snapshot(sctx, 0)
	if err != nil {
		t.Fatalf("snapshot during a burst: %v", err)
	}
	if b.Len() < 2000 {
		t.Fatalf("snapshot has %d calls, want 2000", b.Len())
	}
	t.Logf("snapshot during a burst of %d writes a second: %s", perTick*100, time.Since(start).Round(time.Millisecond))
}

// TestFlagsOfEveryKindSurvive: a call's flags each keep their subject, so
// a late reader sees all of them, not only the newest.
func TestFlagsOfEveryKindSurvive(t *testing.T) {
	c, _ := newTestClient(t)
	if _, err := c.EnsureStream(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(started("rtc_f", 1, "mallory")); err != nil {
		t.Fatal(err)
	}
	kinds := []FlagKind{FlagKeyReused, FlagKeyOtherUser, FlagNearCap}
	for i, k := range kinds {
		e := Event{V: Version, Kind: KindFlag, CallID: "rtc_f", Seq: uint64(2 + i), At: t0, Agent: "a1", Flag: &Flag{Kind: k}}
		if err := c.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	for i, reason := range []string{"credits", "concurrency"} {
		e := Event{V: Version, Kind: KindRefused, User: "mallory", At: t0.Add(time.Duration(i) * time.Second), Agent: "a1", Refusal: &Refusal{Mode: "relay", Status: 402, Reason: reason}}
		if err := c.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	waitStored(t, c, 6)
	b, err := c.Snapshot(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	call, _ := b.Get("rtc_f")
	if len(call.Flags) != len(kinds) {
		t.Fatalf("late reader sees flags %+v, want all of %v", call.Flags, kinds)
	}
	if n := len(b.Signals()); n != 2 {
		t.Fatalf("late reader sees %d refusals of the user, want 2", n)
	}
}

// TestWatcherResubscribesAfterWipe: NATS comes back without its data; the
// running watcher says it is stale meanwhile, then reads the new stream.
func TestWatcherResubscribesAfterWipe(t *testing.T) {
	c, srv := newTestClient(t)
	ctx := context.Background()
	w, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	b := NewBoard(0)
	for s := uint64(1); s <= 50; s++ { // the old stream gets far ahead
		if err := c.Publish(usage("rtc_old", s, int64(s), 0)); err != nil {
			t.Fatal(err)
		}
	}
	collect(t, w, b, func() bool { call, _ := b.Get("rtc_old"); return call.Usage.Tokens.Total == 50 })
	port := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	waitFor(t, "stale", func() bool { _, _, stale := w.Stale(); return stale })
	srv2, err := natsserver.Run(natsserver.Options{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Shutdown()
	waitFor(t, "reading again", func() bool { _, _, stale := w.Stale(); return !stale && w.Resubscribed() > 0 })
	if err := c.Publish(started("rtc_new", 1, "after")); err != nil {
		t.Fatal(err)
	}
	collect(t, w, b, func() bool { call, ok := b.Get("rtc_new"); return ok && call.User == "after" })
}

// TestOutboxStoresThroughAnOutage: entries added while NATS is down are
// stored once it is back, final records exactly once however often they
// are sent.
func TestOutboxStoresThroughAnOutage(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsserver.Run(natsserver.Options{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := Connect(srv.ClientURL(), "outbox-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, _ := NewClient(nc, "outbox")
	ctx := context.Background()
	if _, err := c.EnsureFinalStream(ctx); err != nil {
		t.Fatal(err)
	}
	o := c.NewOutbox(0)
	defer o.Close()
	port := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	final := func(id string) Event {
		e := ended(id, 9, ReasonHangup, 100, 0.5)
		e.Start = &Start{User: "u", StartedAt: t0}
		return e
	}
	var stored atomic.Int64
	for i := range 5 {
		msg, err := c.FinalMessage(final(fmt.Sprintf("rtc_%d", i%3))) // rtc_0 and rtc_1 twice
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Add(c.PublishStep(msg, true, func(uint64) { stored.Add(1) })); err != nil {
			t.Fatal(err)
		}
	}
	if o.Len() != 5 {
		t.Fatalf("outbox holds %d, want 5 while NATS is down", o.Len())
	}
	srv2, err := natsserver.Run(natsserver.Options{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Shutdown()
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := o.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		rec, ok, err := c.Final(ctx, fmt.Sprintf("rtc_%d", i))
		if err != nil || !ok || rec.End.Reason != ReasonHangup {
			t.Fatalf("final record rtc_%d: %+v %v %v", i, rec, ok, err)
		}
	}
	s, _ := c.EnsureFinalStream(ctx)
	info, _ := s.Info(ctx)
	if info.State.Msgs != 3 || stored.Load() != 5 {
		t.Fatalf("final stream holds %d records after 5 sends of 3 calls (%d acknowledged)", info.State.Msgs, stored.Load())
	}
}

// TestOwnershipOneTakerWins: agents taking the same call over at once:
// exactly one succeeds, the others learn they lost.
func TestOwnershipOneTakerWins(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	o, err := c.Owners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := Owner{CallID: "rtc_x", Agent: "dead", Instance: "i0", Term: 1, User: "u", StartedAt: t0, Since: t0}
	rev, err := o.Claim(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	var owned *OwnedError
	if _, err := o.Claim(ctx, rec); !errors.As(err, &owned) || owned.Owner.Instance != "i0" {
		t.Fatalf("second claim: %v", err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rec
			r.Agent, r.Instance, r.Term = fmt.Sprintf("a%d", i), fmt.Sprintf("i%d", i+1), 2
			if _, err := o.Take(ctx, r, rev); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrOwnerChanged) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d agents took the call, want exactly 1", wins.Load())
	}
	have, hrev, err := o.Get(ctx, "rtc_x")
	if err != nil || have.Term != 2 {
		t.Fatalf("record %+v %v", have, err)
	}
	if err := o.Release(ctx, "rtc_x", rev); err != nil { // a stale release leaves it
		t.Fatal(err)
	}
	if _, _, err := o.Get(ctx, "rtc_x"); err != nil {
		t.Fatalf("a release at an old revision deleted the new owner's record: %v", err)
	}
	if err := o.Release(ctx, "rtc_x", hrev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Get(ctx, "rtc_x"); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("after release: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
