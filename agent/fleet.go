package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/feed"
)

// sweepEvery is how often an agent scans every ownership record for calls
// whose owner died, besides when it sees an agent die or say goodbye: a
// backstop for owners it never heard of.
const sweepEvery = time.Minute

// fleet is the agent's part in a fleet of agents: call ownership in NATS,
// other agents' liveness, adopting the calls of dead agents, handing calls
// over on a clean stop, and healing NATS after a restart (streams and
// buckets recreated, every owned call announced again).
type fleet struct {
	a    *Agent
	wake chan struct{} // something to do at once: a goodbye, a reconnect

	mu         sync.Mutex
	owners     *feed.Owners // nil until NATS has answered once
	reconnects uint64
	connected  time.Time // connected without a break since (zero: not now)
	recover    bool      // NATS must be healed and told again what we own
	sweepAt    time.Time // the next full scan for orphaned calls
	subs       []*nats.Subscription
	handed     map[string]bool // calls handed over and not yet taken
	handedDone chan struct{}   // closed when handed empties

	busy atomic.Bool // a recovery or a sweep runs

	undeny func() // silences the log of refused publishes
}

// yieldMsg tells a call's former owner that another agent owns it now.
type yieldMsg struct {
	CallID string `json:"call_id"`
	Term   uint64 `json:"term"`
	Agent  string `json:"agent"`
}

// start subscribes to the fleet's subjects and prepares NATS; ctx (New's)
// bounds the preparation.
func (f *fleet) start(ctx context.Context, a *Agent) error {
	f.a, f.wake = a, make(chan struct{}, 1)
	now := time.Now()
	f.sweepAt = now.Add(a.cfg.AdoptAfter) // once every live agent has been heard
	nc := a.feed.NC
	f.undeny = watchDenied(nc, a.log)
	sub, err := nc.Subscribe(a.feed.Subjects.Agents(), f.onAgentEvent)
	if err != nil {
		return err
	}
	f.subs = append(f.subs, sub)
	sub, err = nc.Subscribe(a.feed.Subjects.Yield(a.instance), f.onYield)
	if err != nil {
		f.stop()
		return err
	}
	f.subs = append(f.subs, sub)
	if nc.Status() == nats.CONNECTED {
		f.connected = now
		f.reconnects = nc.Stats().Reconnects
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f.prepare(ctx)
		if err == nil {
			f.learnGoodbyes(ctx)
		}
		cancel()
		if err != nil {
			a.log.Warn("NATS not ready (streams or buckets); will retry", "err", err)
			f.recover = true
		}
	} else {
		f.recover = true
	}
	return nil
}

// prepare makes sure the streams and the ownership bucket exist.
func (f *fleet) prepare(ctx context.Context) error {
	c := f.a.feed
	if _, err := c.EnsureStream(ctx); err != nil {
		return err
	}
	if _, err := c.EnsureHistoryStream(ctx); err != nil {
		// Only time travel needs it (ls and watch --at): the calls do not.
		f.a.log.Warn("no history stream: ls and watch --at cannot replay this NATS", "err", err)
	}
	if _, err := c.EnsureFinalStream(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	o := f.owners
	f.mu.Unlock()
	if o == nil {
		o, err := c.Owners(ctx)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.owners = o
		f.mu.Unlock()
		return nil
	}
	return o.Ensure(ctx)
}

// learnGoodbyes reads the goodbyes the live state holds, so an agent
// starting after another stopped knows at once that the calls it left
// are free to take (a restarted agent takes its own calls back).
func (f *fleet) learnGoodbyes(ctx context.Context) {
	evs, err := f.a.feed.LastEvents(ctx, f.a.feed.Subjects.Goodbyes())
	if err != nil {
		f.a.log.Warn("goodbyes of other agents unreadable", "err", err)
		return
	}
	left := 0
	for _, e := range evs {
		if g := e.Goodbye; g != nil && g.Calls > 0 {
			f.a.peers.goodbye(g.Instance, e.Agent, g.Handoff, time.Now())
			left++
		}
	}
	if left > 0 {
		f.sweepAt = time.Now() // their calls are free now: take them at once
	}
}

func (f *fleet) stop() {
	if f.undeny != nil {
		f.undeny()
	}
	for _, s := range f.subs {
		_ = s.Unsubscribe()
	}
}

// ownersNow is the ownership bucket, or nil when NATS cannot be asked now.
func (f *fleet) ownersNow() *feed.Owners {
	if f.a.feed.NC.Status() != nats.CONNECTED {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recover {
		return nil // the bucket may be gone; recovery claims the call
	}
	return f.owners
}

// needRecovery asks for NATS to be healed and every call announced again.
func (f *fleet) needRecovery() {
	f.mu.Lock()
	f.recover = true
	f.mu.Unlock()
	f.poke()
}

func (f *fleet) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// watchConn notices reconnects, cheaply, on every publish tick: a NATS
// that restarted may have come back without its data.
func (f *fleet) watchConn(now time.Time) {
	nc := f.a.feed.NC
	f.mu.Lock()
	defer f.mu.Unlock()
	if nc.Status() != nats.CONNECTED {
		f.connected = time.Time{}
		return
	}
	if f.connected.IsZero() {
		f.connected = now
	}
	if r := nc.Stats().Reconnects; r != f.reconnects {
		f.reconnects, f.connected, f.recover = r, now, true
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// ownerDead reports whether a call's owner is gone.
func (f *fleet) ownerDead(o feed.Owner, now time.Time) bool {
	f.mu.Lock()
	connected := f.connected
	f.mu.Unlock()
	return f.a.peers.dead(o.Instance, o.Since, now, connected, f.a.cfg.AdoptAfter)
}

// canHandOff reports whether another live agent could take the calls.
func (f *fleet) canHandOff(now time.Time) bool {
	return f.ownersNow() != nil && f.a.peers.alive(now, f.a.cfg.AdoptAfter) > 0
}

// upkeep runs on the heartbeat (and when woken): it heals NATS when it
// came back without its data (or someone deleted the stream), and scans
// for calls to adopt when an agent died or said goodbye, or every
// sweepEvery. The work runs off the publish loop, one job at a time, so
// budgets are enforced meanwhile.
//
// beat says whether this is the heartbeat (then the stream is checked too);
// between heartbeats it runs every second, so a dead agent's calls are
// adopted within a second of AdoptAfter, not a heartbeat.
func (f *fleet) upkeep(now time.Time, beat bool) {
	f.watchConn(now)
	f.mu.Lock()
	connected, recover := f.connected, f.recover
	f.mu.Unlock()
	if connected.IsZero() || !f.busy.CompareAndSwap(false, true) {
		return
	}
	dead := f.a.peers.newlyDead(now, connected, f.a.cfg.AdoptAfter)
	sweep := len(dead) > 0 || !now.Before(f.sweepAt)
	if !sweep && !recover && !beat {
		f.busy.Store(false)
		return
	}
	if len(dead) > 0 {
		f.a.log.Info("agents gone; adopting their calls", "instances", dead)
	}
	ok := f.a.goTracked(func() {
		defer f.busy.Store(false)
		if recover || (beat && f.streamGone()) {
			f.heal()
		}
		if sweep {
			f.mu.Lock()
			f.sweepAt = time.Now().Add(sweepEvery)
			f.mu.Unlock()
			f.a.sweep()
		}
		if len(dead) > 0 {
			// Their calls are adopted and counted by their adopters now.
			f.a.counts.forget(dead)
		}
	})
	if !ok {
		f.busy.Store(false)
	}
}

// streamGone reports whether the live-state stream has disappeared
// without the connection dropping (deleted, or a server restarted between
// two ticks).
func (f *fleet) streamGone() bool {
	ctx, cancel := context.WithTimeout(f.a.ctx, 2*time.Second)
	defer cancel()
	js, err := jetstream.New(f.a.feed.NC)
	if err != nil {
		return false
	}
	_, err = js.Stream(ctx, f.a.feed.Subjects.Stream())
	return isMissing(err)
}

// heal recreates what NATS lost and announces every call again.
func (f *fleet) heal() {
	ctx, cancel := context.WithTimeout(f.a.ctx, 10*time.Second)
	defer cancel()
	if err := f.prepare(ctx); err != nil {
		f.a.log.Warn("NATS not ready yet; will retry", "err", err)
		return
	}
	if e, ok := f.a.cfg.Credits.(interface{ Ensure(context.Context) error }); ok {
		if err := e.Ensure(ctx); err != nil {
			f.a.log.Warn("credit store not ready yet", "err", err)
		}
	}
	f.mu.Lock()
	f.recover = false
	f.mu.Unlock()
	n := 0
	for _, c := range f.a.snapshot() {
		if c.reannounce(ctx) {
			n++
		}
	}
	f.a.heartbeat()
	f.a.log.Info("NATS healed: streams and buckets ready, calls announced again", "calls", n)
}

// onAgentEvent follows other agents' heartbeats and goodbyes.
func (f *fleet) onAgentEvent(m *nats.Msg) {
	if feed.FromJetStream(m) {
		return // an old heartbeat or goodbye copied here by a reader's request
	}
	e, err := f.a.feed.Subjects.DecodeMsg(m.Subject, m.Data)
	if err != nil {
		return
	}
	now := time.Now()
	switch {
	case e.Heartbeat != nil:
		f.a.peers.beat(e.Heartbeat.Instance, e.Agent, now)
	case e.Goodbye != nil && e.Goodbye.Instance != f.a.instance:
		f.a.peers.goodbye(e.Goodbye.Instance, e.Agent, e.Goodbye.Handoff, now)
		f.poke() // its calls may be ours to take at once
	}
}

// onYield: another agent owns one of our calls now (it took over a call of
// ours while we were cut off, or we handed it over).
func (f *fleet) onYield(m *nats.Msg) {
	if feed.FromJetStream(m) {
		return // a stored message copied here by a reader's request
	}
	var y yieldMsg
	if json.Unmarshal(m.Data, &y) != nil || feed.ValidateCallID(y.CallID) != nil {
		return
	}
	if c := f.a.lookup(y.CallID); c != nil {
		c.yield(y.Term, y.Agent)
	}
	f.mu.Lock()
	if f.handed[y.CallID] {
		delete(f.handed, y.CallID)
		if len(f.handed) == 0 && f.handedDone != nil {
			close(f.handedDone)
			f.handedDone = nil
		}
	}
	f.mu.Unlock()
}

// handingOver notes a call released for another agent to take.
func (f *fleet) handingOver(callID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handed == nil {
		f.handed = make(map[string]bool)
	}
	f.handed[callID] = true
}

// goodbye tells the fleet this agent stops, and waits up to HandoffWait
// (and while ctx lasts) for the calls it handed over to be taken. It
// returns how many were.
func (f *fleet) goodbye(ctx context.Context, calls int, handoff bool) int {
	a := f.a
	f.mu.Lock()
	n := len(f.handed)
	var done chan struct{}
	if n > 0 {
		f.handedDone = make(chan struct{})
		done = f.handedDone
	}
	f.mu.Unlock()
	err := f.publishGoodbye(ctx, feed.Event{Kind: feed.KindGoodbye, Agent: a.cfg.Name, At: time.Now().UTC(),
		Goodbye: &feed.Goodbye{Instance: a.instance, Calls: calls, Handoff: handoff}})
	if err != nil {
		a.log.Warn("goodbye", "err", err)
	}
	_ = a.flush(ctx)
	if done == nil {
		return 0
	}
	select {
	case <-done:
	case <-time.After(a.cfg.HandoffWait):
	case <-ctx.Done():
	}
	f.mu.Lock()
	left := len(f.handed)
	f.mu.Unlock()
	if left > 0 {
		a.log.Warn("calls handed over but not taken yet; the next agent to scan takes them", "calls", left)
	}
	return n - left
}

// publishGoodbye has the goodbye stored in the live-state stream before
// Close returns, so an agent started right after (this one restarted
// under its name) reads it (learnGoodbyes) and takes the calls back at
// once. A core publish was only on its way to the stream when that agent
// looked, and it then refused the calls as another live agent's. While
// NATS is down, or JetStream does not answer within 2 s, it is sent as
// any event is (buffered while reconnecting).
func (f *fleet) publishGoodbye(ctx context.Context, e feed.Event) error {
	c := f.a.feed
	msg, err := c.Message(e)
	if err != nil {
		return fmt.Errorf("goodbye: %w", err)
	}
	if c.NC.Status() == nats.CONNECTED {
		if js, err := jetstream.New(c.NC); err == nil {
			// Close has cancelled the agent's context by now: ctx is Close's.
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = js.PublishMsg(ctx, msg)
			cancel()
			if err == nil {
				return nil
			}
		}
	}
	if err := c.NC.PublishMsg(msg); err != nil {
		return fmt.Errorf("goodbye: %w", err)
	}
	return nil
}

// isMissing reports a stream or bucket that does not exist (a NATS that
// came back without its data).
func isMissing(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}
