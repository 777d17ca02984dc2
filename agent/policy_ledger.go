package agent

import (
	"context"
	"sync"
	"time"

	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/feed"
)

// ledgerEvery is how often the balances of the users this agent serves are
// read even without a change signal: the safety net for a missed signal
// and the only way for a Credits that is not a credits.Watcher.
const ledgerEvery = time.Second

// ledger charges calls as they spend and keeps each call's credit up to
// date with what its user has left across every agent. For each user with
// a live call on this agent (a served user) it reads Credits.Remaining
// whenever the user's balance or live spend may have changed (a
// credits.Watcher's signal, or every ledgerEvery), and gives each of the
// user's calls here the credit it may still spend:
//
//	credit(call) = Remaining(user) + charged(call)
//
// Remaining deducts every live call's charges, this call's included, so a
// call is cut (policy:credits) when its spend not yet charged reaches what
// the user has left, whichever agent's call spent the rest.
//
// A user's charges from this agent and the reads of their balance take
// turns (servedUser.mu), so charged(call) is exact at the time of the read.
type ledger struct {
	a    *Agent
	mu   sync.Mutex
	by   map[string]*servedUser // by user
	keys map[string]string      // user key → user
	wake chan struct{}
}

type servedUser struct {
	mu    sync.Mutex // a charge or a read of this user's balance at a time
	calls map[*call]struct{}
	dirty bool
}

func newLedger(a *Agent) *ledger {
	return &ledger{a: a, by: make(map[string]*servedUser), keys: make(map[string]string), wake: make(chan struct{}, 1)}
}

// serve adds a call with a credit limit.
func (l *ledger) serve(c *call) {
	if l.a.cfg.Credits == nil {
		return
	}
	user := c.meta.User
	l.mu.Lock()
	su := l.by[user]
	if su == nil {
		su = &servedUser{calls: make(map[*call]struct{})}
		l.by[user], l.keys[feed.UserKey(user)] = su, user
	}
	su.calls[c] = struct{}{}
	l.mu.Unlock()
}

// drop removes a call that ended or left.
func (l *ledger) drop(c *call) {
	user := c.meta.User
	l.mu.Lock()
	defer l.mu.Unlock()
	su := l.by[user]
	if su == nil {
		return
	}
	delete(su.calls, c)
	if len(su.calls) == 0 {
		delete(l.by, user)
		delete(l.keys, feed.UserKey(user))
	}
}

// user is user's served state, created if needed (a charge may outlive
// the call's serving: the final one).
func (l *ledger) user(user string) *servedUser {
	l.mu.Lock()
	defer l.mu.Unlock()
	if su := l.by[user]; su != nil {
		return su
	}
	return &servedUser{calls: map[*call]struct{}{}}
}

// changed marks a user (by key) to be read again.
func (l *ledger) changed(userKey string) {
	l.mu.Lock()
	user, ok := l.keys[userKey]
	if ok {
		l.by[user].dirty = true
	}
	l.mu.Unlock()
	if ok {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// watch reads served users' balances on change signals and every
// ledgerEvery, until the agent closes.
func (l *ledger) watch() {
	if l.a.cfg.Credits == nil {
		return
	}
	if w, ok := l.a.cfg.Credits.(credits.Watcher); ok {
		stop, err := w.WatchChanges(l.changed)
		if err != nil {
			l.a.log.Warn("credit changes not watched; balances are read every second", "err", err)
		} else {
			defer stop()
		}
	}
	t := time.NewTicker(ledgerEvery)
	defer t.Stop()
	for {
		all := false
		select {
		case <-l.a.ctx.Done():
			return
		case <-t.C:
			all = true
		case <-l.wake:
		}
		for _, user := range l.due(all) {
			l.refresh(user)
		}
	}
}

// due lists the users to read: the dirty ones, or all.
func (l *ledger) due(all bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for user, su := range l.by {
		if all || su.dirty {
			su.dirty = false
			out = append(out, user)
		}
	}
	return out
}

// refresh reads what user has left and gives each of their calls here its
// credit, then evaluates them.
func (l *ledger) refresh(user string) {
	a := l.a
	su := l.user(user)
	l.mu.Lock()
	calls := make([]*call, 0, len(su.calls))
	for c := range su.calls {
		calls = append(calls, c)
	}
	l.mu.Unlock()
	if len(calls) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, 2*time.Second)
	defer cancel()
	su.mu.Lock()
	left, ok, err := a.cfg.Credits.Remaining(ctx, user)
	charged := make([]feed.Micros, len(calls))
	for i, c := range calls {
		c.mu.Lock()
		charged[i] = c.budget.charged
		c.mu.Unlock()
	}
	su.mu.Unlock()
	a.creditsRead(err)
	if err != nil {
		// The calls go on with the credit they had: their own spend still
		// counts against it.
		a.log.Warn("credits unreadable; calls keep their last credit", "user", user, "err", err)
		return
	}
	now := time.Now()
	for i, c := range calls {
		c.mu.Lock()
		var credit *feed.Micros
		if ok {
			v, err := feed.AddMicros(left, charged[i])
			if err != nil {
				v = left
			}
			credit = &v
		}
		// Only the limit Evaluate checks moves: events keep credits_usd as
		// what the user had when the call started, which dashboards build
		// their estimate of credit left on (docs/DASHBOARD.md).
		if !c.budget.creditsUnknown {
			c.budget.credits = credit
		}
		c.mu.Unlock()
		c.enforce(now)
	}
}

// chargeSpentLocked charges the call's running total (micro-dollars) as
// it spends, off the caller's goroutine, one charge per call at a time:
// when a charge lands and the cost moved meanwhile, the new total is
// charged at once, so a call's charges trail its cost by one round trip to
// NATS, not by an evaluation interval.
func (c *call) chargeSpentLocked(total feed.Micros) {
	b := &c.budget
	if b.charging || b.settled || total <= b.charged {
		return
	}
	b.charging = true
	ok := c.a.goTracked(func() {
		for {
			err := c.chargeSpent(total)
			c.mu.Lock()
			next, ok := feed.Micros(0), false
			if err == nil && !c.ended && !c.budget.settled {
				if u := c.usageLocked(time.Now()); !u.CostUnknown {
					next, err = feed.MicrosFromUSD(u.CostUSD)
					ok = err == nil && next > c.budget.charged
				}
			}
			if !ok {
				c.budget.charging = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			total = next
		}
	})
	if !ok {
		b.charging = false
	}
}

// chargeSpent makes one charge of total, in turn with the reads of the
// user's balance on this agent (see ledger).
func (c *call) chargeSpent(total feed.Micros) error {
	a := c.a
	su := a.ledger.user(c.meta.User)
	su.mu.Lock()
	c.mu.Lock()
	settled := c.budget.settled
	c.mu.Unlock()
	var err error
	if !settled {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		err = a.cfg.Credits.Charge(ctx, c.meta.User, c.id, total)
		cancel()
		if err == nil {
			// Before a read of the balance can see the charge.
			c.mu.Lock()
			c.budget.charged = max(c.budget.charged, total)
			c.mu.Unlock()
		}
	}
	su.mu.Unlock()
	a.creditsRead(err)
	if err != nil {
		a.log.Warn("charge as the call spends failed; the next evaluation tries again", "call", c.id, "err", err)
		return err
	}
	if _, watched := a.cfg.Credits.(credits.Watcher); !watched {
		a.ledger.changed(feed.UserKey(c.meta.User))
	}
	return nil
}

// settleOrphan settles a call its owner ended but died before settling
// (found by an adopter): its live spend would otherwise stay deducted
// from the user's credit. Settling is idempotent, so a call the owner did
// settle is not charged again.
func (a *Agent) settleOrphan(user, callID string, usd float64) {
	s, ok := a.cfg.Credits.(credits.Settler)
	if !ok || usd <= 0 {
		return
	}
	total, err := feed.MicrosFromUSD(usd)
	if err != nil {
		return
	}
	a.goTracked(func() {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		defer cancel()
		if err := s.Settle(ctx, user, callID, total); err != nil {
			a.log.Warn("a dead agent's ended call not settled", "call", callID, "user", user, "err", err)
		}
	})
}
