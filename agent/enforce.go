package agent

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// zombieAfter is how long after our hangup succeeded a new response.done
// means the call is still billing.
const zombieAfter = time.Second

// creditsRetry is how often a call whose user's credit could not be read
// reads it again.
const creditsRetry = 5 * time.Second

// budget is a call's policy state, guarded by the call's mutex.
type budget struct {
	policy    policy.Policy
	credits   *feed.Micros          // the user's credit when the call started; nil: no credit limit
	effective *feed.EffectivePolicy // what events carry; nil when there is nothing to say
	// creditsUnknown is set while the user's credit could not be read:
	// the call runs as policy.Policy.CreditsUnavailable says and reads it again
	// every creditsRetry (creditsTried: the last try). creditsFlag is the
	// flag to raise once the call is published.
	creditsUnknown bool
	creditsTried   time.Time
	creditsFlag    *feed.Flag
	marks          policy.Marks
	// window and next are cost samples for the burn rate: window is 1–2
	// burn windows old, next becomes window when it is old enough.
	window, next *policy.Sample
	cutting      bool // our policy hangup is in flight
	secTimer     *time.Timer
	hungUpAt     time.Time // our hangup succeeded at
	admitted     bool      // counted by policy.Admission (released once at the end)
	// charged is the running total Credits.Charge took last; charging:
	// a charge is in flight; settled: the final charge began, no more
	// charges as the call spends (see ledger).
	charged           feed.Micros
	charging, settled bool
	served            bool // in the ledger
}

// setupBudget reads the call's policy and the user's credit, counts the
// call with policy.Admission unless it was admitted already (returning a
// concurrency flag to publish when that puts the user over the limit),
// and arms a timer for max_seconds so a silent call is cut on time, not
// on the next event. It runs before the call's goroutine starts.
func (c *call) setupBudget() *feed.Flag {
	a := c.a
	if a.cfg.PolicyFor != nil {
		c.budget.policy = a.cfg.PolicyFor(c.meta.User)
	}
	switch {
	case c.meta.admitted && c.meta.creditsUnknown:
		c.creditsUnreadable(errors.New("unreadable at admission"))
	case c.meta.admitted:
		c.budget.credits = c.meta.credits // read by admission a moment ago
	case a.cfg.Credits != nil:
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		usd, ok, err := a.cfg.Credits.Remaining(ctx, c.meta.User)
		cancel()
		a.creditsRead(err)
		switch {
		case err != nil:
			c.creditsUnreadable(err)
		case ok:
			if c.term > 1 {
				// Adopted: what the former owner charged is in Remaining
				// already; count it as this call's own (see ledger).
				if m, err := feed.MicrosFromUSD(c.acct.usage.CostUSD); err == nil {
					c.budget.charged = m
					usd, _ = feed.AddMicros(usd, m)
				}
			}
			c.budget.credits = &usd
		}
	}
	c.budget.setEffective()
	var over *feed.Flag
	if !c.meta.admitted {
		a.counts.enter(c.meta.User, c.term > 1, c.start)
		over = a.adm.Register(c.meta.User, c.start)
		if over != nil {
			c.budget.marks.Note(policy.Verdict{Flags: []feed.Flag{*over}})
		}
	}
	c.budget.admitted = true
	if a.cfg.Credits != nil && (c.budget.credits != nil || c.budget.creditsUnknown) {
		c.budget.served = true
		a.ledger.serve(c)
	}
	if d := c.budget.policy.MaxSeconds; d > 0 {
		c.budget.secTimer = time.AfterFunc(d, func() { c.enforce(time.Now()) })
	}
	return over
}

// setEffective recomputes the policy events carry.
func (b *budget) setEffective() {
	if p := b.policy; p != (policy.Policy{}) || b.credits != nil {
		eff := p.Effective(b.credits)
		b.effective = &eff
	}
}

// creditsUnreadable notes that the user's credit could not be read when
// the call started. The call goes on (OpenAI has it already; only new
// calls can be refused), flagged, and reads the credit again every
// creditsRetry; with credits_unavailable "hangup" it is cut instead.
func (c *call) creditsUnreadable(err error) {
	mode := c.budget.policy.CreditsUnavailableMode()
	c.budget.creditsUnknown, c.budget.creditsTried = true, time.Now()
	c.budget.creditsFlag = &feed.Flag{Kind: feed.FlagCreditsUnavailable,
		Message:  "the user's credit could not be read: no credit limit until it can",
		Evidence: map[string]string{"error": err.Error(), "credits_unavailable": mode}}
	if mode == policy.CreditsHangup {
		c.budget.creditsFlag.Message = "the user's credit could not be read: the call is cut (credits_unavailable: hangup)"
	}
	c.a.log.Warn("credits unreadable", "call", c.id, "user", c.meta.User, "credits_unavailable", mode, "err", err)
}

// retryCredits reads the credit of a call that started without it, off
// the caller's goroutine; once read, the limit applies from the next
// evaluation.
func (c *call) retryCredits() {
	c.a.goTracked(func() {
		a := c.a
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		usd, ok, err := a.cfg.Credits.Remaining(ctx, c.meta.User)
		cancel()
		a.creditsRead(err)
		if err != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.budget.creditsUnknown = false
		if ok {
			c.budget.credits = &usd
		}
		c.budget.setEffective()
		c.policyMoved = true
		c.costMovedLocked(time.Now())
		a.log.Info("credits readable again; the call's credit limit applies", "call", c.id, "user", c.meta.User)
	})
}

// releaseBudget undoes setupBudget's counting when the agent stops
// following the call. Called with c.mu held.
func (c *call) releaseBudgetLocked() {
	if c.budget.secTimer != nil {
		c.budget.secTimer.Stop()
	}
	if c.budget.admitted {
		c.budget.admitted = false
		c.a.release(c.meta.User)
	}
	if c.budget.served {
		c.budget.served = false
		c.a.ledger.drop(c)
	}
}

// enforce evaluates the call's policy at now: it publishes new warnings
// and flags, tells the model to wrap up if the policy asks, and hangs the
// call up when a limit is reached. Decisions are local: they hold while
// NATS is down (the events wait in the client's reconnect buffer).
func (c *call) enforce(now time.Time) {
	c.mu.Lock()
	if c.ended || c.budget.cutting || c.a.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	b := &c.budget
	if b.creditsUnknown && c.a.cfg.Credits != nil && now.Sub(b.creditsTried) >= creditsRetry {
		b.creditsTried = now
		c.retryCredits()
	}
	u := c.usageLocked(now)
	if b.served && !u.CostUnknown {
		if total, err := feed.MicrosFromUSD(u.CostUSD); err == nil {
			c.chargeSpentLocked(total)
		}
	}
	elapsed := now.Sub(c.start)
	if b.next == nil || elapsed-b.next.Elapsed >= b.policy.BurnWindowOrDefault() {
		b.window, b.next = b.next, &policy.Sample{Elapsed: elapsed, CostUSD: u.CostUSD}
	}
	v := b.policy.Evaluate(policy.Input{
		Credits: b.credits, Usage: u, Elapsed: elapsed, Now: now,
		ExpiresAt: c.acct.session.ExpiresAt, Cap: c.sessionCap(), LastActivity: c.acct.lastActivity,
		AudioMinuteUSD: audioMinuteOf(c.a.cfg.Prices, c.model()), Model: c.model(), Window: b.window, Marks: b.marks,
	})
	if v.Cut == nil && b.creditsUnknown && b.policy.CreditsUnavailableMode() == policy.CreditsHangup {
		l := feed.LimitCreditsUnavailable
		v.Cut = &l
	}
	if v.Empty() {
		c.mu.Unlock()
		return
	}
	for i := range v.Warn {
		c.warnLocked(v.Warn[i])
	}
	for i := range v.Flags {
		c.flagLocked(v.Flags[i])
	}
	b.marks.Note(v)
	var cut feed.Limit
	if v.Cut != nil {
		cut, b.cutting = *v.Cut, true
	}
	conn := c.conn
	c.mu.Unlock()

	if v.WrapUp && conn != nil && len(v.Warn) > 0 {
		c.a.goTracked(func() { c.wrapUp(conn, v.Warn[0]) })
	}
	if cut != "" {
		c.a.log.Info("policy limit reached; hanging up", "call", c.id, "limit", cut)
		if !c.a.goTracked(func() { c.cut(cut) }) {
			c.mu.Lock()
			b.cutting = false
			c.mu.Unlock()
		}
	}
}

// cut hangs the call up for a policy limit; on failure the next
// evaluation tries again.
func (c *call) cut(limit feed.Limit) {
	ctx, cancel := context.WithTimeout(c.a.ctx, 20*time.Second)
	defer cancel()
	err := c.a.hangup(ctx, c.id, feed.End{Reason: feed.ReasonPolicy, Detail: policy.CutDetail(limit), By: "agent " + c.a.cfg.Name}, policy.CutDetail(limit))
	if err != nil {
		c.a.log.Error("policy hangup failed; will retry", "call", c.id, "limit", limit, "err", err)
		c.mu.Lock()
		c.budget.cutting = false
		c.mu.Unlock()
	}
}

// wrapUp asks the model, over the sideband, to close the conversation: on
// Realtime a system message, then a response; on GPT-Live appended
// instructions (session.instructions.append, the sideband's way to steer
// a running session; the model speaks on its own turn).
func (c *call) wrapUp(conn *websocket.Conn, w feed.Warning) {
	msgs := wrapUpMessages(c.live(), policy.WrapUpInstructions(w))
	ctx, cancel := context.WithTimeout(c.a.ctx, 5*time.Second)
	defer cancel()
	for _, msg := range msgs {
		if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
			c.a.log.Warn("wrap-up not sent", "call", c.id, "err", err)
			return
		}
	}
	c.a.log.Info("asked the model to wrap up", "call", c.id, "limit", w.Limit)
}

// charge records the call's cost so far, usd, against the user's credit:
// a charge says "this call's total is now usd" (Credits.Charge), so it can
// be repeated by a retry, a restart or the agent that takes the call over
// without ever counting twice. limited says the user has (or may have) a
// credit limit; without one nothing is charged. final says the call ended:
// then a credits.Settler settles it (its live spend into the balance). It
// retries while the store is unreachable until the agent closes, then
// once more.
func (c *call) charge(usd float64, limited, final bool) {
	a := c.a
	if a.cfg.Credits == nil || !limited || usd <= 0 {
		return
	}
	total, err := feed.MicrosFromUSD(usd)
	if err != nil {
		a.log.Error("charge: the call's cost is no amount; the call is not charged", "call", c.id, "user", c.meta.User, "err", err)
		return
	}
	try := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		// After the charges in flight as the call spent, never before
		// (a spend landing after the settle would count twice).
		su := a.ledger.user(c.meta.User)
		su.mu.Lock()
		defer su.mu.Unlock()
		if !final {
			return a.cfg.Credits.Charge(ctx, c.meta.User, c.id, total)
		}
		c.mu.Lock()
		c.budget.settled = true
		c.mu.Unlock()
		if s, ok := a.cfg.Credits.(credits.Settler); ok {
			return s.Settle(ctx, c.meta.User, c.id, total)
		}
		return a.cfg.Credits.Charge(ctx, c.meta.User, c.id, total)
	}
	run := func() {
		backoff := 200 * time.Millisecond
		for a.ctx.Err() == nil {
			err := try(a.ctx)
			a.creditsRead(err)
			if err == nil {
				a.log.Info("charged", "call", c.id, "user", c.meta.User, "usd", usd)
				return
			}
			a.log.Warn("charge failed; retrying", "call", c.id, "err", err)
			select {
			case <-a.ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		if err := try(context.Background()); err != nil {
			a.log.Error("charge failed; the call is not charged", "call", c.id, "user", c.meta.User, "usd", usd, "err", err)
		}
	}
	if !a.goTracked(run) {
		run()
	}
}

// noteZombie flags a call that still produces responses after our hangup
// succeeded: OpenAI may still be billing it. Called with c.mu held.
func (c *call) noteZombieLocked(now time.Time, responsesBefore int) {
	b := &c.budget
	if b.hungUpAt.IsZero() || now.Sub(b.hungUpAt) < zombieAfter || c.acct.usage.Responses == responsesBefore || b.marks.Flagged[feed.FlagZombie] {
		return
	}
	c.flagLocked(feed.Flag{Kind: feed.FlagZombie, Message: "responses after our hangup succeeded: the call may still be billing",
		Evidence: map[string]string{"hung_up_at": b.hungUpAt.UTC().Format(time.RFC3339Nano), "seen_at": now.UTC().Format(time.RFC3339Nano)}})
}

// goTracked runs fn in a goroutine that Close waits for, unless the agent
// is closed (then it reports false and runs nothing).
func (a *Agent) goTracked(fn func()) bool {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		fn()
	}()
	return true
}

// wrapUpMessages are the client events that carry a wrap-up instruction.
func wrapUpMessages(live bool, text string) [][]byte {
	if live {
		m, _ := json.Marshal(map[string]any{"type": "session.instructions.append", "delegation_id": nil, "content": text})
		return [][]byte{m}
	}
	item, _ := json.Marshal(map[string]any{
		"type": "conversation.item.create",
		"item": map[string]any{"type": "message", "role": "system",
			"content": []map[string]string{{"type": "input_text", "text": text}}},
	})
	return [][]byte{item, []byte(`{"type":"response.create"}`)}
}
