package tui

import (
	"fmt"
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

func TestRowsOrder(t *testing.T) {
	r := newRows()
	r.Put(liveCall("old", 0))
	r.Put(endedCall("ended-early", -5*time.Minute, time.Minute))
	r.Put(liveCall("new", 2*time.Minute))
	r.Put(endedCall("ended-late", -4*time.Minute, 3*time.Minute))
	r.Put(liveCall("mid-b", time.Minute))
	r.Put(liveCall("mid-a", time.Minute)) // same start: the ID decides
	r.Sort()
	want := []string{"new", "mid-a", "mid-b", "old", "ended-late", "ended-early"}
	if !slices.Equal(r.order, want) {
		t.Fatalf("order = %v, want %v", r.order, want)
	}
	for i, id := range want {
		if got, _ := r.Index(id); got != i {
			t.Errorf("Index(%s) = %d, want %d", id, got, i)
		}
	}

	// A usage update moves nothing and needs no sort.
	c := r.calls["old"]
	c.Usage.CostUSD = 1
	r.Put(c)
	if r.Sort() {
		t.Error("a usage update re-sorted the rows")
	}
	// An end moves the call below the live ones.
	r.Put(endedCall("new", 2*time.Minute, 4*time.Minute))
	if !r.Sort() || r.order[3] != "new" {
		t.Errorf("after new ended: %v", r.order)
	}
	r.Delete("mid-a")
	r.Sort()
	if _, ok := r.Index("mid-a"); ok || r.Len() != 5 {
		t.Errorf("after delete: %v", r.order)
	}
}

func TestCursorFollowsItsCall(t *testing.T) {
	r := newRows()
	r.Put(liveCall("a", 0))
	r.Put(liveCall("b", time.Minute))
	r.Sort()
	var c cursor
	c.Sync(r)
	if c.id != "b" || c.idx != 0 {
		t.Fatalf("first selection = %+v, want the top row b", c)
	}
	c.Move(r, 1)
	if c.id != "a" {
		t.Fatalf("after down = %+v", c)
	}

	// Newer calls sort above a: the selection moves with a.
	r.Put(liveCall("c", 2*time.Minute))
	r.Put(liveCall("d", 3*time.Minute))
	r.Sort()
	c.Sync(r)
	if c.id != "a" || c.idx != 3 {
		t.Fatalf("after two newer calls = %+v, want a on row 3", c)
	}

	// a ends and moves below the live calls: still selected.
	r.Put(endedCall("a", 0, 4*time.Minute))
	r.Sort()
	c.Sync(r)
	if c.id != "a" || c.idx != 3 {
		t.Fatalf("after a ended = %+v", c)
	}

	// The selected call is pruned: the selection lands on the row that
	// took its place.
	c.Move(r, -1) // b, row 2
	r.Delete("b")
	r.Sort()
	c.Sync(r)
	if c.id != "a" || c.idx != 2 {
		t.Fatalf("after b pruned = %+v, want a (its neighbour) on row 2", c)
	}

	// Moves stop at both ends.
	c.Move(r, -100)
	if c.idx != 0 || c.id != r.order[0] {
		t.Errorf("move past the top = %+v", c)
	}
	c.Move(r, 100)
	if c.idx != r.Len()-1 || c.id != r.order[r.Len()-1] {
		t.Errorf("move past the end = %+v", c)
	}

	// No rows, no selection.
	for _, id := range slices.Clone(r.order) {
		r.Delete(id)
	}
	r.Sort()
	c.Sync(r)
	if c != (cursor{}) {
		t.Errorf("empty table cursor = %+v", c)
	}
	c.Move(r, 1) // must not panic
}

func TestCursorScroll(t *testing.T) {
	r := newRows()
	for i := range 50 {
		r.Put(liveCall(fmt.Sprintf("c%02d", i), time.Duration(i)*time.Second))
	}
	r.Sort()
	var c cursor
	c.Sync(r)
	const h = 10
	c.Scroll(r.Len(), h)
	if c.top != 0 {
		t.Fatalf("top = %d", c.top)
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
	c.Move(r, -45)
	c.Scroll(r.Len(), h)
	if c.top != 4 || c.idx != 4 {
		t.Errorf("back up: %+v, want top 4", c)
	}
	// The window never shows blank rows while rows are hidden above.
	c.top = 45
	c.Scroll(r.Len(), h)
	if c.top != 4 {
		t.Errorf("top = %d", c.top)
	}
}
