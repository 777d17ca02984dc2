package tui

import (
	"slices"

	"github.com/calltop/calltop/feed"
)

// DefaultHistory is how many ended calls the History view keeps.
const DefaultHistory = 1000

// history is the recently ended calls, most recently ended first, kept
// apart from the Board so they outlive the table's short retention. It is
// bounded: the oldest endings fall off.
type history struct {
	calls []feed.Call
	ids   map[string]bool
	max   int
}

func newHistory(n int) *history {
	return &history{ids: make(map[string]bool), max: max(1, n)}
}

// add records an ended call once; a call already kept is replaced (its
// final usage may have been refined).
func (h *history) add(c feed.Call) {
	if c.Live() {
		return
	}
	if h.ids[c.ID] {
		for i := range h.calls {
			if h.calls[i].ID == c.ID {
				h.calls[i] = c
				return
			}
		}
	}
	i, _ := slices.BinarySearchFunc(h.calls, c, func(a, b feed.Call) int { return b.EndedAt.Compare(a.EndedAt) })
	if i >= h.max {
		return // older than everything kept
	}
	h.calls = slices.Insert(h.calls, i, c)
	h.ids[c.ID] = true
	if len(h.calls) > h.max {
		delete(h.ids, h.calls[len(h.calls)-1].ID)
		h.calls[len(h.calls)-1] = feed.Call{}
		h.calls = h.calls[:len(h.calls)-1]
	}
}

// get returns a kept call by ID.
func (h *history) get(id string) (feed.Call, bool) {
	if !h.ids[id] {
		return feed.Call{}, false
	}
	for _, c := range h.calls {
		if c.ID == id {
			return c, true
		}
	}
	return feed.Call{}, false
}

// Len, Key and Index make the history a list for a cursor.
func (h *history) Len() int         { return len(h.calls) }
func (h *history) Key(i int) string { return h.calls[i].ID }
func (h *history) Index(id string) (int, bool) {
	if !h.ids[id] {
		return 0, false
	}
	for i, c := range h.calls {
		if c.ID == id {
			return i, true
		}
	}
	return 0, false
}
