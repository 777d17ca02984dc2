package feed

import (
	"context"
	"errors"
	"sync"
)

// ErrReplay is what a replay answers a terminate with: the calls it shows
// are the past's.
var ErrReplay = errors.New("a replay of a past moment: hanging up is off")

// Replay hands a dashboard the events of a Moment, then nothing more: the
// board as it was, still. It has a Watcher's methods (Next, TryNext,
// Ready, State, Terminate), so a dashboard reads it as it reads NATS.
type Replay struct {
	mu     sync.Mutex
	events []Event // not handed over yet
	ready  chan struct{}
	once   sync.Once
}

// NewReplay returns a Replay of m's events.
func NewReplay(m *Moment) *Replay {
	r := &Replay{events: m.Events, ready: make(chan struct{})}
	if len(r.events) == 0 {
		r.markReady()
	}
	return r
}

func (r *Replay) markReady() { r.once.Do(func() { close(r.ready) }) }

// Next returns the next batch of the moment's events (at most maxBatch);
// once all are handed over, it blocks until ctx ends.
func (r *Replay) Next(ctx context.Context) ([]Event, error) {
	if batch := r.TryNext(); len(batch) > 0 {
		return batch, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TryNext returns the next batch without blocking; nil once all are
// handed over.
func (r *Replay) TryNext() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.events), maxBatch)
	if n == 0 {
		return nil
	}
	batch := r.events[:n:n]
	r.events = r.events[n:]
	if len(r.events) == 0 {
		r.markReady()
	}
	return batch
}

// Ready is closed once every event has been handed over.
func (r *Replay) Ready() <-chan struct{} { return r.ready }

// State is always connected: a replay reads nothing more.
func (r *Replay) State() ConnState { return ConnConnected }

// Terminate refuses: see ErrReplay.
func (r *Replay) Terminate(context.Context, TerminateRequest) (TerminateReply, error) {
	return TerminateReply{}, ErrReplay
}
