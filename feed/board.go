package feed

import (
	"cmp"
	"slices"
	"time"
)

// State is where a call is in its life.
type State string

// Call states. A detached call is live: it goes on at OpenAI, its owner
// meters it by the clock and keeps trying to re-attach its sideband.
const (
	StateLive     State = "live"
	StateDetached State = "detached"
	StateEnded    State = "ended"
)

// DefaultRetain is how long the Board keeps an ended call.
const DefaultRetain = 5 * time.Minute

// Call is the Board's view of one call: the facts of its events, folded.
type Call struct {
	ID    string
	User  string
	Agent string
	Model string
	// API is the voice API the call runs on, as its agent said (empty
	// until its started event is read: see Kind).
	API       API
	SessionID string
	State     State
	StartedAt time.Time
	ExpiresAt time.Time
	EndedAt   time.Time
	Usage     Usage
	End       End
	// Policy is the call's effective policy (nil: none known).
	Policy *EffectivePolicy
	// Warnings holds the newest warning per limit; Flags every abuse signal
	// raised on the call, oldest first, at most one per kind.
	Warnings []Warning
	Flags    []Flag
	// DetachedSince is when the sideband dropped, while the call is
	// detached (State is StateDetached); DetachDetail says why.
	DetachedSince time.Time
	DetachDetail  string
	// Term and Seq are the newest event's (see Event.Term); UsageTerm and
	// UsageSeq those Usage came from, SidebandTerm and SidebandSeq those
	// of the sideband state.
	Term, Seq                 uint64
	UsageTerm, UsageSeq       uint64
	SidebandTerm, SidebandSeq uint64
}

// Kind is the call's voice API: what its agent said, else what its id
// suggests.
func (c *Call) Kind() API {
	if c.API != "" {
		return c.API
	}
	return APIOf(c.ID)
}

// Live reports whether the call has not ended.
func (c *Call) Live() bool { return c.State != StateEnded }

// Seconds is the call's wall time: up to now while live, up to its end
// afterwards, never past OpenAI's cap (expires_at: a call cannot outlive
// it, even if its agent died without saying so). It never goes below what
// the agent last reported.
func (c *Call) Seconds(now time.Time) float64 {
	end := now
	if !c.Live() && !c.EndedAt.IsZero() {
		end = c.EndedAt
	}
	if !c.ExpiresAt.IsZero() && end.After(c.ExpiresAt) {
		end = c.ExpiresAt
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
// older usage never replaces newer usage (by term, then sequence), and
// nothing revives an ended call.
func (b *Board) Apply(e Event) bool {
	if e.V < VersionVerbose || e.V > VersionCompact {
		return false
	}
	switch e.Scope() {
	case ScopeAgent:
		return b.applyAgent(e)
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
	if Newer(e.Term, e.Seq, c.Term, c.Seq) {
		// The newest owner is the call's agent: a takeover moves it.
		if e.Agent != "" && e.Agent != c.Agent && e.Term >= c.Term {
			c.Agent = e.Agent
		}
		c.Term, c.Seq = e.Term, e.Seq
		changed = true
	}
	if e.Agent != "" && c.Agent == "" {
		c.Agent = e.Agent
	}
	if s := e.Start; s != nil {
		changed = c.applyStart(s) || changed
	}
	if s := e.Session; s != nil {
		changed = c.applySession(s) || changed
	}
	switch e.Kind {
	case KindWarning:
		if w := e.Warning; w != nil {
			changed = c.setWarning(*w) || changed
		}
	case KindFlag:
		if f := e.Flag; f != nil {
			changed = c.addFlag(*f) || changed
		}
	case KindSideband:
		if sb := e.Sideband; sb != nil && Newer(e.Term, e.Seq, c.SidebandTerm, c.SidebandSeq) {
			c.SidebandTerm, c.SidebandSeq = e.Term, e.Seq
			changed = c.applySideband(sb) || changed
		}
	case KindEnded:
		for _, f := range e.Flags {
			changed = c.addFlag(f) || changed
		}
		for _, w := range e.Warnings {
			changed = c.setWarning(w) || changed
		}
		if c.State != StateEnded && e.End != nil {
			c.State = StateEnded
			c.End = *e.End
			c.EndedAt = e.End.EndedAt
			c.DetachedSince, c.DetachDetail = time.Time{}, ""
			changed = true
		}
	}
	if e.Usage != nil && Newer(e.Term, e.Seq, c.UsageTerm, c.UsageSeq) {
		c.Usage = *e.Usage
		c.UsageTerm, c.UsageSeq = e.Term, e.Seq
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

// applyStart takes who the call is for and the earliest start: an agent
// that takes a call over announces its original start.
func (c *Call) applyStart(s *Start) bool {
	changed := setIfEmpty(&c.User, s.User)
	changed = setIfEmpty(&c.Model, s.Model) || changed
	if s.API != "" && s.API != c.API {
		c.API = s.API
		changed = true
	}
	if !s.StartedAt.IsZero() && (c.StartedAt.IsZero() || s.StartedAt.Before(c.StartedAt)) {
		c.StartedAt = s.StartedAt
		changed = true
	}
	return changed
}

func (c *Call) applySession(s *Session) bool {
	changed := false
	if s.Model != "" && s.Model != c.Model {
		c.Model = s.Model
		changed = true
	}
	changed = setIfEmpty(&c.SessionID, s.SessionID) || changed
	if !s.ExpiresAt.IsZero() && !s.ExpiresAt.Equal(c.ExpiresAt) {
		c.ExpiresAt = s.ExpiresAt
		changed = true
	}
	return changed
}

// applySideband moves a live call between live and detached.
func (c *Call) applySideband(sb *Sideband) bool {
	if c.State == StateEnded {
		return false
	}
	if sb.State == SidebandDetached {
		if c.State == StateDetached && c.DetachedSince.Equal(sb.Since) && c.DetachDetail == sb.Detail {
			return false
		}
		c.State, c.DetachedSince, c.DetachDetail = StateDetached, sb.Since, sb.Detail
		return true
	}
	if c.State != StateDetached {
		return false
	}
	c.State, c.DetachedSince, c.DetachDetail = StateLive, time.Time{}, ""
	return true
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

// Prune forgets calls that ended more than the retention ago, live calls
// whose agent is gone and whose OpenAI cap has passed (they cannot be
// running, and nobody is left to say they ended), and agents that left or
// went silent a while ago and own no call on the Board. It returns how
// many calls it removed. Their IDs are remembered for a while longer, so
// stragglers for them are ignored.
func (b *Board) Prune(now time.Time) int {
	n := 0
	owning := make(map[string]bool)
	for id, c := range b.calls {
		drop := !c.Live() && now.Sub(c.EndedAt) > b.retain
		if c.Live() {
			drop = b.orphaned(c, now) && now.Sub(c.capAt()) > b.retain
			owning[c.Agent] = owning[c.Agent] || !drop
		}
		if drop {
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
	for name, a := range b.agents {
		if owning[name] {
			continue
		}
		if (a.Left() && now.Sub(a.LeftAt) > AgentLeftMemory) || (!a.Left() && now.Sub(a.LastSeen) > AgentSilentMemory) {
			delete(b.agents, name)
		}
	}
	return n
}

// MaxCallLife is the longest any OpenAI voice session runs: GPT-Live's two
// hours (Realtime's cap is one).
const MaxCallLife = 2 * time.Hour

// capAt is when OpenAI ends the call at the latest.
func (c *Call) capAt() time.Time {
	if !c.ExpiresAt.IsZero() {
		return c.ExpiresAt
	}
	return c.StartedAt.Add(MaxCallLife)
}

// orphaned reports whether a live call's owning agent left or went silent.
func (b *Board) orphaned(c *Call, now time.Time) bool {
	a, ok := b.agents[c.Agent]
	return !ok || a.State(now) != AgentOnline
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
