package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/coder/websocket"

	"github.com/calltop/calltop/feed"
)

// goneTries bounds attaches answered 404/410: OpenAI has been seen to
// answer 404 for a call created a moment ago, so a few tries are worth it,
// but a call that is really gone must not cause a retry storm.
const goneTries = 3

// Track follows a call: it publishes started at once, answers terminate
// requests for it, attaches its sideband and accounts for it until the
// call ends or the agent closes. It waits for the first attach and returns
// its outcome: nil once attached, ErrCallNotFound when OpenAI does not know
// the call (after goneTries tries; the call is then published as ended
// "gone"). If ctx ends first, Track returns ctx's error and the tracking
// goes on. Tracking a call already tracked returns nil at once.
func (a *Agent) Track(ctx context.Context, callID string, meta Meta) error {
	c, err := a.register(callID, meta)
	if err != nil || c == nil {
		return err
	}
	select {
	case err := <-c.attached:
		if err != nil {
			return fmt.Errorf("track %s: %w", callID, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("track %s: %w (still attaching in the background)", callID, ctx.Err())
	}
}

// TrackAsync is Track without the wait, for paths that must answer
// quickly (the SDP relay answers the browser while the sideband attaches).
// It returns only validation errors and ErrClosed.
func (a *Agent) TrackAsync(callID string, meta Meta) error {
	_, err := a.register(callID, meta)
	return err
}

// register adds a call and starts its goroutine; nil, nil if it was
// already tracked.
func (a *Agent) register(callID string, meta Meta) (*call, error) {
	if err := feed.ValidateCallID(callID); err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, fmt.Errorf("track %s: %w", callID, ErrClosed)
	}
	if _, ok := a.calls[callID]; ok {
		a.mu.Unlock()
		return nil, nil
	}
	c := newCall(a, callID, meta)
	a.calls[callID] = c
	a.wg.Add(1)
	a.mu.Unlock()

	over := c.setupBudget()
	c.publishStarted()
	if over != nil {
		c.flag(*over)
	}
	if err := c.serveTerminate(); err != nil {
		a.log.Warn("terminate requests will not reach this call", "call", callID, "err", err)
	}
	go func() {
		defer a.wg.Done()
		c.life()
	}()
	return c, nil
}

// life is the call's one goroutine: attach, read (re-attaching after
// transport drops), and publish how it ended.
func (c *call) life() {
	defer close(c.done)
	defer c.a.forget(c)
	conn, err := c.attachRetrying(true)
	c.attached <- err
	if err != nil {
		c.giveUp(err)
		return
	}
	for {
		c.mu.Lock()
		c.conn = conn
		c.mu.Unlock()
		end, again := c.read(conn)
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		if !again {
			if end == nil {
				c.detach()
			} else {
				c.finish(*end)
			}
			return
		}
		if conn, err = c.attachRetrying(false); err != nil {
			c.giveUp(err)
			return
		}
	}
}

// giveUp ends a call whose sideband could not be attached: as our own
// hangup asked, as detached when the agent is closing, else gone or error.
func (c *call) giveUp(err error) {
	if end := c.ownEnd(); end != nil {
		c.finish(*end)
		return
	}
	if c.ctx.Err() != nil {
		c.detach()
		return
	}
	reason := feed.ReasonError
	if errors.Is(err, ErrCallNotFound) {
		reason = feed.ReasonGone
	}
	c.finish(feed.End{Reason: reason, Detail: err.Error()})
}

// attachRetrying dials until it succeeds, with capped exponential backoff
// and full jitter: at most goneTries answers of 404/410, at most
// AttachTries failures in all, none after a 401/403. The first attach of a
// call starts at once; a re-attach waits first.
func (c *call) attachRetrying(first bool) (*websocket.Conn, error) {
	backoff := 200 * time.Millisecond
	gone := 0
	var err error
	for try := 1; try <= c.a.cfg.AttachTries; try++ {
		if !first || try > 1 {
			wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
			select {
			case <-c.ctx.Done():
				return nil, c.ctx.Err()
			case <-time.After(wait):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		var conn *websocket.Conn
		conn, err = c.attach(c.ctx)
		if err == nil {
			if try > 1 || !first {
				c.a.log.Info("attached after retries", "call", c.id, "try", try)
			}
			return conn, nil
		}
		if c.ctx.Err() != nil || errors.Is(err, errUnauthorized) {
			return nil, err
		}
		if errors.Is(err, ErrCallNotFound) {
			if gone++; gone >= goneTries {
				return nil, err
			}
		}
		c.a.log.Warn("attach failed", "call", c.id, "try", try, "err", err)
	}
	return nil, err
}
