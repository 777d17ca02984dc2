package agent

import (
	"context"
	"errors"
	"math/rand/v2"
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

	ctx    context.Context // cancelled to stop reading: hangup done or agent closing
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	mu     sync.Mutex
	acct   *account
	seq    uint64
	dirty  bool
	ended  bool
	endReq *feed.End // how to report the end once our own hangup succeeded
	sub    *nats.Subscription
}

func newCall(a *Agent, id string, meta Meta) *call {
	ctx, cancel := context.WithCancel(a.ctx)
	return &call{a: a, id: id, meta: meta, start: time.Now(), ctx: ctx, cancel: cancel, done: make(chan struct{}), acct: newAccount()}
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
	return c.acct.snapshot(now, c.start, c.model(), c.a.cfg.Prices)
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
	c.publishLocked(feed.Event{Kind: feed.KindStarted, Start: &feed.Start{User: c.meta.User, Model: c.meta.Model, StartedAt: c.start.UTC()}})
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
	c.publishLocked(feed.Event{Kind: feed.KindUsage, Usage: &u})
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
	sub := c.sub
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	c.a.log.Info("call ended", "call", c.id, "reason", end.Reason, "detail", end.Detail)
}

// detach stops following a call without ending it (the agent is closing):
// the last totals are published, the call goes on at OpenAI.
func (c *call) detach() {
	c.mu.Lock()
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

// run reads the sideband until the call ends or the agent closes,
// re-attaching after transport drops.
func (c *call) run(conn *websocket.Conn) {
	defer close(c.done)
	defer c.a.forget(c)
	for {
		end, again := c.read(conn)
		if !again {
			if end == nil {
				c.detach()
			} else {
				c.finish(*end)
			}
			return
		}
		var err error
		conn, err = c.reattach()
		if err != nil {
			if c.ctx.Err() != nil {
				if end := c.ownEnd(); end != nil {
					c.finish(*end)
				} else {
					c.detach()
				}
				return
			}
			reason := feed.ReasonError
			if errors.Is(err, ErrCallNotFound) {
				reason = feed.ReasonGone
			}
			c.finish(feed.End{Reason: reason, Detail: err.Error()})
			return
		}
	}
}

// ownEnd is the end our own hangup asked for, if any.
func (c *call) ownEnd() *feed.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReq
}

// reattach dials again with capped exponential backoff and full jitter,
// giving up after AttachTries failures or at once on 404/410.
func (c *call) reattach() (*websocket.Conn, error) {
	backoff := 100 * time.Millisecond
	var err error
	for try := 1; try <= c.a.cfg.AttachTries; try++ {
		wait := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		select {
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		case <-time.After(wait):
		}
		var conn *websocket.Conn
		conn, err = c.attach(c.ctx)
		if err == nil {
			c.a.log.Info("re-attached", "call", c.id, "try", try)
			return conn, nil
		}
		if errors.Is(err, ErrCallNotFound) || errors.Is(err, errUnauthorized) || c.ctx.Err() != nil {
			return nil, err
		}
		c.a.log.Warn("re-attach failed", "call", c.id, "try", try, "err", err)
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil, err
}
