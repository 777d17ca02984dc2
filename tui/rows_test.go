package tui

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func liveCall(id string, started time.Duration) feed.Call {
	return feed.Call{ID: id, State: feed.StateLive, StartedAt: t0.Add(started)}
}

func endedCall(id string, started, ended time.Duration) feed.Call {
	c := liveCall(id, started)
	c.State, c.EndedAt = feed.StateEnded, t0.Add(ended)
	c.End = feed.End{Reason: feed.ReasonHangup, EndedAt: c.EndedAt}
	return c
}

func withCost(c feed.Call, usd float64) feed.Call { c.Usage.CostUSD = usd; return c }

var kc0 = keyCtx{now: t0.Add(time.Hour)}

// ids lists the shown rows' call IDs.
func ids(r *rows) []string {
	out := make([]string, r.Len())
	for i := range out {
		out[i] = r.Key(i)
	}
	return out
}

func TestRowsDefaultOrder(t *testing.T) {
	r := newRows()
	r.SetSort(sortSpec{by: sortAge}, kc0)
	r.Put(liveCall("old", 0), kc0)
	r.Put(endedCall("ended-early", -5*time.Minute, time.Minute), kc0)
	r.Put(liveCall("new", 2*time.Minute), kc0)
	r.Put(endedCall("ended-late", -4*time.Minute, 3*time.Minute), kc0)
	r.Put(liveCall("mid-b", time.Minute), kc0)
	r.Put(liveCall("mid-a", time.Minute), kc0) // same start: the ID decides
	r.Resort()
	want := []string{"new", "mid-a", "mid-b", "old", "ended-late", "ended-early"}
	if got := ids(r); !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	for i, id := range want {
		if got, _ := r.Index(id); got != i {
			t.Errorf("Index(%s) = %d, want %d", id, got, i)
		}
	}
	// A usage update moves nothing under the age sort: no resort at all.
	r.Put(withCost(liveCall("old", 0), 1), kc0)
	if r.Resort() {
		t.Error("a usage update re-sorted an age-sorted table")
	}
	// An end moves the call below the live ones.
	r.Put(endedCall("new", 2*time.Minute, 4*time.Minute), kc0)
	if !r.Resort() || r.Key(3) != "new" {
		t.Errorf("after new ended: %v", ids(r))
	}
	r.Delete("mid-a")
	r.Resort()
	if _, ok := r.Index("mid-a"); ok || r.Len() != 5 {
		t.Errorf("after delete: %v", ids(r))
	}
}

func TestRowsSortsAndReverse(t *testing.T) {
	calls := []feed.Call{
		withCost(liveCall("a", 0), 3),
		withCost(liveCall("b", time.Minute), 1),
		withCost(liveCall("c", 2*time.Minute), 2),
		withCost(endedCall("d", 0, time.Minute), 9), // ended: below every live call whatever its cost
	}
	calls[0].User, calls[1].User, calls[2].User, calls[3].User = "zoe", "Adam", "mia", "bob"
	calls[0].Usage.Tokens.Total, calls[1].Usage.Tokens.Total, calls[2].Usage.Tokens.Total = 10, 30, 20
	calls[1].Flags = []feed.Flag{{Kind: feed.FlagBurnRate}}
	for _, tc := range []struct {
		s    sortSpec
		want []string
	}{
		{sortSpec{by: sortCost, desc: true}, []string{"a", "c", "b", "d"}},
		{sortSpec{by: sortCost}, []string{"b", "c", "a", "d"}},
		{sortSpec{by: sortTokens, desc: true}, []string{"b", "c", "a", "d"}},
		{sortSpec{by: sortUser}, []string{"b", "c", "a", "d"}}, // case-insensitive: Adam, mia, zoe
		{sortSpec{by: sortUser, desc: true}, []string{"a", "c", "b", "d"}},
		{sortSpec{by: sortState}, []string{"b", "c", "a", "d"}}, // flagged first, then newest
		{sortSpec{by: sortAge}, []string{"c", "b", "a", "d"}},
		{sortSpec{by: sortAge, desc: true}, []string{"a", "b", "c", "d"}},
		// $/min at kc0 (an hour in): a 3$/60m, b 1$/59m, c 2$/58m.
		{sortSpec{by: sortRate, desc: true}, []string{"a", "c", "b", "d"}},
	} {
		r := newRows()
		for _, c := range calls {
			r.Put(c, kc0)
		}
		r.SetSort(tc.s, kc0)
		r.Resort()
		if got := ids(r); !slices.Equal(got, tc.want) {
			t.Errorf("%s desc=%v: %v, want %v", tc.s.by.name(), tc.s.desc, got, tc.want)
		}
	}
}

func TestSortPicksDirectionAndReverses(t *testing.T) {
	for by, desc := range map[sortBy]bool{sortCost: true, sortRate: true, sortTokens: true, sortAge: false, sortUser: false, sortState: false} {
		if defaultDesc(by) != desc {
			t.Errorf("%s starts desc=%v", by.name(), defaultDesc(by))
		}
	}
	m := New(nil, Options{Now: newClock().Now})
	m.setSort(sortCost)
	if m.rows.sort != (sortSpec{by: sortCost, desc: true}) {
		t.Fatalf("C: %+v", m.rows.sort)
	}
	m.setSort(sortCost)
	if m.rows.sort != (sortSpec{by: sortCost, desc: false}) {
		t.Fatalf("C again: %+v", m.rows.sort)
	}
	m.setSort(sortUser)
	if m.rows.sort != (sortSpec{by: sortUser, desc: false}) {
		t.Fatalf("U: %+v", m.rows.sort)
	}
}

// TestIncrementalSortMatchesFullSort churns a cost-sorted, filtered table
// the way a live feed does (usage on random calls, arrivals, ends,
// departures) and checks after every batch that the merge path gives
// exactly what a full sort gives.
func TestIncrementalSortMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRows()
	r.SetSort(sortSpec{by: sortCost, desc: true}, kc0)
	f, err := parseFilter("!u7")
	if err != nil {
		t.Fatal(err)
	}
	r.SetFilter(f)
	live := map[string]feed.Call{}
	next := 0
	add := func() {
		c := withCost(liveCall(fmt.Sprintf("c%04d", next), time.Duration(next)*time.Second), float64(rng.IntN(50))/10)
		c.User = fmt.Sprintf("u%d", rng.IntN(10))
		next++
		live[c.ID] = c
		r.Put(c, kc0)
	}
	for range 500 {
		add()
	}
	r.Resort()
	for batch := range 200 {
		for range 1 + rng.IntN(40) {
			switch p := rng.IntN(100); {
			case p < 80 && len(live) > 0: // usage on a random live call
				id := pick(rng, live)
				c := live[id]
				c.Usage.CostUSD += float64(rng.IntN(5)) / 10
				live[id] = c
				r.Put(c, kc0)
			case p < 90:
				add()
			case p < 95 && len(live) > 0:
				id := pick(rng, live)
				c := live[id]
				c.State, c.EndedAt = feed.StateEnded, t0.Add(time.Duration(batch)*time.Second)
				delete(live, id)
				r.Put(c, kc0)
			default:
				if id := pick(rng, live); id != "" {
					delete(live, id)
					r.Delete(id)
				}
			}
		}
		r.Resort()
		want := slices.Clone(r.order)
		slices.SortFunc(want, func(a, b *row) int { return compareRows(a, b, r.sort) })
		if !slices.Equal(r.order, want) {
			t.Fatalf("batch %d: incremental order differs from a full sort", batch)
		}
		for i, x := range r.shown {
			if j, ok := r.Index(x.call.ID); !ok || j != i || !x.match || x.removed {
				t.Fatalf("batch %d: shown row %d = %+v", batch, i, x.call.ID)
			}
		}
	}
}

func pick(rng *rand.Rand, m map[string]feed.Call) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[rng.IntN(len(keys))]
}

// TestSelectionStableUnderChurn is the k9s fault the table exists to fix:
// while rows re-sort, arrive and leave, the selection stays on its call
// and on screen, and when the call leaves, on its neighbour.
func TestSelectionStableUnderChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := newRows()
	r.SetSort(sortSpec{by: sortCost, desc: true}, kc0)
	calls := map[string]feed.Call{}
	for i := range 300 {
		c := withCost(liveCall(fmt.Sprintf("c%03d", i), time.Duration(i)*time.Second), rng.Float64())
		calls[c.ID] = c
		r.Put(c, kc0)
	}
	r.Resort()
	const height = 20
	var cur cursor
	cur.Sync(r, height)
	cur.Move(r, 57)
	cur.Scroll(r.Len(), height)
	chosen := cur.id
	line := cur.idx - cur.top
	for batch := range 300 {
		for range 30 {
			id := pick(rng, calls)
			if id == chosen && batch < 250 {
				continue // the selected call leaves only at the end
			}
			c := calls[id]
			c.Usage.CostUSD += rng.Float64()
			calls[id] = c
			r.Put(c, kc0)
		}
		if batch == 250 {
			r.Delete(chosen)
			delete(calls, chosen)
		}
		r.Resort()
		before := cur.idx
		cur.Sync(r, height)
		if batch < 250 {
			if cur.id != chosen {
				t.Fatalf("batch %d: selection moved to %s, want %s", batch, cur.id, chosen)
			}
			if got, _ := r.Index(chosen); got != cur.idx {
				t.Fatalf("batch %d: cursor row %d, call on row %d", batch, cur.idx, got)
			}
			if cur.idx < cur.top || cur.idx >= cur.top+height {
				t.Fatalf("batch %d: selected row %d outside the window at %d", batch, cur.idx, cur.top)
			}
			// It keeps its screen line unless the list's ends force a scroll.
			if want := clamp(line, cur.idx-max(0, r.Len()-height), cur.idx); cur.idx-cur.top != want {
				t.Fatalf("batch %d: selected row on screen line %d, want %d", batch, cur.idx-cur.top, want)
			}
		} else if batch == 250 {
			if cur.id == chosen || cur.idx != min(before, r.Len()-1) {
				t.Fatalf("after the selected call left: %+v (was row %d)", cur, before)
			}
		}
	}
}

func TestCursorBasics(t *testing.T) {
	r := newRows()
	r.SetSort(sortSpec{by: sortAge}, kc0)
	for i := range 50 {
		r.Put(liveCall(fmt.Sprintf("c%02d", i), time.Duration(i)*time.Second), kc0)
	}
	r.Resort()
	var c cursor
	const h = 10
	c.Sync(r, h)
	if c.id != "c49" || c.idx != 0 || c.top != 0 {
		t.Fatalf("first selection = %+v, want the top row", c)
	}
	c.Move(r, 9)
	c.Scroll(r.Len(), h)
	if c.top != 0 {
		t.Errorf("last visible row scrolled: top = %d", c.top)
	}
	c.Move(r, 1)
	c.Scroll(r.Len(), h)
	if c.top != 1 {
		t.Errorf("one below the window: top = %d, want 1", c.top)
	}
	c.Move(r, 100)
	c.Scroll(r.Len(), h)
	if c.top != 40 || c.idx != 49 {
		t.Errorf("at the end: %+v, want top 40", c)
	}
	c.Move(r, -100)
	if c.idx != 0 || c.id != "c49" {
		t.Errorf("move past the top = %+v", c)
	}
	// No rows, no selection; moving does not panic.
	for i := range 50 {
		r.Delete(fmt.Sprintf("c%02d", i))
	}
	r.Resort()
	c.Sync(r, h)
	if c != (cursor{}) {
		t.Errorf("empty table cursor = %+v", c)
	}
	c.Move(r, 1)
}

func TestFilter(t *testing.T) {
	c := feed.Call{ID: "rtc_u1_ABC", User: "Alice@Acme.io", Model: "gpt-realtime-mini", Agent: "api-7",
		State: feed.StateLive, Flags: []feed.Flag{{Kind: feed.FlagBurnRate}}}
	hay := haystack(&c)
	for _, tc := range []struct {
		f    string
		want bool
	}{
		{"", true},
		{"alice", true},
		{"ACME", true},
		{"mini", true},
		{"burn_rate", true},
		{"api-7", true},
		{"live", true},
		{"bob", false},
		{"!bob", true},
		{"!alice", false},
		{"re:^rtc_u1_", true},
		{"re:^abc", false}, // anchored per field: the ID starts with rtc_
		{"re:acme\\.io$", true},
		{"~mini$", true},
		{"!re:mini$", false},
		{"  alice  ", true},
	} {
		f, err := parseFilter(tc.f)
		if err != nil {
			t.Errorf("%q: %v", tc.f, err)
			continue
		}
		if got := f.matches(hay, feed.APIRealtime); got != tc.want {
			t.Errorf("%q matches = %v, want %v", tc.f, got, tc.want)
		}
	}
	if _, err := parseFilter("re:(unclosed"); err == nil {
		t.Error("a bad regexp parsed")
	}
	if f, _ := parseFilter("!"); f.active() {
		t.Error(`"!" alone is a filter`)
	}
}

func TestHistoryKeepsNewestEndings(t *testing.T) {
	h := newHistory(3)
	for i, end := range []int{5, 1, 9, 3, 7} {
		h.add(endedCall(fmt.Sprintf("c%d", i), 0, time.Duration(end)*time.Minute))
	}
	h.add(liveCall("live", 0)) // ignored
	var got []string
	for _, c := range h.calls {
		got = append(got, c.ID)
	}
	if want := []string{"c2", "c4", "c0"}; !slices.Equal(got, want) {
		t.Fatalf("history = %v, want %v (newest endings first)", got, want)
	}
	h.add(withCost(endedCall("c4", 0, 7*time.Minute), 5)) // an update replaces
	if c, _ := h.get("c4"); c.Usage.CostUSD != 5 || h.Len() != 3 {
		t.Errorf("after update: %+v, len %d", c, h.Len())
	}
	if i, ok := h.Index("c0"); !ok || i != 2 {
		t.Errorf("Index(c0) = %d, %v", i, ok)
	}
}
