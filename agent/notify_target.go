package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pullWait bounds one pull for the next event; when it passes with
// nothing to do the target checks that its consumer still exists (a NATS
// that came back without its data has none, and a pull would not say so).
const pullWait = 5 * time.Second

// target delivers one stream's events to one URL from the durable
// consumer the fleet shares for them.
type target struct {
	n       *notifier
	url     string
	final   bool // the final-records stream (call.ended), else the notify stream
	name    string
	filters []string
	log     *slog.Logger
}

func (n *notifier) newTarget(url string, final bool, filters []string) *target {
	stream := n.a.feed.Subjects.NotifyStream()
	if final {
		stream = n.a.feed.Subjects.FinalStream()
	}
	slices.Sort(filters)
	name := NotifyConsumerName(url)
	return &target{n: n, url: url, final: final, name: name, filters: filters,
		log: n.log.With("url", displayURL(url), "stream", stream, "consumer", name)}
}

// run pulls events one at a time, each only once a worker is free to
// post it at once (nothing waits in a buffer while its ack time runs),
// and hands it to that worker. It (re)creates its consumer whenever NATS
// lost it, and never gives up while the agent runs.
func (t *target) run() {
	n := t.n
	defer n.wg.Done()
	slots := make(chan struct{}, notifyWorkers)
	var cons jetstream.Consumer
	retry, failing := time.Duration(0), false
	for n.sleep(retry) {
		if cons == nil {
			c, err := t.ensure()
			if err != nil {
				if !failing && n.ctx.Err() == nil {
					t.log.Warn("webhook consumer not ready; retrying", "err", err)
				}
				failing, retry = true, min(max(2*retry, 500*time.Millisecond), 5*time.Second)
				continue
			}
			if failing {
				t.log.Info("webhook consumer ready")
			}
			cons, failing, retry = c, false, 0
		}
		select {
		case slots <- struct{}{}:
		case <-n.ctx.Done():
			return
		}
		began := time.Now()
		msg, err := t.next(cons)
		if err != nil || msg == nil {
			<-slots
			switch {
			case err != nil && n.ctx.Err() == nil:
				t.log.Info("webhook consumer lost; making it again", "err", err)
				cons, retry = nil, 500*time.Millisecond
			case time.Since(began) < pullWait/5:
				retry = 200 * time.Millisecond // a pull that ends early must not spin
			default:
				retry = 0
			}
			continue
		}
		retry = 0
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() { <-slots }()
			t.deliver(msg)
		}()
	}
}

// next pulls one event; nil, nil when there was none within pullWait and
// the consumer is still there; an error when the consumer or NATS is gone.
func (t *target) next(cons jetstream.Consumer) (jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(t.n.ctx, pullWait)
	msg, err := cons.Next(jetstream.FetchContext(ctx))
	cancel()
	if err == nil {
		return msg, nil
	}
	if t.n.ctx.Err() != nil {
		return nil, nil
	}
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoMessages) {
		ictx, cancel := context.WithTimeout(t.n.ctx, 2*time.Second)
		defer cancel()
		if _, err := cons.Info(ictx); err != nil && (errors.Is(err, jetstream.ErrConsumerNotFound) || isMissing(err)) {
			return nil, err
		}
		return nil, nil
	}
	return nil, err
}

// ensure makes sure the stream and the shared consumer exist. A consumer
// is created delivering what was stored from when this agent started
// with the URL (so nothing stored while it was being created is missed);
// an existing one keeps its position (an agent restart loses nothing)
// and is only brought to this agent's settings: the events it filters,
// and an ack wait long enough for this agent's attempts. Agents of a
// fleet should share their notify settings: the last to start decides
// which events a URL gets.
func (t *target) ensure() (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(t.n.ctx, 5*time.Second)
	defer cancel()
	fc := t.n.a.feed
	var s jetstream.Stream
	var err error
	if t.final {
		s, err = fc.EnsureFinalStream(ctx)
	} else {
		s, err = fc.EnsureNotifyStream(ctx)
	}
	if err != nil {
		return nil, err
	}
	since := t.n.since
	want := jetstream.ConsumerConfig{
		Durable:        t.name,
		Description:    "calltop webhooks to " + displayURL(t.url),
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        t.n.ackWait(),
		MaxDeliver:     -1,
		MaxAckPending:  notifyMaxAckPending,
		FilterSubjects: t.filters,
		// A URL no agent serves any more loses its consumer once the
		// retry window has passed: what it held is past retrying, and a
		// URL configured again months later starts afresh instead of
		// receiving every record since.
		InactiveThreshold: max(t.n.cfg.GiveUpAfter, time.Hour),
	}
	cons, err := s.Consumer(ctx, t.name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = s.CreateConsumer(ctx, want)
		switch {
		case errors.Is(err, jetstream.ErrConsumerExists):
			cons, err = s.Consumer(ctx, t.name) // another agent of the fleet made it first
		case err == nil:
			t.log.Info("webhook consumer created: delivering events stored from now on", "since", since)
		}
	}
	if err != nil {
		return nil, err
	}
	have := cons.CachedInfo().Config
	filters := slices.Clone(have.FilterSubjects)
	if have.FilterSubject != "" {
		filters = append(filters, have.FilterSubject)
	}
	slices.Sort(filters)
	if slices.Equal(filters, t.filters) && have.AckWait >= want.AckWait {
		return cons, nil
	}
	have.FilterSubject, have.FilterSubjects = "", t.filters
	have.AckWait = max(have.AckWait, want.AckWait)
	cons, err = s.UpdateConsumer(ctx, have)
	if err != nil {
		return nil, err
	}
	t.log.Info("webhook consumer updated to this agent's events", "filters", t.filters)
	return cons, nil
}
