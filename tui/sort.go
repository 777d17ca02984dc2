package tui

import (
	"cmp"
	"math"
	"strings"
	"time"

	"github.com/calltop/calltop/feed"
)

// sortBy names what the calls table is ordered by.
type sortBy int

// The orders an operator can pick. sortAge is the default: newest live call
// first, which keeps rows still on a busy screen.
const (
	sortAge sortBy = iota
	sortCost
	sortRate
	sortTokens
	sortUser
	sortState
)

// sortSpec is an order and its direction; desc flips the natural order of
// the key (largest cost first, and so on).
type sortSpec struct {
	by   sortBy
	desc bool
}

// defaultDesc is the direction a sort starts in when picked: the biggest
// spenders first, the newest call first, users and states A→Z / worst
// first. Picking the same sort again reverses it.
func defaultDesc(by sortBy) bool {
	switch by {
	case sortCost, sortRate, sortTokens:
		return true
	}
	return false
}

// name is how the header and the column titles call the sort.
func (s sortBy) name() string {
	return [...]string{"age", "cost", "$/min", "tokens", "user", "state"}[s]
}

// column is the table column that shows the sort key.
func (s sortBy) column() colID {
	return [...]colID{colAge, colCost, colRate, colTokens, colUser, colState}[s]
}

// keyCtx is what a sort key may depend on beyond the call itself: the
// clock (rates, silence), hang-ups in flight and agents gone (silent or
// left).
type keyCtx struct {
	now     time.Time
	pending func(id string) bool
	gone    func(agent string) bool
}

// computeKey sets r's cached sort key for s. Keys are cached so that a
// frame's sort compares floats instead of recomputing rates, and so that
// rows whose key did not change need not move (see table.resort).
func (r *row) computeKey(s sortBy, kc keyCtx) {
	c := &r.call
	r.skey = ""
	switch s {
	case sortCost:
		r.key = c.Usage.CostUSD
		if c.Usage.CostUnknown {
			r.key = -1 // unknown sorts after every known cost, even $0.00
		}
	case sortRate:
		r.key = c.PerMinute(kc.now)
		if c.Usage.CostUnknown {
			r.key = -1
		}
	case sortTokens:
		n, ok := tableTokens(c)
		r.key = float64(n)
		if !ok {
			r.key = -1 // a Live session (no tokens) sorts after every count, even 0
		}
	case sortUser:
		r.key = 0
		r.skey = r.userLower
	case sortState:
		r.key = float64(stateRank(c, kc))
	default: // age: the newest start (or, ended, the newest end) first
		t := c.StartedAt
		if !c.Live() && !c.EndedAt.IsZero() {
			t = c.EndedAt
		}
		r.key = -float64(t.UnixMilli())
	}
	if math.IsNaN(r.key) {
		r.key = -1
	}
}

// stateRank orders states by how urgently they need a look: a hang-up in
// flight, a call whose agent is gone (silent or left), a detached call
// (both: numbers that may be behind), flagged, warned, plain live, ended.
func stateRank(c *feed.Call, kc keyCtx) int {
	switch {
	case !c.Live():
		return 6
	case kc.pending != nil && kc.pending(c.ID):
		return 0
	case kc.gone != nil && kc.gone(c.Agent):
		return 1
	case c.State == feed.StateDetached:
		return 2
	case len(c.Flags) > 0:
		return 3
	case len(c.Warnings) > 0:
		return 4
	}
	return 5
}

// compareRows is the table order: live calls before ended ones whatever
// the sort (ended rows are history, shown dimmed below), then the sort key,
// then the newest start and the call ID, so equal keys never swap places
// between frames: the sort is total, hence stable.
func compareRows(a, b *row, s sortSpec) int {
	if al, bl := a.live, b.live; al != bl {
		if al {
			return -1
		}
		return 1
	}
	var c int
	if s.by == sortUser {
		c = strings.Compare(a.skey, b.skey)
	} else {
		c = cmp.Compare(a.key, b.key)
	}
	if c != 0 { // most comparisons end here: no tie-break work
		if s.desc {
			return -c
		}
		return c
	}
	if c := b.call.StartedAt.Compare(a.call.StartedAt); c != 0 {
		return c
	}
	return strings.Compare(a.call.ID, b.call.ID)
}
