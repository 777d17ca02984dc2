package tui

import (
	"math"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// row is one call in the table with what the table caches about it: its
// sort key, whether it passes the filter, the widths of its text cells and
// the flash state of its changing numbers.
type row struct {
	call feed.Call
	live bool // call.Live(), cached for the sort's comparisons

	key       float64 // sort key (see computeKey)
	skey      string  // string sort key (sortUser)
	userLower string
	hay       string // filter haystack (see haystack)
	match     bool   // passes the current filter

	wUser, wModel, wAgent, wNotes int   // display widths, for the layout
	slot                          int32 // its rowStat in rows.stats

	// timeline is the call's (Model.timelines holds it too), meter its
	// user's spend meter, batch the last batch that touched it: what
	// applyEvents would otherwise look up by ID for every event.
	timeline *timeline
	meter    userMeter
	batch    uint64

	flash flash

	dirty   bool // its key changed since the last resort
	removed bool
}

// rows is the calls table's data, keyed by call ID: the order of every row
// for the current sort and the subset the filter shows. It is built for a
// live feed: a batch that changes k of n rows costs O(k log k + n) to
// re-order (the changed rows are sorted and merged into the unchanged
// ones, which stay sorted), not a full sort, and nothing is re-rendered
// here: the view draws only the rows on screen.
type rows struct {
	byID  map[string]*row
	order []*row // every row, in display order
	shown []*row // the rows that pass the filter, in display order
	// lastIndex is where Index last found a row: the cursor asks for
	// the same one frame after frame.
	lastIndex int
	sort      sortSpec
	filter    filter

	changed []*row // rows marked dirty since the last resort
	full    bool   // the next resort re-sorts everything
	removed bool   // a row left since the last resort
	reshown bool   // a row's filter match changed since the last resort

	// ents is the order of record (roworder.go); order and shown are
	// derived from it. marks holds each slot's markDirty, markRemoved and
	// markMatch.
	ents, rest, moved []ent
	marks             []uint8
	shownBuf          []*row // reused buffer

	// stats is every row's rowStat by slot (slots: the row in each), for
	// the per-frame passes (rowstats.go); free lists free slots, freeing
	// the slots of rows deleted since the last resort, which stay in the
	// order until then.
	stats         []rowStat
	slots         []*row
	free, freeing []int32
	agentIDs      map[string]int32 // interned agent names, for rowStat
	agentNames    []string
}

func newRows() *rows {
	return &rows{byID: make(map[string]*row), full: true, agentIDs: make(map[string]int32)}
}

// Len is the number of shown rows.
func (r *rows) Len() int { return len(r.shown) }

// Total is the number of rows, shown or not.
func (r *rows) Total() int { return len(r.order) }

// Key is the call ID of shown row i (the cursor's list interface).
func (r *rows) Key(i int) string { return r.shown[i].call.ID }

// Index is the shown row of a call ID. Rows do not carry their position:
// numbering 14,000 rows after every re-sort wrote to each of them (a cache
// miss apiece) for the one row the cursor asks about. Index looks where
// that row was last time, then scans the shown pointers, which are dense.
func (r *rows) Index(id string) (int, bool) {
	x, ok := r.byID[id]
	if !ok || x.removed {
		return 0, false
	}
	if i := r.lastIndex; i < len(r.shown) && r.shown[i] == x {
		return i, true
	}
	for i, y := range r.shown {
		if y == x {
			r.lastIndex = i
			return i, true
		}
	}
	return 0, false
}

// At is shown row i.
func (r *rows) At(i int) *row { return r.shown[i] }

// Get returns a call by ID, shown or not.
func (r *rows) Get(id string) (feed.Call, bool) {
	x, ok := r.byID[id]
	if !ok {
		return feed.Call{}, false
	}
	return x.call, true
}

// row returns the row of a call ID.
func (r *rows) row(id string) (*row, bool) {
	x, ok := r.byID[id]
	return x, ok
}

// Put adds or replaces a call and returns its row and the call it
// replaced (ok false for a new one). The row is re-keyed and marked to move
// only when its position may have changed.
func (r *rows) Put(c feed.Call, kc keyCtx) (x *row, old feed.Call, ok bool) {
	x, ok = r.byID[c.ID]
	if !ok {
		x = &row{}
		r.byID[c.ID] = x
		r.order = append(r.order, x)
		r.slotFor(x)
		r.put(x, false, &old, &c, kc)
		return x, old, false
	}
	old = x.call
	r.put(x, true, &old, &c, kc)
	return x, old, true
}

// update replaces the call of an existing row (c has its ID) and keeps
// the call it replaced in old.
func (r *rows) update(x *row, c *feed.Call, old *feed.Call, kc keyCtx) {
	*old = x.call
	r.put(x, true, old, c, kc)
}

// put sets a row's call; ok is false for a new row, old is the call it
// replaces.
func (r *rows) put(x *row, ok bool, old *feed.Call, c *feed.Call, kc keyCtx) {
	x.call = *c
	x.live = c.Live()
	if !ok || old.User != c.User || old.Model != c.Model || old.Agent != c.Agent || old.API != c.API ||
		old.State != c.State || len(old.Flags) != len(c.Flags) || len(old.Warnings) != len(c.Warnings) {
		x.userLower = strings.ToLower(c.User)
		x.hay = haystack(&x.call)
		x.wUser = lipgloss.Width(c.User)
		x.wModel = lipgloss.Width(c.Model)
		x.wAgent = lipgloss.Width(c.Agent)
		x.wNotes = 0
		if m := r.filter.matches(x.hay, c.Kind()); m != x.match || !ok {
			x.match = m
			r.mark(x.slot, markMatch, m)
			r.reshown = true
		}
	}
	if (len(c.Flags) > 0 || len(c.Warnings) > 0 || !c.Live()) && (!ok || notesChanged(old, &x.call) || x.wNotes == 0) {
		n, _ := notes(&x.call)
		x.wNotes = lipgloss.Width(n)
	}
	k, sk := x.key, x.skey
	x.computeKey(r.sort.by, kc)
	if !ok || k != x.key || sk != x.skey || old.Live() != c.Live() || !old.StartedAt.Equal(c.StartedAt) {
		r.touch(x)
	}
	r.restat(x)
}

// notesChanged reports whether the NOTES text of a call may differ from
// old's. The Board never changes a call's flags or warnings in place
// (feed.Board.Get), so the same slices hold the same values.
func notesChanged(old, c *feed.Call) bool {
	return old.Live() != c.Live() || old.End != c.End ||
		!sameSlice(old.Flags, c.Flags) || !sameSlice(old.Warnings, c.Warnings)
}

// sameSlice reports whether a and b are the same slice of the same array.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// touch marks a row to be placed again by the next resort.
func (r *rows) touch(x *row) {
	if !x.dirty {
		x.dirty = true
		r.marks[x.slot] |= markDirty
		r.changed = append(r.changed, x)
	}
}

// mark sets or clears a mark of a slot.
func (r *rows) mark(slot int32, m uint8, on bool) {
	if on {
		r.marks[slot] |= m
	} else {
		r.marks[slot] &^= m
	}
}

// Delete removes a call.
func (r *rows) Delete(id string) {
	x, ok := r.byID[id]
	if !ok {
		return
	}
	delete(r.byID, id)
	x.removed = true
	r.removed = true
	r.marks[x.slot] |= markRemoved
	r.stats[x.slot] = rowStat{}
	r.slots[x.slot] = nil
	r.freeing = append(r.freeing, x.slot)
}

// SetSort changes the order; every key is recomputed.
func (r *rows) SetSort(s sortSpec, kc keyCtx) {
	r.sort = s
	r.Rekey(kc)
}

// Rekey recomputes every sort key, for keys that move with the clock
// ($/min, silent agents) and after a change of sort.
func (r *rows) Rekey(kc keyCtx) {
	for _, x := range r.order {
		x.computeKey(r.sort.by, kc)
	}
	r.full = true
}

// SetFilter changes the filter and re-evaluates it on every row.
func (r *rows) SetFilter(f filter) {
	r.filter = f
	for _, x := range r.order {
		x.match = f.matches(x.hay, x.call.Kind())
		if !x.removed {
			r.mark(x.slot, markMatch, x.match)
			r.restat(x)
		}
	}
	r.reshown = true
}

// Resort brings order and shown up to date and reports whether anything
// moved. With no change it costs nothing; with a few changed rows it
// merges them into the rest; after a change of sort or filter, or when
// most rows changed, it sorts everything. Both work on entries
// (roworder.go), not on the rows.
func (r *rows) Resort() bool {
	if !r.full && !r.removed && !r.reshown && len(r.changed) == 0 {
		return false
	}
	switch {
	case r.full || len(r.changed)*8 > len(r.order):
		ents := r.ents[:0]
		for _, x := range r.order {
			if !x.removed {
				ents = append(ents, entOf(x))
			}
		}
		slices.SortFunc(ents, func(a, b ent) int { return compareEnts(&a, &b, r.sort) })
		clear(ents[len(ents):cap(ents)]) // drop references to rows now gone
		r.ents = ents
	default:
		moved := r.moved[:0]
		for _, x := range r.changed {
			if !x.removed {
				moved = append(moved, entOf(x))
			}
		}
		slices.SortFunc(moved, func(a, b ent) int { return compareEnts(&a, &b, r.sort) })
		rest := r.rest[:0]
		for _, e := range r.ents {
			if r.marks[e.slot]&(markDirty|markRemoved) == 0 {
				rest = append(rest, e)
			}
		}
		n := len(r.ents)
		r.ents = mergeEnts(r.ents[:0], rest, moved, r.sort)
		clearTail(r.ents, n) // the tail held rows now gone
		clear(rest)          // drop references to rows that may be gone
		clear(moved)
		r.rest, r.moved = rest[:0], moved[:0]
	}
	n := len(r.order)
	r.order = r.order[:0]
	for _, e := range r.ents {
		r.order = append(r.order, e.r)
	}
	clearTail(r.order, n)
	for _, x := range r.changed {
		x.dirty = false
		r.marks[x.slot] &^= markDirty
	}
	r.changed = r.changed[:0]
	r.full, r.removed, r.reshown = false, false, false
	for _, slot := range r.freeing { // their rows have left the order
		r.marks[slot] = 0
	}
	r.free = append(r.free, r.freeing...)
	r.freeing = r.freeing[:0]
	r.reshow()
	return true
}

// clearTail clears what s's array held past its length, up to n, so that
// it keeps no row that left alive.
func clearTail[T any](s []T, n int) {
	if n > len(s) {
		clear(s[len(s):n])
	}
}

// reshow rebuilds the shown rows from the order and numbers them.
func (r *rows) reshow() {
	if !r.filter.active() {
		r.shown = r.order
		return
	}
	clear(r.shownBuf)
	shown := r.shownBuf[:0]
	for _, e := range r.ents {
		if r.marks[e.slot]&markMatch != 0 {
			shown = append(shown, e.r)
		}
	}
	r.shownBuf, r.shown = shown, shown
}

// ids returns the call IDs of every row (for pruning).
func (r *rows) ids() []string {
	out := make([]string, 0, len(r.byID))
	for id := range r.byID {
		out = append(out, id)
	}
	return out
}

// flash remembers when a row's numbers last changed and which way, so the
// view can mark the change for a moment (↑ / ↓) like k9s does.
type flash struct {
	cost, tokens, rate time.Time
	rateDown           bool
}

// flashFor is how long a changed cell stays marked.
const flashFor = 2 * time.Second

// note records which numbers changed between old and c at now.
func (f *flash) note(old, c *feed.Call, now time.Time) {
	if math.Round(c.Usage.CostUSD*100) != math.Round(old.Usage.CostUSD*100) {
		f.cost = now // only a change the COST cell shows
	}
	if c.Usage.Tokens.Total != old.Usage.Tokens.Total && !liveAPI(c) {
		f.tokens = now // Live sessions show no tokens (tableTokens)
	}
	before, after := old.PerMinute(now), c.PerMinute(now)
	if d := after - before; d > 0.005 || d < -0.005 {
		f.rate, f.rateDown = now, d < 0
	}
}

// on reports whether a change at t is still marked at now.
func flashOn(t, now time.Time) bool {
	return !t.IsZero() && now.Sub(t) < flashFor && !now.Before(t)
}
