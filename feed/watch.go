package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
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

// CheckInterval is how often a Watcher checks that what it reads is still
// there: the connection, the stream (a NATS that came back without its
// data has a new, empty one) and its consumer.
var CheckInterval = time.Second

// Watcher delivers call events: first the newest event of every subject in
// the live-state stream (so every live call appears at once, however late
// the watcher starts), then live events as they are published.
//
// It outlives NATS restarts. JetStream's ordered consumer resumes after
// the last stream sequence it saw, which after a restart on an empty store
// would wait forever for sequences the new stream will take hours to
// reach; so the Watcher checks the stream every CheckInterval and, when it
// is new, gone or behind what was read, subscribes afresh (newest event
// per subject again). Meanwhile Stale says the view may be behind.
type Watcher struct {
	c       *Client
	ch      chan Event
	ready   chan struct{}
	once    sync.Once
	done    chan struct{}
	stop    sync.Once
	stopped chan struct{}
	skipped atomic.Int64
	resubs  atomic.Int64

	mu      sync.Mutex
	cc      jetstream.ConsumeContext
	cons    jetstream.Consumer
	serial  int       // consumer generation; messages of an older one are dropped
	created time.Time // the stream's creation time when subscribed
	readyAt uint64    // the stream's last sequence when first subscribed
	seen    uint64    // the highest stream sequence delivered by this generation
	stale   staleState
}

type staleState struct {
	since  time.Time
	reason string
}

// Watch starts a Watcher. It creates the live-state stream if needed, so a
// dashboard started before any agent works too.
func (c *Client) Watch(ctx context.Context) (*Watcher, error) {
	w := &Watcher{c: c, ch: make(chan Event, watchBuffer), ready: make(chan struct{}),
		done: make(chan struct{}), stopped: make(chan struct{})}
	if err := w.subscribe(ctx, true); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	go w.supervise()
	return w, nil
}

// subscribe (re)creates the ordered consumer, newest event per subject
// first.
func (w *Watcher) subscribe(ctx context.Context, first bool) error {
	s, err := w.c.EnsureStream(ctx)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	js, err := jetstream.New(w.c.NC)
	if err != nil {
		return err
	}
	cons, err := js.OrderedConsumer(ctx, info.Config.Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{w.c.Subjects.Live()},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}
	var readyAt uint64
	if first {
		// "Caught up" is having delivered the newest message the stream
		// holds now (or a newer one of its subject, if it is superseded
		// meanwhile): a count of pending messages keeps moving while
		// agents write, and JetStream's is not exact on a stream that
		// keeps one message per subject.
		last, err := s.GetLastMsgForSubject(ctx, w.c.Subjects.Live())
		switch {
		case err == nil:
			readyAt = last.Sequence
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return fmt.Errorf("newest message: %w", err)
		}
	}
	w.mu.Lock()
	old := w.cc
	w.serial++
	serial := w.serial
	w.cons, w.created, w.seen = cons, info.Created, 0
	if first {
		w.readyAt = readyAt
		if readyAt == 0 {
			w.markReady()
		}
	}
	w.mu.Unlock()
	if old != nil {
		stopBounded(old)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { w.handle(serial, m) })
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	w.mu.Lock()
	w.cc = cc
	w.mu.Unlock()
	return nil
}

func (w *Watcher) markReady() { w.once.Do(func() { close(w.ready) }) }

func (w *Watcher) handle(serial int, m jetstream.Msg) {
	meta, merr := m.Metadata()
	w.mu.Lock()
	if serial != w.serial {
		w.mu.Unlock()
		return
	}
	if merr == nil {
		w.seen = max(w.seen, meta.Sequence.Stream)
		if meta.Sequence.Stream >= w.readyAt {
			defer w.markReady()
		}
	}
	w.mu.Unlock()
	e, err := w.c.Subjects.DecodeMsg(m.Subject(), m.Data())
	if err != nil {
		w.skipped.Add(1)
		return
	}
	select {
	case w.ch <- e:
	case <-w.done:
	}
}

// supervise checks, every CheckInterval, that the Watcher still reads
// what there is to read, and subscribes afresh when not.
func (w *Watcher) supervise() {
	defer close(w.stopped)
	t := time.NewTicker(CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		reason := w.check()
		w.mu.Lock()
		if reason == "" {
			w.stale = staleState{}
		} else if w.stale.since.IsZero() {
			w.stale = staleState{since: time.Now(), reason: reason}
		} else {
			w.stale.reason = reason
		}
		w.mu.Unlock()
	}
}

// check returns why the Watcher cannot read now ("" when it can),
// subscribing again when the stream was recreated, went backwards or lost
// the consumer.
func (w *Watcher) check() string {
	switch st := w.c.NC.Status(); st {
	case nats.CONNECTED:
	case nats.CLOSED:
		return "NATS connection closed"
	default:
		return "NATS " + st.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	js, err := jetstream.New(w.c.NC)
	if err != nil {
		return err.Error()
	}
	s, err := js.Stream(ctx, w.c.Subjects.Stream())
	resub := errors.Is(err, jetstream.ErrStreamNotFound)
	if err != nil && !resub {
		return "stream: " + err.Error()
	}
	w.mu.Lock()
	created, seen, cons := w.created, w.seen, w.cons
	w.mu.Unlock()
	if !resub {
		info := s.CachedInfo()
		resub = !info.Created.Equal(created) || info.State.LastSeq < seen
	}
	if !resub {
		if _, err := cons.Info(ctx); err != nil {
			resub = errors.Is(err, jetstream.ErrConsumerNotFound)
			if !resub {
				return "consumer: " + err.Error()
			}
		}
	}
	if !resub {
		return ""
	}
	if err := w.subscribe(ctx, false); err != nil {
		return "resubscribe: " + err.Error()
	}
	w.resubs.Add(1)
	return ""
}

// Stale reports since when and why the Watcher cannot read (NATS down, the
// stream unreachable): the events it delivered may be behind. ok is false
// while it reads.
func (w *Watcher) Stale() (since time.Time, reason string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stale.since, w.stale.reason, !w.stale.since.IsZero()
}

// Resubscribed counts the fresh subscriptions made after the stream was
// recreated or the consumer lost.
func (w *Watcher) Resubscribed() int64 { return w.resubs.Load() }

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
		<-w.stopped
		w.mu.Lock()
		cc := w.cc
		w.serial++
		w.mu.Unlock()
		if cc != nil {
			stopBounded(cc)
		}
	})
}

// stopBounded stops a consumer, waiting at most stopWait: during a NATS
// outage the server cannot be told, and forgets the consumer by itself.
func stopBounded(cc jetstream.ConsumeContext) {
	stopped := make(chan struct{})
	go func() {
		cc.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(stopWait):
	}
}
