package tui

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

// floodSource has an event ready at every call: a feed faster than any
// frame rate.
type floodSource struct {
	mu    sync.Mutex
	n     int
	calls int
}

func (s *floodSource) Next(ctx context.Context) ([]feed.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.calls++
	return []feed.Event{{V: feed.Version, Kind: feed.KindHeartbeat, Agent: "a", Heartbeat: &feed.Heartbeat{}}}, nil
}

// TryNext hands over what "arrived" since: ten events each time until a
// frame's worth has been drained.
func (s *floodSource) TryNext() []feed.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls%50 == 0 {
		s.calls++
		return nil
	}
	s.calls++
	s.n += 10
	return make([]feed.Event, 10)
}

func (s *floodSource) Terminate(context.Context, feed.TerminateRequest) (feed.TerminateReply, error) {
	return feed.TerminateReply{}, nil
}
func (s *floodSource) State() feed.ConnState { return feed.ConnConnected }

// TestBatchesArePacedToTheFrameRate re-arms the feed command the way
// Update does, against a feed that never waits: batches come at most once
// a frame, and each carries everything that was waiting.
func TestBatchesArePacedToTheFrameRate(t *testing.T) {
	src := &floodSource{}
	const frame = 20 * time.Millisecond
	const batches = 15
	start := time.Now()
	last := time.Time{}
	total := 0
	for range batches {
		msg := waitEvents(t.Context(), src, frame, last)().(eventsMsg)
		if msg.err != nil {
			t.Fatal(msg.err)
		}
		last = msg.at
		total += len(msg.events)
	}
	if el := time.Since(start); el < (batches-1)*frame {
		t.Errorf("%d batches in %s: faster than one per %s frame", batches, el, frame)
	}
	if src.n != total {
		t.Errorf("delivered %d of %d events", total, src.n)
	}
	if avg := total / batches; avg < 100 {
		t.Errorf("batches average %d events: the frame's waiting events were not gathered", avg)
	}
}

func TestFirstBatchIsNotDelayed(t *testing.T) {
	src := &floodSource{}
	start := time.Now()
	waitEvents(t.Context(), src, time.Second, time.Now().Add(-time.Hour))()
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("a batch after a quiet spell waited %s", el)
	}
}

func TestQuitStopsTheWait(t *testing.T) {
	src := &floodSource{}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	waitEvents(ctx, src, time.Hour, time.Now())()
	if time.Since(start) > time.Second {
		t.Error("a cancelled dashboard kept waiting out the frame")
	}
}

// TestTheNATSSourceHasEveryOptionalPart: the Source cmd wires (a Watcher
// and a Client, embedded) and its read-only wrapper offer batching, the
// replay signal and the stale report; an ambiguous method (both embedded
// types having one) would silently take it away.
func TestTheNATSSourceHasEveryOptionalPart(t *testing.T) {
	f := newFeed(t)
	for name, src := range map[string]Source{"watch": f.src, "read-only": ReadOnlySource(f.src)} {
		if _, ok := src.(drainer); !ok {
			t.Errorf("%s source: no TryNext", name)
		}
		if _, ok := src.(readier); !ok {
			t.Errorf("%s source: no Ready", name)
		}
		s, ok := src.(staler)
		if !ok {
			t.Errorf("%s source: no Stale", name)
			continue
		}
		if _, reason, stale := s.Stale(); stale {
			t.Errorf("%s source: stale on a running NATS: %s", name, reason)
		}
	}
}
