package tui

import (
	"math"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRingSpreadAndSum(t *testing.T) {
	r := newRing(time.Minute)
	now := t0.Add(90 * time.Minute)
	// $6 over the last 6 minutes: $1 a minute.
	r.spread(now.Add(-6*time.Minute), now, 6)
	if got := r.sum(now, 5); !near(got, 5) {
		t.Errorf("last 5 buckets = %v, want 5", got)
	}
	if got := r.sum(now, 60); !near(got, 6) {
		t.Errorf("last 60 buckets = %v, want 6", got)
	}
	// A spread longer than the window keeps only what falls inside it.
	r2 := newRing(time.Minute)
	r2.spread(now.Add(-120*time.Minute), now, 120)
	if got := r2.sum(now, 60); !near(got, 60) {
		t.Errorf("2 h spread, last hour = %v, want 60", got)
	}
	// Half a minute on, the window holds half of the oldest minute.
	if got := r.sum(now.Add(30*time.Second), 5); !near(got, 4.5) {
		t.Errorf("5 minutes, 30 s later = %v, want 4.5", got)
	}
	// Buckets are reused after the window: two hours later, nothing is left.
	if got := r.sum(now.Add(2*time.Hour), 60); got != 0 {
		t.Errorf("an hour later = %v", got)
	}
	r.add(now.Add(2*time.Hour), 2)
	if got := r.sum(now.Add(2*time.Hour), 60); !near(got, 2) {
		t.Errorf("after reuse = %v", got)
	}
}

func TestMeter(t *testing.T) {
	m := newMeter()
	now := t0.Add(time.Hour)
	c := feed.Call{ID: "a", User: "u", State: feed.StateLive, StartedAt: now.Add(-10 * time.Minute),
		Usage: feed.Usage{CostUSD: 10, Tokens: feed.Tokens{Total: 6000}}}
	m.observe(&feed.Call{}, false, &c, now) // first seen: spread over its 10 minutes
	if s5, s60 := m.userSpend("u", now); !near(s5, 5) || !near(s60, 10) {
		t.Errorf("spend = %v, %v; want 5, 10", s5, s60)
	}
	old := c
	c.Usage.CostUSD, c.Usage.Tokens.Total = 12, 6500
	m.observe(&old, true, &c, now) // +$2 now
	if s5, _ := m.userSpend("u", now); !near(s5, 7) {
		t.Errorf("after +$2: 5 min = %v", s5)
	}
	// 6000 tokens over 600 s = 10/s spread, +500 now; over 10 s: (100+500)/10.
	m.since = now.Add(-time.Minute)
	if got := m.tokensPerSecond(now); !near(got, 60) {
		t.Errorf("tokens/s = %v, want 60", got)
	}
	// Unknown costs are not spend.
	u := feed.Call{ID: "b", User: "v", State: feed.StateLive, StartedAt: now, Usage: feed.Usage{CostUSD: 3, CostUnknown: true}}
	m.observe(&feed.Call{}, false, &u, now)
	if s5, _ := m.userSpend("v", now); s5 != 0 {
		t.Errorf("unknown cost counted: %v", s5)
	}
	m.forget(now.Add(2*time.Hour), func(string) bool { return false })
	if len(m.users) != 0 {
		t.Errorf("idle users kept: %v", len(m.users))
	}
}

func TestSparkline(t *testing.T) {
	m := newMeter()
	now := t0
	for i, v := range []float64{1, 2, 4, 8} {
		m.sample(now.Add(time.Duration(i)*sparkBucket), v)
	}
	got := sparkline(m.sparkValues(now.Add(3*sparkBucket), 6))
	if got != "  ▁▂▄█" {
		t.Errorf("sparkline = %q", got)
	}
	if got := sparkline([]float64{0, 0}); got != "▁▁" {
		t.Errorf("flat zero = %q", got)
	}
}
