package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/calltop/calltop/feed"
)

// TestStatsCountWhatGrew: usage events carry cumulative totals; each is
// counted once, an adopted call from its takeover on, and a total that
// went down (it cannot, but a bad event might say so) subtracts nothing.
func TestStatsCountWhatGrew(t *testing.T) {
	var s stats
	a, b := &call{}, &call{}
	u := func(in, out int64, usd float64) *feed.Usage {
		return &feed.Usage{Tokens: feed.Tokens{Input: in, Output: out}, CostUSD: usd}
	}
	s.usage(a, "m", u(100, 10, 0.5))
	s.usage(a, "m", u(100, 10, 0.5)) // the same totals again (re-announced)
	s.usage(a, "m", u(150, 30, 0.75))
	s.usage(a, "m", u(120, 30, 0.75)) // lower: nothing
	s.adopted(b, *u(1000, 100, 2))
	s.ended(b, feed.ReasonPolicy, "m", u(1010, 105, 2.25))
	s.forget(a)
	s.forget(b)
	m := s.models["m"].stats()
	if m.InputTokens != 150+10 || m.OutputTokens != 30+5 || m.CostUSD != 0.75+0.25 {
		t.Fatalf("counted %+v", m)
	}
	if s.adoptions != 1 || s.ends[feed.ReasonPolicy] != 1 || len(s.counted) != 0 {
		t.Fatalf("adoptions %d, ends %v, still counted %d", s.adoptions, s.ends, len(s.counted))
	}
}

// TestStatsCostInMicros: costs add up in whole micro-dollars, so the
// stats reply (and /metrics) says 0.3, not 0.30000000000000004, and a
// call's sub-micro-dollar tail is rounded once, not summed.
func TestStatsCostInMicros(t *testing.T) {
	var s stats
	a, b, c := &call{}, &call{}, &call{}
	s.usage(a, "m", &feed.Usage{CostUSD: 0.1})
	s.usage(b, "m", &feed.Usage{CostUSD: 0.2})
	for _, usd := range []float64{0.0000004, 0.0000008, 0.0000012} { // one call's growing total
		s.usage(c, "m", &feed.Usage{CostUSD: usd})
	}
	got := s.models["m"].stats().CostUSD
	if want := 0.300001; got != want {
		t.Errorf("cost %v, want %v", got, want)
	}
	st := Stats{Models: map[string]ModelStats{"m": s.models["m"].stats()}}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"cost_usd":0.300001}`)) {
		t.Errorf("stats JSON: %s", data)
	}
}

// TestStatsCapLabels: past maxLabels distinct models or reasons, new
// ones count as "other"; known ones keep counting as themselves.
func TestStatsCapLabels(t *testing.T) {
	var s stats
	c := &call{}
	for i := range maxLabels + 10 {
		s.usage(c, fmt.Sprintf("model-%d", i), &feed.Usage{Tokens: feed.Tokens{Input: int64(i + 1)}})
		s.refused(fmt.Sprintf("reason-%d", i))
	}
	s.refused("reason-0")
	if len(s.models) != maxLabels+1 || len(s.refusals) != maxLabels+1 || s.refusals[otherLabel] != 10 || s.refusals["reason-0"] != 2 {
		t.Fatalf("%d models, %d refusal reasons, other %d", len(s.models), len(s.refusals), s.refusals[otherLabel])
	}
}

// TestStatsHangupBuckets: observations land in the first bucket whose
// bound is at least them; Stats makes the buckets cumulative.
func TestStatsHangupBuckets(t *testing.T) {
	var s stats
	for _, d := range []float64{0.01, 0.05, 0.3, 100} {
		s.observeHangup(d)
	}
	h := s.histogramLocked()
	want := []uint64{2, 2, 2, 3, 3, 3, 3, 3, 3, 3}
	for i := range want {
		if h.Buckets[i] != want[i] {
			t.Fatalf("buckets %v, want %v", h.Buckets, want)
		}
	}
	if h.Count != 4 || math.Abs(h.Sum-100.36) > 1e-9 {
		t.Fatalf("count %d, sum %v", h.Count, h.Sum)
	}
}

// BenchmarkStatsUsage is the hook on every usage event: all goroutines
// (GOMAXPROCS) count usage of 1,000 calls at once, the way sideband
// readers do, so the shared lock's contention is in the number.
func BenchmarkStatsUsage(b *testing.B) {
	var s stats
	calls := make([]*call, 1000)
	for i := range calls {
		calls[i] = &call{}
	}
	b.RunParallel(func(pb *testing.PB) {
		i, n := 0, int64(0)
		for pb.Next() {
			n++
			s.usage(calls[i%len(calls)], "gpt-realtime", &feed.Usage{Tokens: feed.Tokens{Input: n, Output: n}, CostUSD: float64(n)})
			i++
		}
	})
}
