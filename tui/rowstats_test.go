package tui

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

// randomCall is a call with the times the stats and the order read set
// at random, ties and the odd edge included: unset, equal, far outside
// UnixNano's range.
func randomCall(rng *rand.Rand, i int) feed.Call {
	at := func() time.Time {
		switch rng.IntN(12) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(1200+rng.IntN(300), 1, 1, 0, 0, 0, 0, time.UTC) // before 1678
		case 2:
			return time.Date(2300+rng.IntN(300), 1, 1, 0, 0, 0, 0, time.UTC) // after 2262
		case 3, 4:
			return t0 // ties
		}
		return t0.Add(time.Duration(rng.Int64N(int64(4*time.Hour))) - 2*time.Hour)
	}
	c := feed.Call{ID: fmt.Sprintf("c%05d", i), User: fmt.Sprintf("u%d", rng.IntN(5)), Agent: fmt.Sprintf("a%d", rng.IntN(3)),
		State: feed.StateLive, StartedAt: at(), ExpiresAt: at()}
	c.Usage.CostUSD = float64(rng.IntN(400)) / 100
	c.Usage.Seconds = float64(rng.IntN(100))
	c.Usage.CostUnknown = rng.IntN(20) == 0
	switch rng.IntN(6) {
	case 0:
		c.State, c.EndedAt = feed.StateEnded, at()
		c.End = feed.End{Reason: feed.ReasonHangup, EndedAt: c.EndedAt}
	case 1:
		c.State = feed.StateDetached
	}
	return c
}

// TestRowStatsMatchTheCalls checks the dense stats against the calls they
// summarise: the header's totals against feed.Call.PerMinute and friends,
// to the bit, and the widths against the rows'.
func TestRowStatsMatchTheCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := newRows()
	r.SetSort(sortSpec{by: sortCost, desc: true}, kc0)
	var calls []feed.Call
	for i := range 400 {
		c := randomCall(rng, i)
		calls = append(calls, c)
		r.Put(c, kc0)
	}
	for _, id := range []string{"c00007", "c00100", "c00399"} {
		r.Delete(id)
		calls = slices.DeleteFunc(calls, func(c feed.Call) bool { return c.ID == id })
	}
	r.Resort()
	for _, now := range []time.Time{t0.Add(time.Hour), t0.Add(-3 * time.Hour), {}, time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)} {
		gone := make([]bool, len(r.agentNames))
		for i, name := range r.agentNames {
			gone[i] = name == "a1"
		}
		var want totals
		for i := range calls {
			c := &calls[i]
			want.cost += c.Usage.CostUSD
			want.costUnknown = want.costUnknown || c.Usage.CostUnknown
			if !c.Live() {
				want.ended++
				continue
			}
			want.live++
			want.perMin += c.PerMinute(now)
			if c.Agent == "a1" {
				want.goneCalls++
			}
			if c.State == feed.StateDetached {
				want.detached++
			}
		}
		got := r.totals(now, gone)
		// The sums run in another order: compare them to the last bits.
		if d := got.perMin - want.perMin; d > 1e-9 || d < -1e-9 || got.cost-want.cost > 1e-9 || want.cost-got.cost > 1e-9 {
			t.Errorf("now %v: totals %+v, want %+v", now, got, want)
		}
		got.perMin, got.cost = want.perMin, want.cost
		if got != want {
			t.Errorf("now %v: totals %+v, want %+v", now, got, want)
		}
	}
	// Each live call's $/min, not just the sum, is feed's to the bit.
	for i := range r.stats {
		s := &r.stats[i]
		if s.bits&statLive == 0 || s.bits&statSlow != 0 {
			continue
		}
		c := &r.slots[i].call
		now := t0.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		if got, want := s.perMinute(now.UnixNano()), c.PerMinute(now); got != want {
			t.Errorf("%s at %v: $/min %v, feed says %v", c.ID, now, got, want)
		}
	}
	var want contentWidths = contentWidths{}
	for _, x := range r.order {
		want[colCall] = max(want[colCall], len(x.call.ID))
		want[colUser] = max(want[colUser], x.wUser)
		want[colModel] = max(want[colModel], x.wModel)
		want[colAgent] = max(want[colAgent], x.wAgent)
		want[colNotes] = max(want[colNotes], x.wNotes)
		want[colState] = max(want[colState], len("live"))
		if !x.live {
			want[colState] = max(want[colState], stateWidth(&x.call))
		}
	}
	if got := r.widths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("widths %v, want %v", got, want)
	}
}

// TestEndedByIsTheBoardsTest checks that the table lets go of exactly the
// ended calls feed.Board.Prune drops, at any clock.
func TestEndedByIsTheBoardsTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, now := range []time.Time{t0, t0.Add(90 * time.Minute), time.Date(1100, 1, 1, 0, 0, 0, 0, time.UTC)} {
		r := newRows()
		b := feed.NewBoard(DefaultRetain)
		for i := range 300 {
			c := randomCall(rng, i)
			r.Put(c, kc0)
			e := feed.Event{V: feed.Version, Kind: feed.KindStarted, CallID: c.ID, Seq: 1, At: t0,
				Start: &feed.Start{StartedAt: t0}}
			b.Apply(e)
			if !c.Live() {
				b.Apply(feed.Event{V: feed.Version, Kind: feed.KindEnded, CallID: c.ID, Seq: 2, At: t0,
					End: &feed.End{Reason: feed.ReasonHangup, EndedAt: c.EndedAt}})
			}
		}
		r.Resort()
		got := r.endedBy(now, DefaultRetain)
		slices.Sort(got)
		b.Prune(now)
		var want []string
		for _, x := range r.order {
			if _, ok := b.Get(x.call.ID); !ok && !x.live {
				want = append(want, x.call.ID)
			}
		}
		slices.Sort(want)
		if len(want) == 0 {
			t.Fatalf("now %v: the Board dropped nothing: the test tests nothing", now)
		}
		if !slices.Equal(got, want) {
			t.Errorf("now %v: the table lets go of %v, the Board dropped %v", now, got, want)
		}
	}
}

// TestEntriesOrderLikeRows checks compareEnts against compareRows, the
// order of record, on every sort and on ties of every kind.
func TestEntriesOrderLikeRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	r := newRows()
	for i := range 200 {
		c := randomCall(rng, i)
		if i%3 == 0 {
			c.Usage.CostUSD = 1 // ties on the key
		}
		r.Put(c, kc0)
	}
	for _, s := range []sortSpec{{by: sortCost, desc: true}, {by: sortCost}, {by: sortAge}, {by: sortAge, desc: true},
		{by: sortUser}, {by: sortState}, {by: sortRate, desc: true}, {by: sortTokens}} {
		r.SetSort(s, kc0)
		for range 2000 {
			a, b := r.order[rng.IntN(len(r.order))], r.order[rng.IntN(len(r.order))]
			ea, eb := entOf(a), entOf(b)
			if got, want := sign(compareEnts(&ea, &eb, s)), sign(compareRows(a, b, s)); got != want {
				t.Fatalf("%s desc=%v: %s vs %s: entries %d, rows %d", s.by.name(), s.desc, a.call.ID, b.call.ID, got, want)
			}
		}
	}
}

func sign(n int) int { return min(1, max(-1, n)) }
