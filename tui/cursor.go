package tui

// list is what a cursor moves over: rows addressed by a stable key (a call
// ID, a user, an agent name).
type list interface {
	Len() int
	Key(i int) string
	Index(key string) (int, bool)
}

// cursor is the selection and scroll position of a list. The selection is
// a key, never a row index: when rows arrive, re-sort or leave, the
// selected call keeps its highlight wherever it moves, so a hang-up always
// hits the call the operator looked at. The index is kept so that, when
// the selected row leaves, the selection lands on its neighbour instead of
// jumping to the top.
//
// While the data moves under a still operator, the selected row also
// keeps its line on the screen (off): the other rows flow around it rather
// than the highlight jumping about.
type cursor struct {
	id  string // selected key, "" when there are no rows
	idx int    // its row
	top int    // first visible row
	off int    // idx - top as the operator last left it
}

// Sync follows the selected key to its new row after the rows changed and
// scrolls so that it stays on the same screen line.
func (c *cursor) Sync(l list, height int) {
	n := l.Len()
	if n == 0 {
		*c = cursor{}
		return
	}
	if i, ok := l.Index(c.id); ok && c.id != "" {
		c.idx = i
	} else {
		c.idx = clamp(c.idx, 0, n-1)
		c.id = l.Key(c.idx)
	}
	off := c.off
	c.top = c.idx - off
	c.Scroll(n, height)
	c.off = off // the operator's choice of line, kept through clamps at the ends
}

// Move moves the selection by delta rows, stopping at either end.
func (c *cursor) Move(l list, delta int) {
	if l.Len() == 0 {
		return
	}
	c.idx = clamp(c.idx+delta, 0, l.Len()-1)
	c.id = l.Key(c.idx)
}

// Select puts the selection on a key if the list has it.
func (c *cursor) Select(l list, id string) bool {
	i, ok := l.Index(id)
	if ok {
		c.id, c.idx = id, i
	}
	return ok
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
	c.off = c.idx - c.top
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
