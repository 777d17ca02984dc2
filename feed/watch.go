package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watchBuffer bounds the events waiting for a slow reader. When it is full
// the consumer stops pulling and JetStream holds the rest: backpressure,
// never unbounded memory.
const watchBuffer = 4096

// maxBatch bounds what one Next returns, so one frame of a dashboard never
// has to fold an unbounded burst.
const maxBatch = 8192

// ErrStopped is returned by Next once the Watcher has been stopped.
var ErrStopped = errors.New("watch stopped")

// stopWait bounds how long Stop waits for the server to drop the consumer:
// a dashboard quitting during a NATS outage must not hang (the server
// forgets an inactive ordered consumer by itself).
const stopWait = 500 * time.Millisecond

// Watcher delivers call events: first the newest event of every subject in
// the stream (so every live call appears at once, however late the watcher
// starts), then live events as they are published.
type Watcher struct {
	ch      chan Event
	ready   chan struct{}
	once    sync.Once
	done    chan struct{}
	stop    sync.Once
	cc      jetstream.ConsumeContext
	skipped atomic.Int64
}

// Watch starts a Watcher. It creates the events stream if needed, so a
// dashboard started before any agent works too.
func (c *Client) Watch(ctx context.Context) (*Watcher, error) {
	s, err := c.EnsureStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	cons, err := js.OrderedConsumer(ctx, s.CachedInfo().Config.Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: c.Subjects.Stored(),
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("watch: ordered consumer: %w", err)
	}
	w := &Watcher{ch: make(chan Event, watchBuffer), ready: make(chan struct{}), done: make(chan struct{})}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch: consumer info: %w", err)
	}
	if info.NumPending == 0 {
		w.markReady()
	}
	w.cc, err = cons.Consume(w.handle)
	if err != nil {
		return nil, fmt.Errorf("watch: consume: %w", err)
	}
	return w, nil
}

func (w *Watcher) markReady() { w.once.Do(func() { close(w.ready) }) }

func (w *Watcher) handle(m jetstream.Msg) {
	e, err := Decode(m.Data())
	if meta, merr := m.Metadata(); merr == nil && meta.NumPending == 0 {
		defer w.markReady()
	}
	if err != nil {
		w.skipped.Add(1)
		return
	}
	select {
	case w.ch <- e:
	case <-w.done:
	}
}

// Ready is closed once the replay of stored events has been delivered to
// the buffer: from then on the Board built from Next is a full snapshot.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Skipped counts messages that were not valid events.
func (w *Watcher) Skipped() int64 { return w.skipped.Load() }

// Next blocks until at least one event is available, ctx ends or the
// Watcher stops, then returns every waiting event (at most maxBatch).
func (w *Watcher) Next(ctx context.Context) ([]Event, error) {
	var first Event
	select {
	case first = <-w.ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-w.done:
		return nil, ErrStopped
	}
	return append([]Event{first}, w.TryNext()...), nil
}

// TryNext returns every event waiting now (at most maxBatch) without
// blocking; nil when none is.
func (w *Watcher) TryNext() []Event {
	var batch []Event
	for len(batch) < maxBatch {
		select {
		case e := <-w.ch:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// Stop ends the watch; Next returns an error afterwards.
func (w *Watcher) Stop() {
	w.stop.Do(func() {
		close(w.done)
		stopped := make(chan struct{})
		go func() {
			w.cc.Stop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(stopWait):
		}
	})
}
