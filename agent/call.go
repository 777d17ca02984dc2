package agent

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// call is one tracked call: its accountant, its publishing sequence and
// the goroutine that reads its sideband.
type call struct {
	a     *Agent
	id    string
	meta  Meta
	api   feed.API // what the call runs on: which sideband, hangup and meter
	start time.Time

	ctx      context.Context // cancelled to stop reading: hangup done, agent closing, call taken over
	cancel   context.CancelFunc
	done     chan struct{} // closed when life returns
	attached chan error    // the first attach's outcome (buffered)

	mu   sync.Mutex
	acct *account
	term uint64 // ownership term (see feed.Event.Term)
	seq  uint64
	rev  uint64 // the ownership record's revision, once claimed
	// ownedSince is when this agent took the call (its start, unless it
	// adopted it).
	ownedSince time.Time
	// costMoved: tokens or cost moved since the last usage event, which
	// was too recent to publish at once (coalesced); countersMoved: only
	// counters did (they ride along, or go out every countersEvery);
	// policyMoved: the effective policy changed since it was last sent.
	// lastUsage is when the last usage event went out.
	// meterMoved: only a Live session's billed seconds did (they go out
	// every LiveInterval).
	costMoved, countersMoved, policyMoved, meterMoved bool
	lastUsage                                         time.Time
	ended                                             bool
	endReq                                            *feed.End   // how to report the end once our own hangup succeeded
	final                                             *feed.Event // the call's final record, once it ended
	// stored is closed once the final record and the ended event are in
	// NATS (nil before the call ended).
	stored <-chan struct{}
	sub    *nats.Subscription
	budget budget
	conn   *websocket.Conn // the current sideband, for wrap-up messages
	// everAttached: a sideband was attached once, so a 404 now means the
	// call ended (a call created a moment ago may 404 for a while).
	everAttached bool
	// detachedSince is when the sideband dropped, while no attach has
	// worked since (zero while attached); detachDetail says why.
	detachedSince time.Time
	detachDetail  string
	// gapFrom is when this agent stopped reading the call (a drop, or an
	// adopted call's former owner's last word): the next attach closes
	// the gap and counts it.
	gapFrom time.Time
	// flags and warnings raised on the call (the first flag of each
	// kind, the newest warning per limit), for re-announcing after a NATS
	// restart and for the final record.
	flags    []feed.Flag
	warnings []feed.Warning
	// yielded is set when another agent took the call over: this agent
	// stops without a word, the new owner speaks for the call.
	yielded bool
	// lastCutAudit is the last policy cut's audit record (who, outcome,
	// error), so retries that fail alike are recorded once.
	lastCutAudit string
}

func newCall(a *Agent, id string, meta Meta) *call {
	ctx, cancel := context.WithCancel(a.ctx)
	now := time.Now()
	api := meta.API
	if api == "" {
		api = feed.APIOf(id)
	}
	acct := newAccount(a.cfg.Prices)
	acct.live, acct.webrtc = api == feed.APILive, !meta.sip
	return &call{a: a, id: id, meta: meta, api: api, start: now, ownedSince: now, term: 1, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), attached: make(chan error, 1), acct: acct}
}

// live reports whether the call is a GPT-Live session.
func (c *call) live() bool { return c.api == feed.APILive }

// model is the model that prices the call: the one OpenAI says the session
// runs (a dated snapshot falls back to its alias in the price table), else
// the one the app configured.
func (c *call) model() string {
	if m := c.acct.session.Model; m != "" {
		if c.priced(m) || c.meta.Model == "" {
			return m
		}
	}
	return c.meta.Model
}

// priced reports whether the price table knows model for the call's API.
func (c *call) priced(model string) bool {
	if c.live() {
		_, ok := c.a.cfg.Prices.LookupLive(model)
		return ok
	}
	_, ok := c.a.cfg.Prices.Lookup(model)
	return ok
}

func (c *call) usageLocked(now time.Time) feed.Usage {
	return c.acct.snapshot(now, c.start, c.model())
}

// stamp sets e's call, owner term, next sequence number and time.
func (c *call) stamp(e *feed.Event) {
	c.seq++
	e.Term, e.Seq, e.CallID, e.Agent = c.term, c.seq, c.id, c.a.cfg.Name
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
}

// publishLocked sends one event of the call with the next sequence number.
// Publishing never blocks on NATS (the client buffers while disconnected),
// so holding the call's lock here cannot stall the sideband reader for long.
// A call taken over by another agent publishes nothing more.
func (c *call) publishLocked(e feed.Event) {
	if c.yielded {
		return
	}
	c.stamp(&e)
	if err := c.a.feed.Publish(e); err != nil {
		c.a.stats.publishFailed()
		c.a.log.Warn("publish", "call", c.id, "kind", e.Kind, "err", err)
	}
	c.a.stats.usage(c, c.model(), e.Usage)
}

func (c *call) startLocked() *feed.Start {
	s := &feed.Start{User: c.meta.User, Model: c.meta.Model, StartedAt: c.start.UTC()}
	if c.live() {
		s.API = feed.APILive
	}
	return s
}

func (c *call) publishStarted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishLocked(feed.Event{Kind: feed.KindStarted, Start: c.startLocked(), Policy: c.budget.effective})
}

// costMovedLocked publishes the call's usage at once when its tokens or
// cost moved and it published none within PublishInterval; within the
// interval the change is coalesced and goes out when the interval is up,
// so a burst costs one message and a lone response.done reaches the
// dashboards in milliseconds.
func (c *call) costMovedLocked(now time.Time) {
	if c.ended {
		return
	}
	if now.Sub(c.lastUsage) >= c.a.cfg.PublishInterval {
		c.publishUsageLocked(now)
		return
	}
	c.costMoved = true
	c.a.coalesced(c)
}

// publishUsageLocked publishes the call's cumulative usage, and its
// effective policy when it changed.
func (c *call) publishUsageLocked(now time.Time) {
	u := c.usageLocked(now)
	e := feed.Event{Kind: feed.KindUsage, Usage: &u}
	if c.policyMoved {
		e.Policy, c.policyMoved = c.budget.effective, false
	}
	c.publishLocked(e)
	c.lastUsage = now
	c.costMoved, c.countersMoved, c.meterMoved = false, false, false
}

// flushUsage publishes what was held back: a coalesced cost change once
// PublishInterval has passed since the last usage event, a Live session's
// billed seconds once LiveInterval has, counters alone once
// CountersInterval has. It reports whether a cost change is still
// waiting.
func (c *call) flushUsage(now time.Time) (waiting bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	since := now.Sub(c.lastUsage)
	if (c.costMoved && since >= c.a.cfg.PublishInterval) || (c.countersMoved && since >= c.a.cfg.CountersInterval) ||
		(c.meterMoved && since >= c.a.cfg.LiveInterval) {
		c.publishUsageLocked(now)
	}
	return c.costMoved
}

// ownEnd is the end our own hangup asked for, if any.
func (c *call) ownEnd() *feed.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReq
}

// flag publishes an abuse signal on the call, once per kind.
func (c *call) flag(f feed.Flag) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flagLocked(f)
}

func (c *call) flagLocked(f feed.Flag) {
	if slices.ContainsFunc(c.flags, func(h feed.Flag) bool { return h.Kind == f.Kind }) {
		return
	}
	c.flags = append(c.flags, f)
	c.budget.marks.Note(policy.Verdict{Flags: []feed.Flag{f}})
	c.publishLocked(feed.Event{Kind: feed.KindFlag, Flag: &f})
	c.notifyLocked(feed.Event{Kind: feed.KindFlag, Flag: &f})
	c.a.log.Warn("flag", "call", c.id, "kind", f.Kind, "message", f.Message)
}

// warnLocked publishes a warning and keeps it as the newest of its limit.
func (c *call) warnLocked(w feed.Warning) {
	i := slices.IndexFunc(c.warnings, func(h feed.Warning) bool { return h.Limit == w.Limit })
	if i < 0 {
		c.warnings = append(c.warnings, w)
	} else {
		c.warnings[i] = w
	}
	c.publishLocked(feed.Event{Kind: feed.KindWarning, Warning: &w})
	c.notifyLocked(feed.Event{Kind: feed.KindWarning, Warning: &w})
}

// isDetached reports whether the call's sideband is down now.
func (c *call) isDetached() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.detachedSince.IsZero()
}

// setDetached shows the call detached: its sideband is down and the agent
// keeps trying. Published once per drop, and again when the reason
// changes.
func (c *call) setDetached(since time.Time, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || (!c.detachedSince.IsZero() && c.detachDetail == detail) {
		return
	}
	if c.detachedSince.IsZero() {
		c.detachedSince = since
		c.a.log.Warn("sideband detached; re-attaching", "call", c.id, "err", detail)
	}
	c.detachDetail = detail
	c.publishLocked(feed.Event{Kind: feed.KindSideband, Sideband: c.sidebandLocked()})
}

func (c *call) sidebandLocked() *feed.Sideband {
	if c.detachedSince.IsZero() {
		return &feed.Sideband{State: feed.SidebandAttached, Since: time.Now().UTC()}
	}
	return &feed.Sideband{State: feed.SidebandDetached, Since: c.detachedSince.UTC(), Detail: c.detachDetail}
}

// setAttached records a working sideband: it closes the gap since the
// agent last read the call (counted in the usage and flagged once, since
// OpenAI does not replay what was missed) and shows the call attached
// again if it was detached.
func (c *call) setAttached(conn *websocket.Conn, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn, c.everAttached = conn, true
	if !c.gapFrom.IsZero() {
		gap := max(now.Sub(c.gapFrom), 0)
		c.acct.usage.Gaps++
		c.acct.usage.GapSeconds += gap.Seconds()
		c.countersMoved = true
		c.flagLocked(feed.Flag{Kind: feed.FlagGap,
			Message: "no agent read the sideband for a while: usage billed then is not counted",
			Evidence: map[string]string{"from": c.gapFrom.UTC().Format(time.RFC3339Nano), "to": now.UTC().Format(time.RFC3339Nano),
				"seconds": formatSeconds(gap)}})
		c.gapFrom = time.Time{}
	}
	if !c.detachedSince.IsZero() {
		c.a.log.Info("sideband attached again", "call", c.id, "detached_for", now.Sub(c.detachedSince).Round(time.Millisecond))
		c.detachedSince, c.detachDetail = time.Time{}, ""
		c.publishLocked(feed.Event{Kind: feed.KindSideband, Sideband: &feed.Sideband{State: feed.SidebandAttached, Since: now.UTC()}})
	}
}

// dropped records that the sideband stopped being read at t.
func (c *call) dropped(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
	if c.gapFrom.IsZero() {
		c.gapFrom = t
	}
}

// record is the call's full record as of now: the ended event's payloads
// (final record) or what re-announcing it needs.
func (c *call) recordLocked(now time.Time) feed.Event {
	u := c.usageLocked(now)
	e := feed.Event{Start: c.startLocked(), Usage: &u, Policy: c.budget.effective,
		Flags: slices.Clone(c.flags), Warnings: slices.Clone(c.warnings)}
	if s := c.acct.session; s != (feed.Session{}) {
		e.Session = &s
	}
	return e
}
