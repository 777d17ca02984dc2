package agent

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed/feedtest"
	"github.com/calltop/calltop/natsserver"
)

// sharedWorld is an Agent with only what sharedCounts uses, on an
// embedded NATS.
func sharedWorld(t *testing.T, p policy.Policy) (*Agent, *natsserver.Server) {
	t.Helper()
	srv, cl := feedtest.RunNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	policyFor := func(string) policy.Policy { return p }
	a := &Agent{feed: cl, instance: "run1", log: slog.New(slog.NewTextHandler(io.Discard, nil)), ctx: ctx,
		cfg: Config{PolicyFor: policyFor}, adm: policy.NewAdmission(policyFor)}
	a.counts = newSharedCounts(a)
	return a, srv
}

// TestReconcileHealsLiveCounts: an agent run's live counts in NATS that
// went wrong (a lost decrement, a purge by agents that thought it gone,
// a leftover) are set back to what the run knows.
func TestReconcileHealsLiveCounts(t *testing.T) {
	p := policy.Policy{MaxConcurrent: 5}
	a, _ := sharedWorld(t, p)
	ctx := context.Background()
	s := a.counts
	now := time.Now()
	for _, user := range []string{"ann", "ann", "bob"} {
		if d := a.adm.Decide(user, now, nil); !d.OK {
			t.Fatal(d)
		}
		if d := s.admit(ctx, user, p, now); !d.OK {
			t.Fatal(d)
		}
	}
	k, err := s.counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub := a.feed.Subjects
	// Wrong three ways: ann too high, bob purged then released below
	// zero, a user with no call here left at 2.
	if _, err := k.Add(ctx, sub.CountLive("ann", "run1"), 5, ""); err != nil {
		t.Fatal(err)
	}
	if err := k.Purge(ctx, sub.CountLive("bob", "run1")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Add(ctx, sub.CountLive("carol", "run1"), 2, ""); err != nil {
		t.Fatal(err)
	}
	a.release("bob")
	if !s.flush(ctx) {
		t.Fatal("queue not applied")
	}
	if v, _ := k.Load(ctx, sub.CountLive("bob", "run1")); v != -1 {
		t.Fatalf("bob after a release on a purged count: %d, want -1 (the fault)", v)
	}
	if err := s.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]int64{"ann": 2, "bob": 0, "carol": 0} {
		if v, err := k.Sum(ctx, sub.CountLiveOf(user)); v != want || err != nil {
			t.Errorf("%s: %d live across agents (%v), want %d", user, v, err, want)
		}
	}
}

// TestSharedAdmissionWithoutNATS: with NATS away, admission answers at
// once on the agent's own counts and queues the shared change.
func TestSharedAdmissionWithoutNATS(t *testing.T) {
	p := policy.Policy{MaxConcurrent: 1}
	a, srv := sharedWorld(t, p)
	srv.Shutdown()
	deadline := time.Now().Add(5 * time.Second)
	for a.feed.NC.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if d := a.counts.admit(context.Background(), "ann", p, start); !d.OK {
		t.Fatalf("refused without NATS: %+v", d)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("admission took %s without NATS", took)
	}
	a.counts.mu.Lock()
	queued := len(a.counts.ops)
	a.counts.mu.Unlock()
	if queued != 2 {
		t.Fatalf("%d changes queued, want 2 (live and this minute's starts)", queued)
	}
}

// TestSharedRefusalCountsCalls: a refusal across agents says "1 live
// call" and "2 calls", as a person would.
func TestSharedRefusalCountsCalls(t *testing.T) {
	a, _ := sharedWorld(t, policy.Policy{})
	ctx := context.Background()
	s := a.counts
	now := time.Now()
	for i, tc := range []struct {
		p    policy.Policy
		want string
	}{
		{policy.Policy{MaxConcurrent: 1}, "1 live call across agents, at the limit of 1"},
		{policy.Policy{MaxPerHour: 1}, "1 call in the last hour across agents, at the limit of 1"},
		{policy.Policy{MaxConcurrent: 2}, "2 live calls across agents, at the limit of 2"},
		{policy.Policy{MaxPerHour: 2}, "2 calls in the last hour across agents, at the limit of 2"},
	} {
		if i%2 == 0 { // one more call of ann's, live and started this hour
			if d := s.admit(ctx, "ann", policy.Policy{MaxConcurrent: 9}, now); !d.OK {
				t.Fatal(d)
			}
		}
		if d := s.checkOnly(ctx, "ann", tc.p, now); d.OK || d.Detail != tc.want {
			t.Errorf("%+v: refusal %+v, want %q", tc.p, d, tc.want)
		}
	}
}
