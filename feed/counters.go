package feed

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/counters"
)

// Counts shared by every agent of one prefix live in a JetStream stream
// of distributed counters (nats-server ≥ 2.12, allow_msg_counter): each
// subject is one integer; an increment is a publish with a Nats-Incr
// header, and the server answers with the new total. No read-modify-write,
// so any number of agents add to one count at once without a conflict.
//
//	<prefix>.v1.count.live.<user key>.<instance>  live calls of a user on one agent run
//	<prefix>.v1.count.hour.<user key>.<minute>    calls a user started in one minute (Unix minutes)
//	<prefix>.v1.count.spend.<user key>.<call id>  micro-dollars a live call has spent so far

// CountsDedupe is the counts stream's duplicate window: an increment
// retried with the same message ID within it is counted once.
const CountsDedupe = 2 * time.Minute

// CountsStream is the stream of distributed counters: "CALLTOP_COUNTS"
// for the default prefix.
func (s Subjects) CountsStream() string { return s.Stream() + "_COUNTS" }

// Counts is every counter subject.
func (s Subjects) Counts() string { return s.prefix() + ".v1.count.>" }

// CountLive is the count of user's live calls followed by one agent run
// (instance). Each run is the only writer of its own counts, so what it
// holds can always be corrected by the one that knows; a user's live calls
// are the sum over instances (CountLiveOf).
func (s Subjects) CountLive(user, instance string) string {
	return s.prefix() + ".v1.count.live." + UserKey(user) + "." + Token(instance)
}

// CountLiveOf matches the live counts of user on every agent run.
func (s Subjects) CountLiveOf(user string) string {
	return s.prefix() + ".v1.count.live." + UserKey(user) + ".*"
}

// CountLiveOn matches every live count of one agent run, for forgetting a
// run that is gone.
func (s Subjects) CountLiveOn(instance string) string {
	return s.prefix() + ".v1.count.live.*." + Token(instance)
}

// CountHour is the count of calls user started in the Unix minute minute.
func (s Subjects) CountHour(user string, minute int64) string {
	return fmt.Sprintf("%s.v1.count.hour.%s.%d", s.prefix(), UserKey(user), minute)
}

// CountHourOf matches every minute count of user.
func (s Subjects) CountHourOf(user string) string {
	return s.prefix() + ".v1.count.hour." + UserKey(user) + ".*"
}

// CountSpend is what one live call of user has spent so far, in
// micro-dollars.
func (s Subjects) CountSpend(user, callID string) string {
	return s.prefix() + ".v1.count.spend." + UserKey(user) + "." + callID
}

// CountSpendOf matches the spend of every live call of user.
func (s Subjects) CountSpendOf(user string) string {
	return s.prefix() + ".v1.count.spend." + UserKey(user) + ".*"
}

// CountSpends is every call's spend subject, for watching them all.
func (s Subjects) CountSpends() string { return s.prefix() + ".v1.count.spend.>" }

// UserKeyOfCount is the user key in a counter subject ("" if subject is
// none).
func (s Subjects) UserKeyOfCount(subject string) string {
	rest, ok := strings.CutPrefix(subject, s.prefix()+".v1.count.")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// Counters is the distributed counters stream. Safe for concurrent use.
type Counters struct {
	c  *Client
	js jetstream.JetStream
	// cur is the stream and its counter view, replaced by Ensure after
	// NATS lost its data while others read it.
	cur   atomic.Pointer[countersStream]
	batch batchReader
}

type countersStream struct {
	stream jetstream.Stream
	ctr    counters.Counter
}

// Counters opens the counts stream, creating it if it does not exist.
func (c *Client) Counters(ctx context.Context) (*Counters, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, fmt.Errorf("counters: jetstream: %w", err)
	}
	k := &Counters{c: c, js: js, batch: batchReader{nc: c.NC,
		subject: jsAPIPrefix(js) + "DIRECT.GET." + c.Subjects.CountsStream()}}
	if err := k.Ensure(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Ensure creates the counts stream if it is missing (after a NATS that
// lost its data: the counts start again from zero, and each agent adds
// its calls back as they end and start; see docs/BUDGETS.md).
func (k *Counters) Ensure(ctx context.Context) error {
	name := k.c.Subjects.CountsStream()
	st, err := k.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = k.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:            name,
			Description:     "calltop distributed counters: live calls, calls per minute and live spend per user",
			Subjects:        []string{k.c.Subjects.Counts()},
			AllowMsgCounter: true,
			AllowDirect:     true,
			Storage:         jetstream.FileStorage,
			Replicas:        k.c.replicas(),
			Duplicates:      CountsDedupe,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = k.js.Stream(ctx, name)
		}
	}
	if err != nil {
		return fmt.Errorf("counters stream %s: %w", name, err)
	}
	ctr, err := counters.NewCounterFromStream(k.js, st)
	if err != nil {
		return fmt.Errorf("counters stream %s: %w", name, err)
	}
	k.cur.Store(&countersStream{stream: st, ctr: ctr})
	return nil
}

// Add adds delta to the counter at subject and returns its new total.
// msgID, if set, makes the increment idempotent within CountsDedupe: a
// retry with the same ID is not counted again (the total returned is then
// the counter's value, not necessarily the total right after the first
// try).
func (k *Counters) Add(ctx context.Context, subject string, delta int64, msgID string) (int64, error) {
	msg := nats.NewMsg(subject)
	msg.Header.Set(counters.CounterIncrementHeader, big.NewInt(delta).String())
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := k.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return 0, fmt.Errorf("count %s %+d: %w", subject, delta, err)
	}
	if ack.Duplicate {
		return k.Load(ctx, subject)
	}
	v, ok := new(big.Int).SetString(ack.Value, 10)
	if !ok || !v.IsInt64() {
		return 0, fmt.Errorf("count %s: the server answered no total (%q): is nats-server older than 2.12?", subject, ack.Value)
	}
	return v.Int64(), nil
}

// Load is the counter at subject; 0 if it was never counted.
func (k *Counters) Load(ctx context.Context, subject string) (int64, error) {
	v, err := k.cur.Load().ctr.Load(ctx, subject)
	if errors.Is(err, counters.ErrNoCounterForSubject) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", subject, err)
	}
	if !v.IsInt64() {
		return 0, fmt.Errorf("count %s: %s is out of range", subject, v)
	}
	return v.Int64(), nil
}

// Values reads every counter matching filter (a subject with wildcards)
// in one batch: subject → value.
func (k *Counters) Values(ctx context.Context, filter string) (map[string]int64, error) {
	return k.batch.values(ctx, filter)
}

// Sum is the total of every counter matching filter.
func (k *Counters) Sum(ctx context.Context, filter string) (int64, error) {
	vs, err := k.Values(ctx, filter)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, v := range vs {
		sum += v
	}
	return sum, nil
}

// Purge removes the counters matching filter: they read 0 again.
func (k *Counters) Purge(ctx context.Context, filter string) error {
	if err := k.cur.Load().stream.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
		return fmt.Errorf("purge counts %s: %w", filter, err)
	}
	return nil
}

// jsAPIPrefix is the JetStream API prefix js talks to ("$JS.API.").
func jsAPIPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return "$JS.API."
}
