package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// adoption is what an agent taking a call over carries on: the call's new
// ownership record, its totals so far, and when the former owner last
// read it (the gap since is counted when the sideband attaches).
type adoption struct {
	rec      feed.Owner
	rev      uint64
	from     string // the former owner's name
	usage    feed.Usage
	session  feed.Session
	flags    []feed.Flag
	warnings []feed.Warning
	gapFrom  time.Time
}

// apply sets up a new call as the continuation of the adopted one.
func (ad *adoption) apply(c *call) {
	c.start = ad.rec.StartedAt
	c.term, c.rev, c.ownedSince = ad.rec.Term, ad.rev, ad.rec.Since
	c.acct.lastActivity = time.Now() // silence is measured from the takeover
	c.acct.usage = ad.usage
	c.acct.session = ad.session
	c.flags, c.warnings = ad.flags, ad.warnings
	for _, f := range ad.flags {
		c.budget.marks.Note(policy.Verdict{Flags: []feed.Flag{f}})
	}
	c.budget.marks.Note(policy.Verdict{Warn: ad.warnings})
	c.gapFrom = ad.gapFrom
	c.a.stats.adopted(c, ad.usage)
}

// sweep scans every ownership record and takes over the calls whose owner
// died or handed them over, in random order so that agents scanning at
// once share the work (each call goes to exactly one of them: see adopt).
func (a *Agent) sweep() {
	o := a.fleet.ownersNow()
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	entries, err := o.All(ctx)
	if err != nil {
		a.log.Warn("ownership scan failed", "err", err)
		return
	}
	rand.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	now := time.Now()
	adopted := 0
	for _, e := range entries {
		if a.ctx.Err() != nil {
			return
		}
		if e.Instance == a.instance || a.lookup(e.CallID) != nil {
			continue
		}
		a.peers.owns(e.Instance, e.Agent, e.Since)
		if !e.Released && !a.fleet.ownerDead(e.Owner, now) {
			continue
		}
		switch err := a.adopt(e); {
		case err == nil:
			adopted++
		case errors.Is(err, feed.ErrOwnerChanged), errors.Is(err, ErrClosed):
		default:
			a.log.Warn("adoption failed; the next scan tries again", "call", e.CallID, "err", err)
		}
	}
	if adopted > 0 {
		a.log.Info("adopted calls of agents that are gone", "calls", adopted)
	}
}

// adopt takes a call over from its former owner. The ownership record
// changes hands by compare-and-set at the revision read, so of several
// agents adopting at once exactly one succeeds (the others get
// feed.ErrOwnerChanged). The new owner tells the former one (in case it
// is only cut off, not dead), then either finishes a call that had already
// ended, or tracks it on: same start, totals carried on from the last ones
// published (or handed over), a term one higher so its events win.
func (a *Agent) adopt(e feed.OwnerEntry) error {
	o := a.fleet.ownersNow()
	if o == nil {
		return errors.New("adopt: NATS not connected")
	}
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	now := time.Now()
	rec := e.Owner
	rec.Agent, rec.Instance, rec.Term, rec.Since = a.cfg.Name, a.instance, e.Term+1, now.UTC()
	rec.Released, rec.ReleasedAt, rec.Usage = false, time.Time{}, nil
	rev, err := o.Take(ctx, rec, e.Rev)
	if err != nil {
		return err
	}
	a.tellFormerOwner(e.Owner, rec.Term)
	ad := &adoption{rec: rec, rev: rev, from: e.Agent, gapFrom: e.Since}
	if e.Released && e.Usage != nil {
		ad.usage, ad.gapFrom = *e.Usage, e.ReleasedAt
	}
	st, err := a.feed.CallState(ctx, e.CallID)
	if err != nil {
		a.log.Warn("adopting without the call's published state", "call", e.CallID, "err", err)
	}
	if st != nil {
		if !st.Live() {
			// Its owner ended it and died before storing the record.
			a.finishAdoptedEnded(ctx, st, rec, rev)
			return nil
		}
		if !e.Released {
			ad.usage = st.Usage
			if t := st.UsageAt; t.After(ad.gapFrom) {
				ad.gapFrom = t
			}
		}
		ad.session = feed.Session{SessionID: st.SessionID, Model: st.Model, ExpiresAt: st.ExpiresAt}
		ad.flags, ad.warnings = st.Flags, st.Warnings
		if st.User != "" && rec.User == "" {
			rec.User = st.User
		}
	}
	if ad.gapFrom.IsZero() {
		ad.gapFrom = now
	}
	c, err := a.register(a.ctx, e.CallID, Meta{User: rec.User, Model: rec.Model, API: rec.API}, ad)
	if err != nil {
		return fmt.Errorf("adopt %s: %w", e.CallID, err)
	}
	if c != nil {
		a.log.Info("adopted call", "call", e.CallID, "from", e.Agent, "term", rec.Term, "handed_over", e.Released)
	}
	return nil
}

// tellFormerOwner says "this call is mine now" to the instance that owned
// it: if it is alive after all (cut off from NATS for a while), it stops
// following the call.
func (a *Agent) tellFormerOwner(old feed.Owner, term uint64) {
	data, _ := json.Marshal(yieldMsg{CallID: old.CallID, Term: term, Agent: a.cfg.Name})
	if err := a.feed.NC.Publish(a.feed.Subjects.Yield(old.Instance), data); err != nil {
		a.log.Warn("could not tell the former owner", "call", old.CallID, "err", err)
	}
}

// finishAdoptedEnded stores the final record of a call whose owner
// published its end but died before storing the record, then releases
// the ownership record.
func (a *Agent) finishAdoptedEnded(ctx context.Context, st *feed.CallState, rec feed.Owner, rev uint64) {
	ended := st.Ended
	msg, err := a.feed.FinalMessage(ended)
	if err != nil {
		a.log.Warn("final record of an adopted call", "call", rec.CallID, "err", err)
		return
	}
	o := a.fleet.ownersNow()
	err = a.outbox.Add(a.feed.PublishStep(msg, true, nil), func(ctx context.Context) error {
		if o == nil {
			return nil
		}
		return o.Release(ctx, rec.CallID, rev)
	})
	if err != nil {
		a.log.Error("final record not queued", "call", rec.CallID, "err", err)
	}
	if ended.Usage != nil {
		a.settleOrphan(rec.User, rec.CallID, ended.Usage.CostUSD)
	}
}

// yield stops following a call another agent took over at a higher term:
// without a word, since the new owner speaks for the call now.
func (c *call) yield(term uint64, by string) {
	c.mu.Lock()
	mine := c.term
	c.mu.Unlock()
	if term > mine {
		c.letGo(by, term)
	}
}
