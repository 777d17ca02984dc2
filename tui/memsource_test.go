package tui

import (
	"context"
	"sync"
	"time"

	"github.com/calltop/calltop/feed"
)

// memSource is a Source from memory for tests that need exact batches
// (golden screens, unit tests of the terminate path): what a test sends is
// what one Next returns, and terminate requests are recorded and can be
// answered with an ended event, as an agent does. The tests that are about
// the feed itself use a real Watcher on an embedded NATS (helpers_test.go).
type memSource struct {
	batches chan []feed.Event
	mu      sync.Mutex
	state   feed.ConnState
	// staleSince and staleReason are what Stale reports (zero: reading).
	staleSince  time.Time
	staleReason string
	reqs        []feed.TerminateRequest
	// answer, if set, decides a terminate: nil for success.
	answer func(req feed.TerminateRequest) error
}

func newMemSource() *memSource {
	return &memSource{batches: make(chan []feed.Event, 64), state: feed.ConnConnected}
}

func (s *memSource) Next(ctx context.Context) ([]feed.Event, error) {
	select {
	case b := <-s.batches:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *memSource) Terminate(ctx context.Context, req feed.TerminateRequest) (feed.TerminateReply, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	answer := s.answer
	s.mu.Unlock()
	if answer == nil {
		return feed.TerminateReply{}, feed.ErrNoOwner
	}
	if err := answer(req); err != nil {
		return feed.TerminateReply{V: feed.Version, CallID: req.CallID, Error: err.Error()}, err
	}
	return feed.TerminateReply{V: feed.Version, CallID: req.CallID, OK: true}, nil
}

func (s *memSource) State() feed.ConnState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *memSource) setState(c feed.ConnState) {
	s.mu.Lock()
	s.state = c
	s.mu.Unlock()
}

// Stale is feed.Watcher's: since when and why it cannot read.
func (s *memSource) Stale() (time.Time, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.staleSince, s.staleReason, !s.staleSince.IsZero()
}

func (s *memSource) setStale(since time.Time, reason string) {
	s.mu.Lock()
	s.staleSince, s.staleReason = since, reason
	s.mu.Unlock()
}

func (s *memSource) requests() []feed.TerminateRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]feed.TerminateRequest(nil), s.reqs...)
}

// send queues one batch.
func (s *memSource) send(evs ...feed.Event) { s.batches <- evs }
