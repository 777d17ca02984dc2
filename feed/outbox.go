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

// ErrOutboxFull is returned by Outbox.Add when the outbox holds its limit:
// NATS has been unreachable for long enough that keeping more would risk
// the process's memory.
var ErrOutboxFull = errors.New("outbox full")

// DefaultOutboxLimit bounds an outbox: far more calls than one agent ends
// during any NATS outage worth riding out, a few tens of MiB at most.
const DefaultOutboxLimit = 20000

// Step is one piece of work an Outbox does for an entry: a JetStream
// publish that must be acknowledged, the purge that follows it, the
// ownership record deleted once the final record is stored. An error
// retries the step (not the ones before it) after a backoff.
type Step func(ctx context.Context) error

// Outbox does what must not be lost when NATS is down: it keeps entries
// (each a list of steps done in order) and retries the current step with
// backoff until it succeeds, however long NATS is away. Entries are done
// one at a time, in order. It lives in memory: it survives NATS outages,
// not the death of its process; what a dead agent had not stored, the
// agent that adopts its calls writes again.
type Outbox struct {
	c       *Client
	limit   int
	attempt time.Duration // per try

	mu      sync.Mutex
	queue   [][]Step
	busy    bool // the loop holds an entry it has not finished
	lastErr error
	wake    chan struct{}
	idle    chan struct{} // closed and replaced when the outbox empties

	done    chan struct{}
	stopped chan struct{}
	tries   atomic.Int64
}

// NewOutbox starts an outbox of at most limit entries (DefaultOutboxLimit
// if ≤ 0) publishing through c. Close stops it.
func (c *Client) NewOutbox(limit int) *Outbox {
	if limit <= 0 {
		limit = DefaultOutboxLimit
	}
	o := &Outbox{c: c, limit: limit, attempt: 2 * time.Second,
		wake: make(chan struct{}, 1), idle: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{})}
	go o.loop()
	return o
}

// Add queues an entry. It never blocks on NATS.
func (o *Outbox) Add(steps ...Step) error {
	o.mu.Lock()
	if len(o.queue) >= o.limit {
		o.mu.Unlock()
		return fmt.Errorf("%w: %d entries waiting for NATS", ErrOutboxFull, o.limit)
	}
	o.queue = append(o.queue, steps)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Len is how many entries are not done yet.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.queue)
	if o.busy {
		n++
	}
	return n
}

// Err is the last error a step returned, nil once a step succeeds again.
func (o *Outbox) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastErr
}

// Flush waits until every entry is done or ctx ends.
func (o *Outbox) Flush(ctx context.Context) error {
	for {
		o.mu.Lock()
		empty, idle := len(o.queue) == 0 && !o.busy, o.idle
		o.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("outbox: %d entries not stored: %w", o.Len(), ctx.Err())
		}
	}
}

// Close stops the outbox; entries not done are dropped (call Flush first).
func (o *Outbox) Close() {
	select {
	case <-o.done:
	default:
		close(o.done)
	}
	<-o.stopped
}

func (o *Outbox) loop() {
	defer close(o.stopped)
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			close(o.idle)
			o.idle = make(chan struct{})
			o.mu.Unlock()
			select {
			case <-o.wake:
				continue
			case <-o.done:
				return
			}
		}
		steps := o.queue[0]
		o.queue = o.queue[1:]
		o.busy = true
		o.mu.Unlock()
		for _, step := range steps {
			if !o.run(step) {
				return
			}
		}
		o.mu.Lock()
		o.busy = false
		o.mu.Unlock()
	}
}

// run retries one step until it succeeds; false when the outbox closes.
func (o *Outbox) run(step Step) bool {
	backoff := 100 * time.Millisecond
	for {
		// While disconnected, a try would only queue another request in
		// the client's reconnect buffer: wait for the connection instead.
		for o.c.NC.Status() != nats.CONNECTED {
			if o.c.NC.IsClosed() {
				o.fail(nats.ErrConnectionClosed)
			}
			if !o.sleep(100 * time.Millisecond) {
				return false
			}
		}
		o.tries.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), o.attempt)
		err := step(ctx)
		cancel()
		if err == nil {
			o.fail(nil)
			return true
		}
		o.fail(err)
		if !o.sleep(backoff) {
			return false
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (o *Outbox) fail(err error) {
	o.mu.Lock()
	o.lastErr = err
	o.mu.Unlock()
}

func (o *Outbox) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-o.done:
		return false
	}
}

// PublishStep is a step that publishes msg to JetStream and waits for the
// stream's acknowledgement, recreating the streams if they are missing (a
// NATS that came back without its data). With once set, the message is
// stored only if its subject holds none yet (a final record: one per
// call, forever, whoever writes it and however often); a publish refused
// for that reason counts as done. stored, if set, receives the stream
// sequence of the stored message (0 when it was there already).
func (c *Client) PublishStep(msg *nats.Msg, once bool, stored func(seq uint64)) Step {
	return func(ctx context.Context) error {
		js, err := jetstream.New(c.NC)
		if err != nil {
			return err
		}
		var opts []jetstream.PublishOpt
		if once {
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(0))
		}
		ack, err := js.PublishMsg(ctx, msg, opts...)
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			if stored != nil {
				stored(ack.Sequence)
			}
			return nil
		case once && errors.As(err, &apiErr) &&
			(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
			if stored != nil {
				stored(0)
			}
			return nil
		case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
			if _, e := c.EnsureStream(ctx); e != nil {
				return fmt.Errorf("publish %s: %w (recreating streams: %v)", msg.Subject, err, e)
			}
			if _, e := c.EnsureFinalStream(ctx); e != nil {
				return fmt.Errorf("publish %s: %w (recreating streams: %v)", msg.Subject, err, e)
			}
		}
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
}
