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

// goneTries bounds attaches answered 404/410 before a call that was never
// attached is given up as gone: OpenAI has been seen to answer 404 for a
// call created a moment ago, so a few tries are worth it, but a call that
// is really gone must not cause a retry storm. Once a call was attached, one
// 404 is OpenAI saying it ended.
const goneTries = 3

// Errors of Track, for errors.Is.
var (
	// ErrTrackedElsewhere: another live agent of the fleet owns the call
	// (for the same user: it is tracked, by that agent). errors.As with
	// *feed.OwnedError says which.
	ErrTrackedElsewhere = errors.New("call tracked by another agent")
	// ErrOtherUser: the call is tracked already, for another user; a
	// call belongs to one user, so the second registration is refused.
	ErrOtherUser = errors.New("call tracked for another user")
)

// A TrackOption changes how Track registers a call: Async, WithClientSecret.
type TrackOption func(*trackOptions)

type trackOptions struct {
	async  bool
	secret string
}

// Async makes Track return as soon as the call is registered (owned by
// this agent in NATS, its started event published, terminate requests
// answered), without waiting for its sideband to attach: for paths that
// must answer quickly, such as a webhook or the sidecar's POST /v1/calls.
// Track then returns only the registration's errors (an invalid call ID,
// ErrTrackedElsewhere, ErrOtherUser, ErrClosed, ctx's); how the attach
// goes shows on the call (detached, or ended "gone").
func Async() TrackOption { return func(o *trackOptions) { o.async = true } }

// WithClientSecret tells Track the ephemeral key the browser created the
// call with (the value MintClientSecret returned), so the agent can check
// the claim against what it minted: a key claimed by a second call, or
// for another user than the one it was minted for, raises a flag on the
// call (key_reused, key_other_user), and a minted key that no call claims
// is flagged key_unclaimed when it expires. A key this agent did not mint
// (another agent did, or it is forgotten) is not checked. The key is
// never stored or published, only its Fingerprint; an empty secret is
// ignored.
func WithClientSecret(secret string) TrackOption {
	return func(o *trackOptions) { o.secret = secret }
}

// Track follows a call: it records this agent as the call's owner in NATS,
// publishes started at once, answers terminate requests for it, attaches
// its sideband and accounts for it until OpenAI says the call ended or the
// agent closes. meta.API says which voice API the call runs on: a GPT-Live
// session whose ID does not start "live_" needs feed.APILive.
//
// Track waits for the first attach (Async does not) and returns its
// outcome: nil once attached, ErrCallNotFound when OpenAI does not know
// the call (after 3 tries; the call is then published as ended
// "gone"), or ErrUnauthorized when OpenAI refuses the agent's key (the
// agent keeps trying in the background and shows the call detached).
//
// ctx bounds the registration and the wait, not the tracking: if ctx ends
// before the call is registered, Track returns ctx's error and the call
// is not tracked; once it is, the tracking goes on until OpenAI ends the
// call (Track then returns ctx's error, saying it is still attaching).
// Tracking a call already tracked here returns nil at once; a call another
// live agent owns returns ErrTrackedElsewhere (ErrOtherUser if for another
// user); a call whose owner died is taken over with its totals so far.
func (a *Agent) Track(ctx context.Context, callID string, meta Meta, opts ...TrackOption) error {
	var o trackOptions
	for _, opt := range opts {
		opt(&o)
	}
	c, err := a.register(ctx, callID, meta, nil)
	if err != nil {
		return err
	}
	if o.secret != "" {
		a.claimSecret(callID, meta.User, o.secret)
	}
	if c == nil || o.async {
		return nil
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

// register adds a call and starts its goroutine; nil, nil if it was
// already tracked here. ad is set when the call is taken over from
// another agent. The call's ownership and budget are set up before it
// becomes visible to the agent's other goroutines; ctx bounds the
// ownership claim.
func (a *Agent) register(ctx context.Context, callID string, meta Meta, ad *adoption) (*call, error) {
	if err := feed.ValidateCallID(callID); err != nil {
		return nil, fmt.Errorf("track: %w", err)
	}
	a.mu.Lock()
	have, tracked := a.calls[callID]
	closed := a.closed
	a.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("track %s: %w", callID, ErrClosed)
	case tracked && meta.User != "" && have.meta.User != "" && have.meta.User != meta.User:
		return nil, fmt.Errorf("track %s for %q: %w (%q)", callID, meta.User, ErrOtherUser, have.meta.User)
	case tracked:
		return nil, nil
	}
	c := newCall(a, callID, meta)
	if ad != nil {
		ad.apply(c)
	} else {
		taken, err := c.claim(ctx)
		if err != nil || taken {
			return nil, err // taken: adopted from a dead owner, registered already
		}
	}
	over := c.setupBudget()
	a.mu.Lock()
	_, tracked = a.calls[callID]
	if a.closed || tracked {
		a.mu.Unlock()
		c.mu.Lock()
		c.releaseBudgetLocked()
		c.mu.Unlock()
		if tracked {
			return nil, nil
		}
		return nil, fmt.Errorf("track %s: %w", callID, ErrClosed)
	}
	a.calls[callID] = c
	a.wg.Add(1)
	a.mu.Unlock()

	c.publishStarted()
	if f := apiMismatch(c.api, meta.Model, "the app configured"); f != nil {
		c.flag(*f)
	}
	if over != nil {
		c.flag(*over)
	}
	if f := c.budget.creditsFlag; f != nil {
		c.flag(*f)
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

// life is the call's one goroutine: attach, read, re-attach after every
// drop for as long as OpenAI has not ended the call, and publish how it
// ended.
func (c *call) life() {
	defer close(c.done)
	defer c.a.forget(c)
	var drop *dropInfo
	for {
		conn, err := c.attachLoop(drop)
		if err != nil {
			c.giveUp(err, drop)
			return
		}
		c.setAttached(conn, time.Now())
		c.a.stats.attached(drop != nil)
		end, d := c.read(conn)
		c.dropped(time.Now())
		if d == nil {
			if end == nil {
				c.leave()
			} else {
				c.finish(*end)
			}
			return
		}
		drop = d
	}
}

// dropInfo is how a sideband that was attached stopped: the next attach
// says whether OpenAI ended the call.
type dropInfo struct {
	at     time.Time
	detail string
	// clean: a 1000/1001 close, which OpenAI sends when a call ends and a
	// proxy sends when it restarts; a 404 on re-attach tells them apart.
	clean bool
	// expired: OpenAI said session_expired before the close.
	expired bool
}

// attachLoop dials until the sideband is attached or the call is over. A
// call that was attached re-attaches at once once, to tell a call that
// ended (404) from a blip, then shows as detached and retries with capped,
// jittered backoff for as long as it takes: only OpenAI ends a call. It
// returns ErrCallNotFound when OpenAI says the call is gone, or ctx's
// error when the agent stops reading (hangup, close, takeover). The first
// attach's outcome goes to Track's waiter: success, gone, or a refused
// key.
func (c *call) attachLoop(drop *dropInfo) (*websocket.Conn, error) {
	first := drop == nil && !c.attachedOnce()
	backoff := 200 * time.Millisecond
	gone := 0
	for try := 1; ; try++ {
		if try > 1 {
			wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
			select {
			case <-c.ctx.Done():
				return nil, c.ctx.Err()
			case <-time.After(wait):
			}
			backoff = min(backoff*2, c.a.cfg.ReattachMax)
		}
		conn, err := c.attach(c.ctx)
		if err == nil {
			if first {
				c.reportAttach(nil)
			} else if try > 1 {
				c.a.log.Info("attached after retries", "call", c.id, "try", try)
			}
			return conn, nil
		}
		if c.ctx.Err() != nil {
			return nil, c.ctx.Err()
		}
		if errors.Is(err, ErrCallNotFound) {
			gone++
			if c.attachedOnce() || gone >= goneTries {
				c.reportAttach(err)
				return nil, err
			}
			continue
		}
		if errors.Is(err, ErrUnauthorized) {
			c.reportAttach(err) // tell the caller; keep trying meanwhile
		}
		since := time.Now()
		if drop != nil {
			since = drop.at
		}
		c.setDetached(since, err.Error())
	}
}

// reportAttach tells Track's waiter how the first attach went, once.
func (c *call) reportAttach(err error) {
	select {
	case c.attached <- err:
	default:
	}
}

func (c *call) attachedOnce() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.everAttached
}

// giveUp ends the tracking of a call the loop could not (re-)attach: as
// our own hangup asked; quietly when the agent stops reading it (closing,
// handed over, taken over); else as OpenAI said: gone, or, after a clean
// close or the session cap, hangup or expired.
func (c *call) giveUp(err error, drop *dropInfo) {
	if end := c.ownEnd(); end != nil {
		c.finish(*end)
		return
	}
	if c.ctx.Err() != nil {
		c.leave()
		return
	}
	c.finish(c.goneEnd(err, drop))
}

// goneEnd is how a call OpenAI answered 404/410 for ended.
func (c *call) goneEnd(err error, drop *dropInfo) feed.End {
	c.mu.Lock()
	expires := c.acct.session.ExpiresAt
	c.mu.Unlock()
	switch {
	case drop != nil && drop.expired, !expires.IsZero() && !time.Now().Before(expires):
		return feed.End{Reason: feed.ReasonExpired, Detail: "session_expired: hit OpenAI's maximum session duration"}
	case drop != nil && drop.clean:
		return feed.End{Reason: feed.ReasonHangup, Detail: drop.detail + "; OpenAI confirmed the call ended (404 on re-attach)", EndedAt: drop.at.UTC()}
	case drop != nil:
		return feed.End{Reason: feed.ReasonGone, Detail: drop.detail + "; then " + err.Error()}
	}
	return feed.End{Reason: feed.ReasonGone, Detail: err.Error()}
}

// claim records this agent as the call's owner. A call owned by a live
// agent is refused (ErrTrackedElsewhere); one whose owner died or let it
// go is taken over, with its totals and start, and registered by the
// takeover (taken). When NATS cannot be asked now, the call is tracked
// anyway and claimed once NATS is back; when the caller's ctx ends first,
// the call is not tracked. The agent's closing stops the claim too.
func (c *call) claim(ctx context.Context) (taken bool, err error) {
	a := c.a
	o := a.fleet.ownersNow()
	if o == nil {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("track %s: %w", c.id, err)
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(caller, 5*time.Second)
	defer cancel()
	defer context.AfterFunc(a.ctx, cancel)()
	rec := feed.Owner{CallID: c.id, Agent: a.cfg.Name, Instance: a.instance, Term: 1,
		User: c.meta.User, Model: c.meta.Model, StartedAt: c.start.UTC(), Since: time.Now().UTC()}
	if c.live() {
		rec.API = feed.APILive
	}
	rev, err := o.Claim(ctx, rec)
	var owned *feed.OwnedError
	switch {
	case err == nil:
		c.rev = rev
		return false, nil
	case errors.As(err, &owned):
	case caller.Err() != nil && a.ctx.Err() == nil:
		return false, fmt.Errorf("track %s: %w", c.id, caller.Err())
	default:
		a.log.Warn("call ownership not recorded; will record it when NATS answers", "call", c.id, "err", err)
		a.fleet.needRecovery()
		return false, nil
	}
	have := owned.Owner
	switch {
	case have.Instance == a.instance:
		return true, nil // tracked here already (a concurrent Track)
	case c.meta.User != "" && have.User != "" && have.User != c.meta.User:
		return false, fmt.Errorf("track %s for %q: %w: %w (for %q)", c.id, c.meta.User, ErrOtherUser, owned, have.User)
	case !have.Released && !a.fleet.ownerDead(have, time.Now()):
		return false, fmt.Errorf("track %s: %w: %w", c.id, ErrTrackedElsewhere, owned)
	}
	a.log.Info("taking over a call whose owner is gone", "call", c.id, "from", have.Agent)
	err = a.adopt(feed.OwnerEntry{Owner: have, Rev: owned.Rev})
	if errors.Is(err, feed.ErrOwnerChanged) {
		return false, fmt.Errorf("track %s: %w (another agent took it over first)", c.id, ErrTrackedElsewhere)
	}
	if err != nil {
		return false, fmt.Errorf("track %s: %w", c.id, err)
	}
	return true, nil
}
