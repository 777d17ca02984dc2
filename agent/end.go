package agent

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/calltop/calltop/feed"
)

// finish ends the call as OpenAI (or our own hangup) said, once: its
// final record goes to the live-state stream (the ended event) and to the
// final-records stream through the outbox, which retries until NATS
// stores both, then drops the call's older events and its ownership
// record; the user is charged the call's total.
func (c *call) finish(end feed.End) {
	c.mu.Lock()
	if c.ended || c.yielded {
		c.mu.Unlock()
		return
	}
	c.ended = true
	now := time.Now()
	if end.EndedAt.IsZero() {
		end.EndedAt = now.UTC()
	}
	e := c.recordLocked(now)
	e.Kind, e.End = feed.KindEnded, &end
	c.stamp(&e)
	c.final = &e
	c.a.stats.ended(c, end.Reason, c.model(), e.Usage)
	c.detachedSince = time.Time{}
	limited := c.budget.credits != nil || c.budget.creditsUnknown
	c.releaseBudgetLocked()
	sub, rev := c.sub, c.rev
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	stored := c.a.store(e, rev)
	c.mu.Lock()
	c.stored = stored
	c.mu.Unlock()
	c.charge(e.Usage.CostUSD, limited, true)
	c.a.log.Info("call ended", "call", c.id, "reason", end.Reason, "detail", end.Detail)
}

// store queues a call's ended event and final record in the outbox: the
// ended event first (then the call's older events are purged from the
// live-state stream), the final record next (stored once per call,
// whoever writes it), and last the ownership record is released, so an
// agent that dies before the record is stored leaves the call to be
// adopted and finished by another. The channel it returns is closed once
// all of that is done (or could not be queued).
func (a *Agent) store(e feed.Event, rev uint64) <-chan struct{} {
	stored := make(chan struct{})
	live, err := a.feed.Message(e)
	if err != nil {
		a.log.Error("ended event not encoded", "call", e.CallID, "err", err)
		close(stored)
		return stored
	}
	// No Nats-Msg-Id: the live-state stream keeps one message per
	// subject, so an ended event stored twice by a retry is stored once.
	final, err := a.feed.FinalMessage(e)
	if err != nil {
		a.log.Error("final record not encoded", "call", e.CallID, "err", err)
		close(stored)
		return stored
	}
	var endedSeq uint64
	purge := func(ctx context.Context) error {
		if endedSeq == 0 {
			return nil
		}
		err := a.feed.PurgeCall(ctx, e.CallID, endedSeq)
		if err != nil && isMissing(err) {
			return nil // a NATS that lost its data has nothing to purge
		}
		return err
	}
	release := func(ctx context.Context) error {
		a.fleet.mu.Lock()
		o := a.fleet.owners
		a.fleet.mu.Unlock()
		if o == nil || rev == 0 {
			return nil
		}
		err := o.Release(ctx, e.CallID, rev)
		if err != nil && isMissing(err) {
			return nil
		}
		return err
	}
	done := func(context.Context) error { close(stored); return nil }
	err = a.outbox.Add(a.feed.PublishStep(live, false, func(seq uint64) { endedSeq = seq }), purge,
		a.feed.PublishStep(final, true, nil), release, done)
	if err != nil {
		// The outbox is full: NATS has been away for very long. Say it
		// the only way left; the agent that adopts the call after this
		// one is gone would write the record.
		a.log.Error("final record not kept: outbox full", "call", e.CallID, "err", err)
		_ = a.feed.NC.PublishMsg(live)
		close(stored)
	}
	return stored
}

// leave stops following a call without ending it: the agent is closing
// or another agent took the call over. The call goes on at OpenAI. Unless
// taken over, its last totals are published and charged, and when the
// agent hands its calls over, its ownership record is marked released
// with those totals, for another agent to carry on exactly.
func (c *call) leave() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	limited := c.budget.credits != nil || c.budget.creditsUnknown
	c.releaseBudgetLocked()
	sub, yielded := c.sub, c.yielded
	now := time.Now()
	u := c.usageLocked(now)
	rec := c.ownerLocked()
	if !yielded {
		c.publishLocked(feed.Event{Kind: feed.KindUsage, Usage: &u, Policy: c.budget.effective})
	}
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	if yielded {
		return
	}
	c.charge(u.CostUSD, limited, false) // the call goes on: whoever adopts it settles it
	a := c.a
	a.mu.Lock()
	handoff := a.handoff
	a.mu.Unlock()
	if !handoff {
		return
	}
	rec.Released, rec.ReleasedAt, rec.Usage = true, now.UTC(), &u
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	a.fleet.mu.Lock()
	o := a.fleet.owners
	a.fleet.mu.Unlock()
	if o == nil || rec.Term == 0 {
		return
	}
	if _, err := o.Take(ctx, rec, c.rev); err != nil {
		a.log.Warn("call not handed over; it will be adopted once this agent is seen gone", "call", c.id, "err", err)
		return
	}
	a.fleet.handingOver(c.id)
}

// ownerLocked is the call's ownership record as this agent holds it.
func (c *call) ownerLocked() feed.Owner {
	o := feed.Owner{CallID: c.id, Agent: c.a.cfg.Name, Instance: c.a.instance, Term: c.term,
		User: c.meta.User, Model: c.meta.Model, StartedAt: c.start.UTC(), Since: c.ownedSince.UTC()}
	if c.live() {
		o.API = feed.APILive
	}
	return o
}

// reannounce makes sure NATS knows the call after a restart, maybe
// without its data: its ownership record (claimed again if lost; if
// another agent owns it now, this one lets go), then its started,
// session, sideband state, usage, flags and warnings, published again.
// Every event is cumulative or idempotent, so announcing twice is
// harmless. It reports whether the call was announced.
func (c *call) reannounce(ctx context.Context) bool {
	a := c.a
	a.fleet.mu.Lock()
	o := a.fleet.owners
	a.fleet.mu.Unlock()
	c.mu.Lock()
	if c.ended || c.yielded {
		c.mu.Unlock()
		return false
	}
	rec := c.ownerLocked()
	c.mu.Unlock()
	if o != nil {
		have, rev, err := o.Get(ctx, c.id)
		var owned *feed.OwnedError
		switch {
		case errors.Is(err, feed.ErrNoRecord):
			rev, err = o.Claim(ctx, rec)
			if errors.As(err, &owned) {
				have, err = owned.Owner, nil
			} else if err != nil {
				a.log.Warn("call ownership not recorded yet", "call", c.id, "err", err)
				a.fleet.needRecovery()
			}
		case err != nil:
			a.log.Warn("call ownership unreadable", "call", c.id, "err", err)
			a.fleet.needRecovery()
		}
		if have.Instance != "" && have.Instance != a.instance && have.Term >= rec.Term {
			c.letGo(have.Agent, have.Term)
			return false
		}
		if err == nil {
			c.mu.Lock()
			c.rev = rev
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.yielded {
		return false
	}
	now := time.Now()
	r := c.recordLocked(now)
	c.publishLocked(feed.Event{Kind: feed.KindStarted, Start: r.Start, Policy: r.Policy})
	if r.Session != nil {
		c.publishLocked(feed.Event{Kind: feed.KindSession, Session: r.Session})
	}
	if !c.detachedSince.IsZero() {
		c.publishLocked(feed.Event{Kind: feed.KindSideband, Sideband: c.sidebandLocked()})
	}
	c.publishLocked(feed.Event{Kind: feed.KindUsage, Usage: r.Usage, Policy: r.Policy})
	for i := range r.Flags {
		c.publishLocked(feed.Event{Kind: feed.KindFlag, Flag: &r.Flags[i]})
	}
	for i := range r.Warnings {
		c.publishLocked(feed.Event{Kind: feed.KindWarning, Warning: &r.Warnings[i]})
	}
	return true
}

// letGo stops following a call another agent owns now.
func (c *call) letGo(by string, term uint64) {
	c.mu.Lock()
	if c.ended || c.yielded {
		c.mu.Unlock()
		return
	}
	c.yielded = true
	c.mu.Unlock()
	c.a.log.Warn("another agent owns this call now; letting go", "call", c.id, "owner", by, "term", term)
	c.cancel()
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
}
