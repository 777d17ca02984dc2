package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
)

// What the load generator measures, each where it can be measured without
// trusting the thing measured: NATS bytes from a wildcard subscription of
// its own (what any subscriber would receive), latencies from the
// stand-in's write of an event and a dashboard's Board, call-minutes from
// the stand-in's list of live calls.

// audioRelayPerCallMinute is what relaying a call's audio through the
// server would cost: PCM16 at 24 kHz (the Realtime API's format), both
// directions: 24,000 samples/s × 2 bytes × 2 directions × 60 s.
const audioRelayPerCallMinute = 24000 * 2 * 2 * 60

// byteCounter counts every message published under the feed's subjects
// (<prefix>.v1.>) and every write to a KV bucket ($KV.>), by kind, as they
// cross the wire to a subscriber: subject + headers + payload.
type byteCounter struct {
	nc     *nats.Conn
	prefix string // "<prefix>.v1."
	on     atomic.Bool
	closed chan struct{}

	subs []*nats.Subscription

	mu   sync.Mutex
	feed map[string]*wireBytes // kind → bytes, under <prefix>.v1.>
	kv   map[string]*wireBytes // bucket → bytes, under $KV.>
}

// wireBytes sums messages as NATS carries them.
type wireBytes struct {
	Msgs    int64 `json:"msgs"`
	Subject int64 `json:"subject_bytes"`
	Headers int64 `json:"header_bytes"`
	Payload int64 `json:"payload_bytes"`
}

func (w *wireBytes) total() int64 { return w.Subject + w.Headers + w.Payload }

func (w *wireBytes) add(o wireBytes) {
	w.Msgs += o.Msgs
	w.Subject += o.Subject
	w.Headers += o.Headers
	w.Payload += o.Payload
}

// startByteCounter subscribes on a connection of its own, so the count
// sees every message whatever the rest of the generator does; counting
// starts with begin.
func startByteCounter(url string, subjects feed.Subjects) (*byteCounter, error) {
	bc := &byteCounter{prefix: subjects.Prefix + ".v1.", closed: make(chan struct{}),
		feed: map[string]*wireBytes{}, kv: map[string]*wireBytes{}}
	if bc.prefix == ".v1." {
		bc.prefix = feed.DefaultPrefix + ".v1."
	}
	nc, err := feed.Connect(url, "calltop-loadgen-bytes", nats.ClosedHandler(func(*nats.Conn) { close(bc.closed) }))
	if err != nil {
		return nil, fmt.Errorf("byte counter: %w", err)
	}
	bc.nc = nc
	for _, subj := range []string{bc.prefix + ">", "$KV.>"} {
		sub, err := nc.Subscribe(subj, bc.count)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("byte counter: subscribe %s: %w", subj, err)
		}
		// A counter that drops messages under load would flatter the
		// wire format: take everything, and say if anything was lost.
		_ = sub.SetPendingLimits(-1, -1)
		bc.subs = append(bc.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("byte counter: %w", err)
	}
	return bc, nil
}

// begin starts counting (messages before it, such as the agents' start,
// are not part of the measurement).
func (bc *byteCounter) begin() { bc.on.Store(true) }

// count adds one message. Its header bytes are what the wire carried
// ("NATS/1.0\r\n", "Key: value\r\n" each, "\r\n"): nats.go's Size of a
// received message is its wire size, subject, reply, headers and payload.
// The reply subject is left out (core publishes have none; it is the
// request's business, not the event's).
func (bc *byteCounter) count(m *nats.Msg) {
	if !bc.on.Load() {
		return
	}
	w := wireBytes{Msgs: 1, Subject: int64(len(m.Subject)), Payload: int64(len(m.Data))}
	w.Headers = int64(m.Size() - len(m.Subject) - len(m.Reply) - len(m.Data))
	bc.mu.Lock()
	defer bc.mu.Unlock()
	table, kind := bc.feed, bc.kind(m.Subject)
	if strings.HasPrefix(m.Subject, "$KV.") {
		table, kind = bc.kv, kvBucket(m.Subject)
	}
	k := table[kind]
	if k == nil {
		k = &wireBytes{}
		table[kind] = k
	}
	k.add(w)
}

// kind names a feed subject by what it carries, from its tokens (not its
// payload, whose encoding may change): the event kind of call, user and
// agent subjects (user events as "user.flag", "user.refused"); "final",
// "notify" and "ctl" for the other trees.
func (bc *byteCounter) kind(subject string) string {
	toks := strings.Split(strings.TrimPrefix(subject, bc.prefix), ".")
	switch {
	case len(toks) >= 3 && (toks[0] == "call" || toks[0] == "agent"):
		return toks[2]
	case len(toks) >= 3 && toks[0] == "user":
		return "user." + toks[2]
	case toks[0] == "final", toks[0] == "notify", toks[0] == "ctl":
		return toks[0]
	}
	return "other"
}

// kvBucket names a KV write by its bucket: "$KV.CALLTOP_CALLS.<key>" is
// "kv CALLTOP_CALLS".
func kvBucket(subject string) string {
	toks := strings.SplitN(subject, ".", 3)
	if len(toks) < 2 {
		return "kv"
	}
	return "kv " + toks[1]
}

// stop ends the count once every message the server routed to it so far
// has been counted (a drain: the subscriptions' pending messages are
// processed, then the connection closes), and returns the totals.
func (bc *byteCounter) stop(wait time.Duration) (byKind, kv map[string]wireBytes, dropped int) {
	for _, sub := range bc.subs {
		if n, err := sub.Dropped(); err == nil {
			dropped += n
		}
	}
	if err := bc.nc.Drain(); err != nil {
		bc.nc.Close()
	}
	select {
	case <-bc.closed:
	case <-time.After(wait):
		bc.nc.Close()
	}
	bc.on.Store(false)
	bc.mu.Lock()
	defer bc.mu.Unlock()
	copyOf := func(m map[string]*wireBytes) map[string]wireBytes {
		out := make(map[string]wireBytes, len(m))
		for k, v := range m {
			out[k] = *v
		}
		return out
	}
	return copyOf(bc.feed), copyOf(bc.kv), dropped
}

// latencies times two paths to a dashboard:
//
//   - publish→board: an event's At (set by the agent when it published)
//     to the moment the watcher's Board applied it;
//   - OpenAI→board: the stand-in's write of a call's n-th response.done to
//     the moment the Board's usage of that call first counts n responses.
//
// The watcher may see a count before the stand-in's OnEmit has reported
// the write (OnEmit runs after the write), so both sides are kept per
// call and whichever comes second makes the sample.
type latencies struct {
	mu      sync.Mutex
	publish []sample
	openai  []sample
	calls   map[string]*responseTimes
	dones   []time.Time // every response.done written, for the count in the window
	// seen keeps publish samples to one per event: a Watcher that
	// re-reads the stream after a stall applies some events again, and a
	// second application is no second delivery.
	seen map[eventKey]struct{}
}

// eventKey names one published event.
type eventKey struct {
	call, what string // the call, and the event's kind, user and agent
	at         time.Time
}

// sample is one latency and the time its clock started, so the summary
// keeps only those that started inside the measured window.
type sample struct {
	from time.Time
	d    time.Duration
}

type responseTimes struct {
	sent []time.Time // when the stand-in wrote the n-th response.done
	seen []time.Time // when the Board first counted n responses
}

func newLatencies() *latencies {
	return &latencies{calls: map[string]*responseTimes{}, seen: map[eventKey]struct{}{}}
}

func (l *latencies) call(id string) *responseTimes {
	rt := l.calls[id]
	if rt == nil {
		rt = &responseTimes{}
		l.calls[id] = rt
	}
	return rt
}

// emitted is the stand-in's Options.OnEmit.
func (l *latencies) emitted(callID, eventType string, at time.Time) {
	if eventType != "response.done" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dones = append(l.dones, at)
	rt := l.call(callID)
	rt.sent = append(rt.sent, at)
	if n := len(rt.sent); n <= len(rt.seen) {
		l.openai = append(l.openai, sample{at, max(rt.seen[n-1].Sub(at), 0)})
	}
}

// applied records one event the Board applied at now, and the call's
// response count after it.
func (l *latencies) applied(e feed.Event, responses int, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := (eventKey{e.CallID, string(e.Kind) + "/" + e.User + "/" + e.Agent, e.At}); !e.At.IsZero() {
		if _, again := l.seen[k]; !again {
			l.seen[k] = struct{}{}
			l.publish = append(l.publish, sample{e.At, max(now.Sub(e.At), 0)})
		}
	}
	if e.CallID == "" {
		return
	}
	rt := l.call(e.CallID)
	for len(rt.seen) < responses {
		rt.seen = append(rt.seen, now)
		if n := len(rt.seen); n <= len(rt.sent) {
			l.openai = append(l.openai, sample{rt.sent[n-1], now.Sub(rt.sent[n-1])})
		}
	}
}

// latencyStats is one path's percentiles, in milliseconds.
type latencyStats struct {
	Count  int     `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	MeanMS float64 `json:"mean_ms"`
}

// stats summarizes the samples whose clock started in [from, to].
func stats(samples []sample, from, to time.Time) latencyStats {
	var ds []time.Duration
	var sum time.Duration
	for _, s := range samples {
		if !s.from.Before(from) && !s.from.After(to) {
			ds = append(ds, s.d)
			sum += s.d
		}
	}
	if len(ds) == 0 {
		return latencyStats{}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latencyStats{
		Count: len(ds), P50MS: ms(percentile(ds, 50)), P90MS: ms(percentile(ds, 90)),
		P99MS: ms(percentile(ds, 99)), MaxMS: ms(ds[len(ds)-1]), MeanMS: ms(sum / time.Duration(len(ds))),
	}
}

// percentile is the nearest-rank percentile of sorted, non-empty ds.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ⌈p/100 × n⌉
	return ds[max(rank, 1)-1]
}

// summary returns both paths over the window, and how many response.done
// were written in it.
func (l *latencies) summary(from, to time.Time) (publish, openai latencyStats, dones int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, at := range l.dones {
		if !at.Before(from) && !at.After(to) {
			dones++
		}
	}
	return stats(l.publish, from, to), stats(l.openai, from, to), dones
}

// liveClock integrates the number of live calls over time: call-minutes,
// as the customer is billed for them, from the stand-in's own list.
type liveClock struct {
	stopc chan struct{}
	done  chan struct{}
	// read after done is closed
	callSeconds float64
	peak        int
}

// startLiveClock samples live() every interval until stop.
func startLiveClock(live func() int, interval time.Duration) *liveClock {
	lc := &liveClock{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lc.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		last, n := time.Now(), live()
		step := func() {
			now := time.Now()
			lc.callSeconds += float64(n) * now.Sub(last).Seconds()
			last, n = now, live()
			lc.peak = max(lc.peak, n)
		}
		for {
			select {
			case <-t.C:
				step()
			case <-lc.stopc:
				step()
				return
			}
		}
	}()
	return lc
}

// stop ends the clock and returns the call-minutes and the peak number of
// live calls.
func (lc *liveClock) stop() (callMinutes float64, peak int) {
	close(lc.stopc)
	<-lc.done
	return lc.callSeconds / 60, lc.peak
}

// totals is what has been counted so far under the feed's subjects, for
// progress lines.
func (bc *byteCounter) totals() (msgs, bytes int64) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	for _, w := range bc.feed {
		msgs += w.Msgs
		bytes += w.total()
	}
	return msgs, bytes
}
