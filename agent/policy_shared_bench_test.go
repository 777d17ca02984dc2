package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed/feedtest"
)

// BenchmarkAdmission is the time one admission decision takes with
// max_concurrent and max_per_hour set: local is the agent's own counts
// (policy.Admission, memory only); shared adds what makes the limits hold
// across agents (two counter increments and two batch reads on an
// embedded NATS over loopback). Sub-benchmarks alternate in rounds, so
// both see the same machine: run with -count to get a range.
//
//	go test -run '^$' -bench BenchmarkAdmission -count 3 ./agent
func BenchmarkAdmission(b *testing.B) {
	_, cl := feedtest.RunNATS(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &Agent{feed: cl, instance: "bench", log: slog.New(slog.NewTextHandler(io.Discard, nil)), ctx: ctx}
	s := newSharedCounts(a)
	p := policy.Policy{MaxConcurrent: 1 << 30, MaxPerHour: 1 << 30}
	adm := policy.NewAdmission(func(string) policy.Policy { return p })
	now := time.Now()
	if d := s.admit(ctx, "warm-up", p, now); !d.OK {
		b.Fatal(d)
	}
	// 1000 users, so each one's starts in the last hour stay few, as in
	// a real install (the local Admission keeps each start for an hour).
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("user%d@example.com", i)
	}
	b.Run("local", func(b *testing.B) {
		i := 0
		for b.Loop() {
			u := users[i%len(users)]
			i++
			if d := adm.Decide(u, now, nil); !d.OK {
				b.Fatal(d)
			}
			adm.Release(u)
		}
	})
	b.Run("shared", func(b *testing.B) {
		i := 0
		for b.Loop() {
			u := users[i%len(users)]
			i++
			if d := adm.Decide(u, now, nil); !d.OK {
				b.Fatal(d)
			}
			if d := s.admit(ctx, u, p, now); !d.OK {
				b.Fatal(d)
			}
			adm.Release(u)
		}
	})
}
