package agent

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
)

// call is one tracked call: its accountant, its publishing sequence and
// the goroutine that reads its sideband.
type call struct {
	a     *Agent
	id    string
	meta  Meta
	start time.Time

	ctx      context.Context // cancelled to stop reading: hangup done or agent closing
	cancel   context.CancelFunc
	done     chan struct{} // closed when life returns
	attached chan error    // the first attach's outcome (buffered)

	mu     sync.Mutex
	acct   *account
	seq    uint64
	dirty  bool
	ended  bool
	endReq *feed.End // how to report the end once our own hangup succeeded
	sub    *nats.Subscription
	budget budget
	conn   *websocket.Conn // the current sideband, for wrap-up messages
}

func newCall(a *Agent, id string, meta Meta) *call {
	ctx, cancel := context.WithCancel(a.ctx)
	return &call{a: a, id: id, meta: meta, start: time.Now(), ctx: ctx, cancel: cancel,
		done: make(chan struct{}), attached: make(chan error, 1), acct: newAccount(a.cfg.Prices)}
}

// model is the model that prices the call: the one OpenAI says the session
// runs (a dated snapshot falls back to its alias in the price table), else
// the one the app configured.
func (c *call) model() string {
	if m := c.acct.session.Model; m != "" {
		if _, ok := c.a.cfg.Prices.Lookup(m); ok || c.meta.Model == "" {
			return m
		}
	}
	return c.meta.Model
}

func (c *call) usageLocked(now time.Time) feed.Usage {
	return c.acct.snapshot(now, c.start, c.model())
}

// publishLocked sends one event of the call with the next sequence number.
// Publishing never blocks on NATS (the client buffers while disconnected),
// so holding the call's lock here cannot stall the sideband reader for long.
func (c *call) publishLocked(e feed.Event) {
	c.seq++
	e.Seq, e.CallID, e.Agent = c.seq, c.id, c.a.cfg.Name
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if err := c.a.feed.Publish(e); err != nil {
		c.a.log.Warn("publish", "call", c.id, "kind", e.Kind, "err", err)
	}
}

func (c *call) publishStarted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishLocked(feed.Event{Kind: feed.KindStarted, Start: &feed.Start{User: c.meta.User, Model: c.meta.Model, StartedAt: c.start.UTC()}, Policy: c.budget.effective})
}

// flushUsage publishes the call's usage if it changed since the last one.
func (c *call) flushUsage(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || c.ended {
		return
	}
	c.dirty = false
	u := c.usageLocked(now)
	c.publishLocked(feed.Event{Kind: feed.KindUsage, Usage: &u, Policy: c.budget.effective})
}

// finish publishes the call's end with its final usage, once.
func (c *call) finish(end feed.End) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	now := time.Now()
	if end.EndedAt.IsZero() {
		end.EndedAt = now.UTC()
	}
	u := c.usageLocked(now)
	c.publishLocked(feed.Event{Kind: feed.KindEnded, Usage: &u, End: &end})
	c.releaseBudgetLocked()
	sub := c.sub
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	c.charge(u.CostUSD)
	c.a.log.Info("call ended", "call", c.id, "reason", end.Reason, "detail", end.Detail)
}

// detach stops following a call without ending it (the agent is closing):
// the last totals are published, the call goes on at OpenAI.
func (c *call) detach() {
	c.mu.Lock()
	c.releaseBudgetLocked()
	sub := c.sub
	if !c.ended {
		u := c.usageLocked(time.Now())
		c.publishLocked(feed.Event{Kind: feed.KindUsage, Usage: &u})
	}
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
}

// ownEnd is the end our own hangup asked for, if any.
func (c *call) ownEnd() *feed.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReq
}

// flag publishes an abuse signal on the call.
func (c *call) flag(f feed.Flag) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishLocked(feed.Event{Kind: feed.KindFlag, Flag: &f})
	c.a.log.Warn("flag", "call", c.id, "kind", f.Kind, "message", f.Message)
}
