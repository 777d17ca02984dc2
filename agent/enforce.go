package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coder/websocket"

	"github.com/calltop/calltop/feed"
)

// zombieAfter is how long after our hangup succeeded a new response.done
// means the call is still billing.
const zombieAfter = time.Second

// budget is a call's policy state, guarded by the call's mutex.
type budget struct {
	policy    Policy
	credits   *feed.Micros // the user's credit when the call started; nil: no credit limit
	effective *feed.Policy // what events carry; nil when there is nothing to say
	marks     Marks
	// window and next are cost samples for the burn rate: window is 1–2
	// burn windows old, next becomes window when it is old enough.
	window, next *Sample
	cutting      bool // our policy hangup is in flight
	secTimer     *time.Timer
	hungUpAt     time.Time // our hangup succeeded at
	admitted     bool      // counted by Admission (released once at the end)
}

// setupBudget reads the call's policy and the user's credit, counts the
// call with Admission unless it was admitted already (returning a
// concurrency flag to publish when that puts the user over the limit),
// and arms a timer for max_seconds so a silent call is cut on time, not
// on the next event. It runs before the call's goroutine starts.
func (c *call) setupBudget() *feed.Flag {
	a := c.a
	if a.cfg.PolicyFor != nil {
		c.budget.policy = a.cfg.PolicyFor(c.meta.User)
	}
	if c.meta.admitted {
		c.budget.credits = c.meta.credits // read by admission a moment ago
	} else if a.cfg.Credits != nil {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		usd, ok, err := a.cfg.Credits.Remaining(ctx, c.meta.User)
		cancel()
		switch {
		case err != nil:
			a.log.Warn("credits unreadable; the call runs without a credit limit", "call", c.id, "user", c.meta.User, "err", err)
		case ok:
			c.budget.credits = &usd
		}
	}
	if p := c.budget.policy; p != (Policy{}) || c.budget.credits != nil {
		eff := p.Effective(c.budget.credits)
		c.budget.effective = &eff
	}
	var over *feed.Flag
	if !c.meta.admitted {
		over = a.adm.Register(c.meta.User, c.start)
		if over != nil {
			c.budget.marks.Note(Verdict{Flags: []feed.Flag{*over}})
		}
	}
	c.budget.admitted = true
	if d := c.budget.policy.MaxSeconds; d > 0 {
		c.budget.secTimer = time.AfterFunc(d, func() { c.enforce(time.Now()) })
	}
	return over
}

// releaseBudget undoes setupBudget's counting when the agent stops
// following the call. Called with c.mu held.
func (c *call) releaseBudgetLocked() {
	if c.budget.secTimer != nil {
		c.budget.secTimer.Stop()
	}
	if c.budget.admitted {
		c.budget.admitted = false
		c.a.adm.Release(c.meta.User)
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
	u := c.usageLocked(now)
	elapsed := now.Sub(c.start)
	if b.next == nil || elapsed-b.next.Elapsed >= b.policy.burnWindow() {
		b.window, b.next = b.next, &Sample{Elapsed: elapsed, CostUSD: u.CostUSD}
	}
	v := b.policy.Evaluate(Input{
		Credits: b.credits, Usage: u, Elapsed: elapsed, Now: now,
		ExpiresAt: c.acct.session.ExpiresAt, LastActivity: c.acct.lastActivity,
		Prices: c.a.cfg.Prices, Model: c.model(), Window: b.window, Marks: b.marks,
	})
	if v.Empty() {
		c.mu.Unlock()
		return
	}
	for i := range v.Warn {
		c.publishLocked(feed.Event{Kind: feed.KindWarning, Warning: &v.Warn[i]})
	}
	for i := range v.Flags {
		c.publishLocked(feed.Event{Kind: feed.KindFlag, Flag: &v.Flags[i]})
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
	err := c.a.Hangup(ctx, c.id, feed.End{Reason: feed.ReasonPolicy, Detail: CutDetail(limit), By: "agent " + c.a.cfg.Name})
	if err != nil {
		c.a.log.Error("policy hangup failed; will retry", "call", c.id, "limit", limit, "err", err)
		c.mu.Lock()
		c.budget.cutting = false
		c.mu.Unlock()
	}
}

// wrapUp asks the model, over the sideband, to close the conversation: a
// system message, then a response.
func (c *call) wrapUp(conn *websocket.Conn, w feed.Warning) {
	item, _ := json.Marshal(map[string]any{
		"type": "conversation.item.create",
		"item": map[string]any{"type": "message", "role": "system",
			"content": []map[string]string{{"type": "input_text", "text": WrapUpInstructions(w)}}},
	})
	ctx, cancel := context.WithTimeout(c.a.ctx, 5*time.Second)
	defer cancel()
	for _, msg := range [][]byte{item, []byte(`{"type":"response.create"}`)} {
		if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
			c.a.log.Warn("wrap-up not sent", "call", c.id, "err", err)
			return
		}
	}
	c.a.log.Info("asked the model to wrap up", "call", c.id, "limit", w.Limit)
}

// charge debits the user's credit with the call's final cost, once (the
// store dedupes by call ID), retrying while the store is unreachable until
// the agent closes, then once more.
func (c *call) charge(usd float64) {
	a := c.a
	if a.cfg.Credits == nil || c.budget.credits == nil || usd <= 0 {
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
		return a.cfg.Credits.Charge(ctx, c.meta.User, c.id, total)
	}
	run := func() {
		backoff := 200 * time.Millisecond
		for a.ctx.Err() == nil {
			err := try(a.ctx)
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
	f := feed.Flag{Kind: feed.FlagZombie, Message: "responses after our hangup succeeded: the call may still be billing",
		Evidence: map[string]string{"hung_up_at": b.hungUpAt.UTC().Format(time.RFC3339Nano), "seen_at": now.UTC().Format(time.RFC3339Nano)}}
	c.publishLocked(feed.Event{Kind: feed.KindFlag, Flag: &f})
	b.marks.Note(Verdict{Flags: []feed.Flag{f}})
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
