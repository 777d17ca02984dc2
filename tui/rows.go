package tui

import (
	"cmp"
	"slices"

	"github.com/calltop/calltop/feed"
)

// rows is the dashboard's ordered copy of the Board: live calls first,
// newest first, then ended calls, most recently ended first. It is keyed by
// call ID and re-sorted only when a change can move a call (a new call, a
// start time learned late, an end), so a usage update costs a map write.
type rows struct {
	calls map[string]feed.Call
	order []string       // call IDs in display order
	pos   map[string]int // call ID → index in order
	dirty bool           // order needs sorting
}

func newRows() *rows {
	return &rows{calls: make(map[string]feed.Call), pos: make(map[string]int)}
}

// Len is the number of rows.
func (r *rows) Len() int { return len(r.order) }

// At returns the call on row i.
func (r *rows) At(i int) feed.Call { return r.calls[r.order[i]] }

// Index returns the row of a call ID.
func (r *rows) Index(id string) (int, bool) {
	i, ok := r.pos[id]
	return i, ok
}

// Get returns a call by ID.
func (r *rows) Get(id string) (feed.Call, bool) {
	c, ok := r.calls[id]
	return c, ok
}

// Put adds or replaces a call.
func (r *rows) Put(c feed.Call) {
	old, ok := r.calls[c.ID]
	r.calls[c.ID] = c
	if !ok {
		r.order = append(r.order, c.ID)
		r.pos[c.ID] = len(r.order) - 1
		r.dirty = true
		return
	}
	if old.Live() != c.Live() || !old.StartedAt.Equal(c.StartedAt) || !old.EndedAt.Equal(c.EndedAt) {
		r.dirty = true
	}
}

// Delete removes a call.
func (r *rows) Delete(id string) {
	if _, ok := r.calls[id]; !ok {
		return
	}
	delete(r.calls, id)
	r.order = slices.DeleteFunc(r.order, func(x string) bool { return x == id })
	r.dirty = true
}

// Sort puts the rows in display order if anything moved and reports
// whether it did.
func (r *rows) Sort() bool {
	if !r.dirty {
		return false
	}
	slices.SortFunc(r.order, func(a, b string) int { return compareCalls(r.calls[a], r.calls[b]) })
	clear(r.pos)
	for i, id := range r.order {
		r.pos[id] = i
	}
	r.dirty = false
	return true
}

// compareCalls is the display order: live before ended; live calls newest
// first (what just started is what an operator looks for); ended calls most
// recently ended first; the ID breaks ties so the order never flickers.
func compareCalls(a, b feed.Call) int {
	if a.Live() != b.Live() {
		if a.Live() {
			return -1
		}
		return 1
	}
	if a.Live() {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(a.ID, b.ID))
	}
	return cmp.Or(b.EndedAt.Compare(a.EndedAt), b.StartedAt.Compare(a.StartedAt), cmp.Compare(a.ID, b.ID))
}

// cursor is the selection and the scroll position of the table. The
// selection is a call ID, never a row index: when calls arrive, end or go
// away the selected call keeps its highlight wherever it moves. The index
// is only remembered so that, when the selected call is pruned, the
// selection lands on its neighbour instead of jumping to the top.
type cursor struct {
	id  string // selected call, "" when there are no rows
	idx int    // its row
	top int    // first visible row
}

// Sync follows the selected call to its new row after the rows changed.
func (c *cursor) Sync(r *rows) {
	if r.Len() == 0 {
		c.id, c.idx, c.top = "", 0, 0
		return
	}
	if i, ok := r.Index(c.id); ok && c.id != "" {
		c.idx = i
		return
	}
	c.idx = clamp(c.idx, 0, r.Len()-1)
	c.id = r.order[c.idx]
}

// Move moves the selection by delta rows, stopping at either end.
func (c *cursor) Move(r *rows, delta int) {
	if r.Len() == 0 {
		return
	}
	c.idx = clamp(c.idx+delta, 0, r.Len()-1)
	c.id = r.order[c.idx]
}

// Scroll keeps the selected row inside a window of height rows, moving the
// window as little as possible, and never leaves blank rows at the bottom
// while there are rows above.
func (c *cursor) Scroll(n, height int) {
	if height < 1 {
		height = 1
	}
	if c.idx < c.top {
		c.top = c.idx
	}
	if c.idx >= c.top+height {
		c.top = c.idx - height + 1
	}
	c.top = clamp(c.top, 0, max(0, n-height))
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
