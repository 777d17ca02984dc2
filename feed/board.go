package feed

import (
	"cmp"
	"slices"
	"time"
)

// State is where a call is in its life.
type State string

// Call states.
const (
	StateLive  State = "live"
	StateEnded State = "ended"
)

// DefaultRetain is how long the Board keeps an ended call.
const DefaultRetain = 5 * time.Minute

// Call is the Board's view of one call: the facts of its events, folded.
type Call struct {
	ID        string
	User      string
	Agent     string
	Model     string
	SessionID string
	State     State
	StartedAt time.Time
	ExpiresAt time.Time
	EndedAt   time.Time
	Usage     Usage
	End       End
	// Policy is the call's effective policy (nil: none known).
	Policy *Policy
	// Warnings holds the newest warning per limit; Flags every abuse signal
	// raised on the call, oldest first, at most one per kind.
	Warnings []Warning
	Flags    []Flag
	// Seq is the newest event sequence seen; UsageSeq the one Usage came from.
	Seq      uint64
	UsageSeq uint64
}

// Live reports whether the call has not ended.
func (c *Call) Live() bool { return c.State != StateEnded }

// Seconds is the call's wall time: up to now while live, up to its end
// afterwards. It never goes below what the agent last reported.
func (c *Call) Seconds(now time.Time) float64 {
	end := now
	if !c.Live() && !c.EndedAt.IsZero() {
		end = c.EndedAt
	}
	s := 0.0
	if !c.StartedAt.IsZero() && end.After(c.StartedAt) {
		s = end.Sub(c.StartedAt).Seconds()
	}
	return max(s, c.Usage.Seconds)
}

// PerMinute is the call's average burn rate in USD per minute; 0 for a call
// under ten seconds old (too short to be a meaningful rate).
func (c *Call) PerMinute(now time.Time) float64 {
	s := c.Seconds(now)
	if s < 10 {
		return 0
	}
	return c.Usage.CostUSD / (s / 60)
}

// Board is the pure reducer from events to the set of live and recently
// ended calls, shared by the dashboard and `calltop ls`. It is not safe for
// concurrent use: one goroutine owns it (the Bubble Tea model, the ls loop).
type Board struct {
	calls  map[string]*Call
	agents map[string]*AgentInfo
	// signals are the newest user events (flags and refusals without a
	// call), newest last, at most maxSignals.
	signals []Event
	retain  time.Duration
	// pruned remembers calls dropped by Prune, until when, so a late or
	// replayed event cannot bring an ended call back as live.
	pruned map[string]time.Time
}

// NewBoard returns an empty Board that keeps ended calls for retain
// (DefaultRetain if zero).
func NewBoard(retain time.Duration) *Board {
	if retain <= 0 {
		retain = DefaultRetain
	}
	return &Board{calls: make(map[string]*Call), agents: make(map[string]*AgentInfo), retain: retain, pruned: make(map[string]time.Time)}
}

// Apply folds one event into the Board and reports whether anything
// changed. It is idempotent and order-tolerant: a duplicate changes nothing,
// older usage never replaces newer usage, and nothing revives an ended call.
func (b *Board) Apply(e Event) bool {
	if e.V != Version {
		return false
	}
	switch e.Scope() {
	case ScopeAgent:
		return b.applyHeartbeat(e)
	case ScopeUser:
		return b.applySignal(e)
	}
	if e.CallID == "" {
		return false
	}
	c, ok := b.calls[e.CallID]
	if !ok {
		if _, gone := b.pruned[e.CallID]; gone {
			return false
		}
		c = &Call{ID: e.CallID, State: StateLive}
		b.calls[e.CallID] = c
	}
	changed := !ok
	if e.Seq > c.Seq {
		c.Seq = e.Seq
		changed = true
	}
	if e.Agent != "" && c.Agent == "" {
		c.Agent = e.Agent
	}
	switch e.Kind {
	case KindStarted:
		if s := e.Start; s != nil {
			changed = setIfEmpty(&c.User, s.User) || changed
			changed = setIfEmpty(&c.Model, s.Model) || changed
			if c.StartedAt.IsZero() || (!s.StartedAt.IsZero() && s.StartedAt.Before(c.StartedAt)) {
				c.StartedAt = s.StartedAt
				changed = true
			}
		}
	case KindSession:
		if s := e.Session; s != nil {
			if s.Model != "" && s.Model != c.Model {
				c.Model = s.Model
				changed = true
			}
			changed = setIfEmpty(&c.SessionID, s.SessionID) || changed
			if !s.ExpiresAt.IsZero() && !s.ExpiresAt.Equal(c.ExpiresAt) {
				c.ExpiresAt = s.ExpiresAt
				changed = true
			}
		}
	case KindWarning:
		if w := e.Warning; w != nil {
			changed = c.setWarning(*w) || changed
		}
	case KindFlag:
		if f := e.Flag; f != nil {
			changed = c.addFlag(*f) || changed
		}
	case KindEnded:
		if c.State != StateEnded && e.End != nil {
			c.State = StateEnded
			c.End = *e.End
			c.EndedAt = e.End.EndedAt
			changed = true
		}
	}
	if e.Usage != nil && e.Seq > c.UsageSeq {
		c.Usage = *e.Usage
		c.UsageSeq = e.Seq
		changed = true
		if e.Policy != nil {
			p := *e.Policy
			c.Policy = &p
		}
	} else if e.Policy != nil && c.Policy == nil {
		p := *e.Policy
		c.Policy = &p
		changed = true
	}
	if c.StartedAt.IsZero() && !e.At.IsZero() {
		// The started event was lost: the earliest event time stands in.
		c.StartedAt = e.At
	}
	return changed
}

func setIfEmpty(dst *string, v string) bool {
	if *dst != "" || v == "" {
		return false
	}
	*dst = v
	return true
}

// Get returns a copy of one call. Its Warnings and Flags share storage
// with the Board, which never changes them in place: read, don't write.
func (b *Board) Get(id string) (Call, bool) {
	c, ok := b.calls[id]
	if !ok {
		return Call{}, false
	}
	return *c, true
}

// Len is the number of calls on the Board, live and ended.
func (b *Board) Len() int { return len(b.calls) }

// Calls returns copies of every call, live first, then by start time and
// ID, so the order is stable between calls.
func (b *Board) Calls() []Call {
	out := make([]Call, 0, len(b.calls))
	for _, c := range b.calls {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y Call) int {
		if x.Live() != y.Live() {
			if x.Live() {
				return -1
			}
			return 1
		}
		return cmp.Or(x.StartedAt.Compare(y.StartedAt), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// Prune forgets calls that ended more than the retention ago and returns
// how many it removed. Their IDs are remembered for a while longer, so
// stragglers for them are ignored.
func (b *Board) Prune(now time.Time) int {
	n := 0
	for id, c := range b.calls {
		if !c.Live() && now.Sub(c.EndedAt) > b.retain {
			delete(b.calls, id)
			b.pruned[id] = now.Add(prunedMemory)
			n++
		}
	}
	for id, until := range b.pruned {
		if now.After(until) {
			delete(b.pruned, id)
		}
	}
	return n
}

// prunedMemory is how long a pruned call's ID is remembered: longer than
// the events stream's age, so even a full replay cannot revive it.
const prunedMemory = 25 * time.Hour

// Totals summarises the Board for a dashboard header.
type Totals struct {
	Live, Ended int
	CostUSD     float64 // all calls on the Board
	PerMinute   float64 // sum of live calls' burn rates
	Tokens      int64
}

// Totals adds up the Board at now.
func (b *Board) Totals(now time.Time) Totals {
	var t Totals
	for _, c := range b.calls {
		t.CostUSD += c.Usage.CostUSD
		t.Tokens += c.Usage.Tokens.Total
		if c.Live() {
			t.Live++
			t.PerMinute += c.PerMinute(now)
		} else {
			t.Ended++
		}
	}
	return t
}
