package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// sharedTimeout bounds the NATS round trips of one shared admission.
const sharedTimeout = 2 * time.Second

// sharedCounts makes max_concurrent and max_per_hour hold across every
// agent of one prefix. Only users whose policy sets one of them are
// counted: an install without such limits sends NATS nothing more.
// policy.Admission stays the count of this agent's own calls (exact, in
// memory, and the fallback while NATS is away); each of its changes is
// mirrored into the counters stream:
//
//   - live calls: one counter per user and agent run (instance), written
//     by that run only; a user's live calls are the sum over runs. A run
//     that dies leaves its counters behind: the agents that see it gone
//     purge them once they adopted its calls (which they count as their
//     own), so its live count comes back down.
//   - starts: one counter per user and minute, shared; the last hour is
//     the sum of the last 60 minutes.
//
// Admission reserves before it looks: it adds the call to both counters,
// then reads the user's totals; over a limit, it takes the call back out
// and refuses. Two agents admitting the last slot at once may both refuse,
// never both admit.
//
// Every increment carries a message ID, so a retry after a lost ack is
// counted once; decrements go through a queue retried until NATS takes
// them. While NATS cannot be reached, admission decides on the agent's own
// counts (as before there were shared ones) and the queued increments
// catch the shared counts up when it is back.
type sharedCounts struct {
	a *Agent

	mu  sync.Mutex
	k   *feed.Counters
	ops []countOp
	run chan struct{} // wakes the queue's worker
}

type countOp struct {
	subject string
	delta   int64
	id      string
}

func newSharedCounts(a *Agent) *sharedCounts {
	return &sharedCounts{a: a, run: make(chan struct{}, 1)}
}

// counters opens the counters stream on first use (and after a failure).
func (s *sharedCounts) counters(ctx context.Context) (*feed.Counters, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k != nil {
		return s.k, nil
	}
	k, err := s.a.feed.Counters(ctx)
	if err != nil {
		return nil, err
	}
	s.k = k
	return k, nil
}

// limited reports whether p has a limit the shared counts enforce.
func limited(p policy.Policy) bool { return p.MaxConcurrent > 0 || p.MaxPerHour > 0 }

// admit counts a call the local Admission just admitted into the shared
// counts and checks the user's totals across agents. A refusal has taken
// the call back out of the shared counts; the caller releases it locally.
func (s *sharedCounts) admit(ctx context.Context, user string, p policy.Policy, now time.Time) policy.Decision {
	ok := policy.Decision{OK: true, Status: http.StatusOK}
	if !limited(p) {
		return ok
	}
	token := newToken()
	live := countOp{s.a.feed.Subjects.CountLive(user, s.a.instance), 1, "in." + token}
	hour := countOp{s.a.feed.Subjects.CountHour(user, now.Unix()/60), 1, "start." + token}
	if !s.a.feed.NC.IsConnected() {
		// Not a 2 s wait per call while NATS is away.
		s.a.log.Warn("NATS unreachable; admitting on this agent's counts", "user", user)
		s.queue(live, hour)
		return ok
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	k, err := s.counters(ctx)
	if err == nil {
		_, err = k.Add(ctx, live.subject, live.delta, live.id)
	}
	if err == nil {
		_, err = k.Add(ctx, hour.subject, hour.delta, hour.id)
	}
	var d policy.Decision
	if err == nil {
		d, err = s.check(ctx, k, user, p, now, 0)
	}
	if err != nil {
		// NATS is away: this agent's own counts decided; the shared ones
		// catch up when it is back.
		s.a.log.Warn("shared counts unreachable; admitting on this agent's counts", "user", user, "err", err)
		s.queue(live, hour)
		return ok
	}
	if !d.OK {
		s.queue(countOp{live.subject, -1, "in-undo." + token}, countOp{hour.subject, -1, "start-undo." + token})
	}
	return d
}

// check reads user's totals across agents against p. extra is added to
// both (a check that counted nothing passes 1: the call it stands for).
func (s *sharedCounts) check(ctx context.Context, k *feed.Counters, user string, p policy.Policy, now time.Time, extra int64) (policy.Decision, error) {
	if p.MaxConcurrent > 0 {
		live, err := k.Sum(ctx, s.a.feed.Subjects.CountLiveOf(user))
		if err != nil {
			return policy.Decision{}, err
		}
		if live+extra > int64(p.MaxConcurrent) {
			return policy.Decision{Status: http.StatusTooManyRequests, Reason: policy.RefuseConcurrency,
				Detail: fmt.Sprintf("%s across agents, at the limit of %d", policy.Calls(live+extra-1, "live"), p.MaxConcurrent)}, nil
		}
	}
	if p.MaxPerHour > 0 {
		started, err := s.lastHour(ctx, k, user, now)
		if err != nil {
			return policy.Decision{}, err
		}
		if started+extra > int64(p.MaxPerHour) {
			return policy.Decision{Status: http.StatusTooManyRequests, Reason: policy.RefuseHourly,
				Detail: fmt.Sprintf("%s in the last hour across agents, at the limit of %d", policy.Calls(started+extra-1, ""), p.MaxPerHour)}, nil
		}
	}
	return policy.Decision{OK: true, Status: http.StatusOK}, nil
}

// lastHour sums user's starts over the 60 minutes up to now (the current
// minute included) and purges older minutes as it meets them.
func (s *sharedCounts) lastHour(ctx context.Context, k *feed.Counters, user string, now time.Time) (int64, error) {
	vs, err := k.Values(ctx, s.a.feed.Subjects.CountHourOf(user))
	if err != nil {
		return 0, err
	}
	cur := now.Unix() / 60
	var sum int64
	for subj, v := range vs {
		m, err := strconv.ParseInt(subj[strings.LastIndexByte(subj, '.')+1:], 10, 64)
		if err != nil {
			continue
		}
		if m > cur-60 {
			sum += v
			continue
		}
		s.a.goTracked(func() {
			ctx, cancel := context.WithTimeout(s.a.ctx, sharedTimeout)
			defer cancel()
			_ = k.Purge(ctx, subj)
		})
	}
	return sum, nil
}

// checkOnly is admit without counting, for minting a client secret.
func (s *sharedCounts) checkOnly(ctx context.Context, user string, p policy.Policy, now time.Time) policy.Decision {
	ok := policy.Decision{OK: true, Status: http.StatusOK}
	if !limited(p) || !s.a.feed.NC.IsConnected() {
		return ok
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	k, err := s.counters(ctx)
	var d policy.Decision
	if err == nil {
		d, err = s.check(ctx, k, user, p, now, 1)
	}
	if err != nil {
		s.a.log.Warn("shared counts unreachable; checking this agent's counts only", "user", user, "err", err)
		return ok
	}
	return d
}

// enter counts a call that did not pass admit: one the app created and
// reported, or one adopted from a dead agent (adopted: its start was
// counted by the agent that admitted it).
func (s *sharedCounts) enter(user string, adopted bool, now time.Time) {
	if !limited(s.a.policyOf(user)) {
		return
	}
	token := newToken()
	ops := []countOp{{s.a.feed.Subjects.CountLive(user, s.a.instance), 1, "in." + token}}
	if !adopted {
		ops = append(ops, countOp{s.a.feed.Subjects.CountHour(user, now.Unix()/60), 1, "start." + token})
	}
	s.queue(ops...)
}

// leave counts one of user's calls on this agent as ended.
func (s *sharedCounts) leave(user string) {
	if !limited(s.a.policyOf(user)) {
		return
	}
	s.queue(countOp{s.a.feed.Subjects.CountLive(user, s.a.instance), -1, "out." + newToken()})
}

// forget purges the live counts of agent runs that are gone, once their
// calls were adopted (and counted again by their adopters).
func (s *sharedCounts) forget(instances []string) {
	ctx, cancel := context.WithTimeout(s.a.ctx, sharedTimeout)
	defer cancel()
	k, err := s.counters(ctx)
	if err != nil {
		return
	}
	for _, in := range instances {
		if err := k.Purge(ctx, s.a.feed.Subjects.CountLiveOn(in)); err != nil {
			s.a.log.Warn("live counts of a gone agent not purged", "instance", in, "err", err)
			continue
		}
		s.a.log.Info("purged the live counts of a gone agent", "instance", in)
	}
}

// queue adds ops for the worker, which applies them in order.
func (s *sharedCounts) queue(ops ...countOp) {
	s.mu.Lock()
	s.ops = append(s.ops, ops...)
	s.mu.Unlock()
	select {
	case s.run <- struct{}{}:
	default:
	}
}

// work applies queued ops until the agent closes, retrying each until NATS
// takes it (its message ID keeps a retry from counting twice). Close
// flushes what its calls' ends queued after.
func (s *sharedCounts) work() {
	backoff := 100 * time.Millisecond
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.run:
		case <-tick.C:
			if err := s.reconcile(s.a.ctx); err != nil {
				s.a.log.Warn("live counts not reconciled; next time", "err", err)
			}
			continue
		case <-s.a.ctx.Done():
			return
		}
		for s.a.ctx.Err() == nil {
			if s.flush(s.a.ctx) {
				backoff = 100 * time.Millisecond
				break
			}
			select {
			case <-s.a.ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}

// flush applies queued ops in order; false if one failed (it stays
// first in the queue).
func (s *sharedCounts) flush(ctx context.Context) bool {
	for {
		s.mu.Lock()
		if len(s.ops) == 0 {
			s.mu.Unlock()
			return true
		}
		op := s.ops[0]
		s.mu.Unlock()
		octx, cancel := context.WithTimeout(ctx, sharedTimeout)
		k, err := s.counters(octx)
		if err == nil {
			_, err = k.Add(octx, op.subject, op.delta, op.id)
		}
		cancel()
		if err != nil {
			return false
		}
		s.mu.Lock()
		s.ops = s.ops[1:]
		s.mu.Unlock()
	}
}

// newToken is a random id for the message IDs of one count change.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// release counts one of user's calls as ended, here and across agents:
// queued before the local count changes, so reconcile never sees the
// local change without the queued one (see reconcile).
func (a *Agent) release(user string) {
	a.counts.leave(user)
	a.adm.Release(user)
}

// reconcileEvery is how often an agent corrects its own live counts in
// NATS to what it knows.
var reconcileEvery = 30 * time.Second

// reconcile sets this agent run's live counts in NATS to its own counts
// (policy.Admission): it is their only writer, so it may. This heals what
// a lost decrement, a NATS that lost its data, or a purge by agents that
// thought this one gone (it was cut off, and let go of its calls since)
// left wrong. It reads NATS first and the local counts next, and runs
// only with nothing queued: every local change is queued before (enter,
// release) or added after (admit) the local count moves, so a race can
// only leave a count one too high until the next reconcile, never low.
func (s *sharedCounts) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	k, err := s.counters(ctx)
	if err != nil {
		return err
	}
	have, err := k.Values(ctx, s.a.feed.Subjects.CountLiveOn(s.a.instance))
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.ops) > 0 {
		s.mu.Unlock()
		return nil
	}
	want := make(map[string]int64)
	for user, n := range s.a.adm.LiveUsers() {
		if limited(s.a.policyOf(user)) {
			want[s.a.feed.Subjects.CountLive(user, s.a.instance)] = int64(n)
		}
	}
	s.mu.Unlock()
	for subj := range have {
		if _, ok := want[subj]; !ok {
			want[subj] = 0
		}
	}
	for subj, w := range want {
		if d := w - have[subj]; d != 0 {
			if _, err := k.Add(ctx, subj, d, ""); err != nil {
				return err
			}
			s.a.log.Info("live count corrected", "subject", subj, "by", d)
		}
	}
	return nil
}
