package tui

import (
	"cmp"
	"math"
	"strings"
)

// ent is a row's place in the table's order with a copy of what the order
// compares (compareRows), so that sorting and merging 10,000 rows read
// one contiguous slice: comparing the rows themselves costs a cache miss
// per row (~1 ms a merge on a small VM). rows.ents is the order of
// record; rows.order and rows.shown are derived from it.
type ent struct {
	key     float64
	started int64 // StartedAt as UnixNano; see slow
	slot    int32 // the row's slot (rows.marks, rows.stats)
	live    bool
	slow    bool // StartedAt outside UnixNano's range: compare the rows
	r       *row
}

// entOf is x's entry for its current key.
func entOf(x *row) ent {
	e := ent{key: x.key, slot: x.slot, live: x.live, r: x}
	switch t := x.call.StartedAt; {
	case t.IsZero():
		e.started = math.MinInt64 // before every real time, as the zero time is
	case inRange(t):
		e.started = t.UnixNano()
	default:
		e.slow = true
	}
	return e
}

// compareEnts is compareRows on entries: live calls first, then the sort
// key, then the newest start, then the call ID.
func compareEnts(a, b *ent, s sortSpec) int {
	if a.live != b.live {
		if a.live {
			return -1
		}
		return 1
	}
	var c int
	if s.by == sortUser {
		c = strings.Compare(a.r.skey, b.r.skey)
	} else {
		c = cmp.Compare(a.key, b.key)
	}
	if c != 0 {
		if s.desc {
			return -c
		}
		return c
	}
	if a.slow || b.slow {
		c = b.r.call.StartedAt.Compare(a.r.call.StartedAt)
	} else {
		c = cmp.Compare(b.started, a.started)
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.r.call.ID, b.r.call.ID)
}

// mergeEnts merges two sorted runs into dst (which may alias neither).
func mergeEnts(dst, a, b []ent, s sortSpec) []ent {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if compareEnts(&b[j], &a[i], s) < 0 {
			dst = append(dst, b[j])
			j++
		} else {
			dst = append(dst, a[i])
			i++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// Marks of a slot in rows.marks: what Resort reads of each row, kept in a
// slice small enough to stay in the cache.
const (
	markDirty   = 1 << iota // the row's key changed: it is placed again
	markRemoved             // the row left: it is dropped from the order
	markMatch               // the row passes the filter
)
