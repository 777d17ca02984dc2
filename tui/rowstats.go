package tui

import (
	"math"
	"time"

	"github.com/calltop/calltop/feed"
)

// rowStat is what the header's totals and the layout's column widths read
// of a row, every frame. The stats of all rows sit in one dense slice
// (rows.stats, by the row's slot), so those two passes over 10,000 rows
// read contiguous memory: going through the rows themselves costs a cache
// miss per row, ~1 ms a pass on a small VM.
type rowStat struct {
	cost      float64
	usageSecs float64
	// started, expires and ended are UnixNano (see statTimes).
	started, expires, ended int64
	agent                   int32 // rows.agentNames index
	wID, wUser, wModel      uint16
	wAgent, wNotes, wState  uint16 // wState: ended rows only
	bits                    uint16
}

const (
	statUsed        = 1 << iota // the slot holds a row
	statLive                    // call.Live()
	statDetached                // call.State is feed.StateDetached
	statCostUnknown             // call.Usage.CostUnknown
	statMatch                   // passes the filter
	statStarted                 // StartedAt is set
	statExpires                 // ExpiresAt is set
	statEnded                   // EndedAt is set
	statSlow                    // a time outside UnixNano's range: read the call itself
)

// Times UnixNano represents exactly, with a margin.
var (
	statMinTime = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	statMaxTime = time.Date(2260, 1, 1, 0, 0, 0, 0, time.UTC)
)

// inRange reports whether t's UnixNano is exact.
func inRange(t time.Time) bool { return t.After(statMinTime) && t.Before(statMaxTime) }

// set fills s from x (its widths included) and the interned agent.
func (s *rowStat) set(x *row, agent int32) {
	c := &x.call
	bits := uint16(statUsed)
	if x.live {
		bits |= statLive
	}
	if c.State == feed.StateDetached {
		bits |= statDetached
	}
	if c.Usage.CostUnknown {
		bits |= statCostUnknown
	}
	if x.match {
		bits |= statMatch
	}
	stamp := func(t time.Time, flag uint16, dst *int64) {
		*dst = 0
		switch {
		case t.IsZero():
		case inRange(t):
			bits |= flag
			*dst = t.UnixNano()
		default:
			bits |= flag | statSlow
		}
	}
	stamp(c.StartedAt, statStarted, &s.started)
	stamp(c.ExpiresAt, statExpires, &s.expires)
	stamp(c.EndedAt, statEnded, &s.ended)
	s.bits = bits
	s.cost, s.usageSecs = c.Usage.CostUSD, c.Usage.Seconds
	s.agent = agent
	s.wID, s.wUser, s.wModel = clamp16(len(c.ID)), clamp16(x.wUser), clamp16(x.wModel)
	s.wAgent, s.wNotes = clamp16(x.wAgent), clamp16(x.wNotes)
	s.wState = 0
	if !x.live {
		s.wState = clamp16(stateWidth(c))
	}
}

func clamp16(n int) uint16 { return uint16(clamp(n, 0, math.MaxUint16)) }

// perMinute is feed.Call.PerMinute of a live call at now (UnixNano), to
// the bit: the same arithmetic on the same integers.
func (s *rowStat) perMinute(now int64) float64 {
	end := now
	if s.bits&statExpires != 0 && end > s.expires {
		end = s.expires
	}
	secs := 0.0
	if s.bits&statStarted != 0 && end > s.started {
		secs = time.Duration(end - s.started).Seconds()
	}
	secs = max(secs, s.usageSecs)
	if secs < 10 {
		return 0
	}
	return s.cost / (secs / 60)
}

// totals adds up the rows for the header at now; gone[i] says whether
// agentNames[i] is silent or left (nil: none is).
func (r *rows) totals(now time.Time, gone []bool) totals {
	var t totals
	fast := inRange(now)
	nowNS := now.UnixNano()
	for i := range r.stats {
		s := &r.stats[i]
		if s.bits&statUsed == 0 {
			continue
		}
		t.cost += s.cost
		t.costUnknown = t.costUnknown || s.bits&statCostUnknown != 0
		if s.bits&statLive == 0 {
			t.ended++
			continue
		}
		t.live++
		if fast && s.bits&statSlow == 0 {
			t.perMin += s.perMinute(nowNS)
		} else {
			t.perMin += r.slots[i].call.PerMinute(now)
		}
		if gone != nil && gone[s.agent] {
			t.goneCalls++
		}
		if s.bits&statDetached != 0 {
			t.detached++
		}
	}
	return t
}

// widths is the widest value of each flexible column among the shown
// rows (see measure).
func (r *rows) widths() contentWidths {
	var id, user, model, agent, state, notes uint16
	any := false
	filtered := r.filter.active()
	for i := range r.stats {
		s := &r.stats[i]
		if s.bits&statUsed == 0 || (filtered && s.bits&statMatch == 0) {
			continue
		}
		any = true
		id, user, model = max(id, s.wID), max(user, s.wUser), max(model, s.wModel)
		agent, notes, state = max(agent, s.wAgent), max(notes, s.wNotes), max(state, s.wState)
	}
	if any {
		state = max(state, uint16(len("live")))
	}
	return contentWidths{colCall: int(id), colUser: int(user), colModel: int(model), colAgent: int(agent),
		colState: int(state), colNotes: int(notes)}
}

// agentID interns an agent's name for rowStat.
func (r *rows) agentID(name string) int32 {
	if id, ok := r.agentIDs[name]; ok {
		return id
	}
	id := int32(len(r.agentNames))
	r.agentIDs[name] = id
	r.agentNames = append(r.agentNames, name)
	return id
}

// slotFor gives a new row a slot in stats.
func (r *rows) slotFor(x *row) {
	if n := len(r.free); n > 0 {
		x.slot = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		x.slot = int32(len(r.stats))
		r.stats = append(r.stats, rowStat{})
		r.slots = append(r.slots, nil)
		r.marks = append(r.marks, 0)
	}
	r.slots[x.slot] = x
}

// restat refreshes a row's stats after its call or its filter match
// changed.
func (r *rows) restat(x *row) {
	r.stats[x.slot].set(x, r.agentID(x.call.Agent))
}

// endedBy returns the IDs of the ended rows that ended more than retain
// before now: the ones feed.Board.Prune drops, by the same test.
func (r *rows) endedBy(now time.Time, retain time.Duration) []string {
	var out []string
	cutoff := now.Add(-retain)
	fast := inRange(now) && inRange(cutoff)
	ns := cutoff.UnixNano()
	for i := range r.stats {
		s := &r.stats[i]
		if s.bits&statUsed == 0 || s.bits&statLive != 0 {
			continue
		}
		c := &r.slots[i].call
		if fast && s.bits&(statSlow|statEnded) == statEnded {
			if s.ended < ns {
				out = append(out, c.ID)
			}
		} else if now.Sub(c.EndedAt) > retain {
			out = append(out, c.ID)
		}
	}
	return out
}

// pastCap reports whether some live row is past OpenAI's cap on its
// life by more than retain at now: the live calls feed.Board.Prune drops
// when their agent is gone.
func (r *rows) pastCap(now time.Time, retain time.Duration) bool {
	cutoff := now.Add(-retain)
	fast := inRange(now) && inRange(cutoff)
	capNS := cutoff.Add(-feed.MaxCallLife).UnixNano() // for calls without an expiry
	ns := cutoff.UnixNano()
	for i := range r.stats {
		s := &r.stats[i]
		if s.bits&statLive == 0 {
			continue
		}
		switch {
		case !fast || s.bits&statSlow != 0 || s.bits&(statStarted|statExpires) == 0:
			c := &r.slots[i].call
			capAt := c.ExpiresAt
			if capAt.IsZero() {
				capAt = c.StartedAt.Add(feed.MaxCallLife)
			}
			if now.Sub(capAt) > retain {
				return true
			}
		case s.bits&statExpires != 0:
			if s.expires < ns {
				return true
			}
		case s.started < capNS:
			return true
		}
	}
	return false
}
