package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CallState is one call as the live-state stream holds it: what an agent
// taking the call over carries on from.
type CallState struct {
	Call
	// UsageAt is when the newest usage was published: the call's former
	// owner read the sideband at least until then.
	UsageAt time.Time
	// Ended is the call's ended event, when it ended (Kind is KindEnded).
	Ended Event
}

// CallState reads the newest stored event of each subject of one call and
// folds them; nil (and no error) when the stream holds nothing of it.
func (c *Client) CallState(ctx context.Context, callID string) (*CallState, error) {
	if err := ValidateCallID(callID); err != nil {
		return nil, fmt.Errorf("call state: %w", err)
	}
	evs, err := c.LastEvents(ctx, c.Subjects.CallEvents(callID))
	if err != nil {
		return nil, fmt.Errorf("call state %s: %w", callID, err)
	}
	b := NewBoard(0)
	st := &CallState{}
	for _, e := range evs {
		if e.CallID != callID {
			continue
		}
		b.Apply(e)
		if e.Usage != nil && e.At.After(st.UsageAt) {
			st.UsageAt = e.At
		}
		if e.Kind == KindEnded {
			st.Ended = e
		}
	}
	call, ok := b.Get(callID)
	if !ok {
		return nil, nil
	}
	st.Call = call
	return st, nil
}

// LastEvents reads the newest stored event of every subject matching
// filter in the live-state stream (none when the stream is missing);
// events that do not decode are skipped.
func (c *Client) LastEvents(ctx context.Context, filter string) ([]Event, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, err
	}
	// A short-lived consumer, deleted after use: an agent adopting many
	// calls must not leave a consumer per call on the server.
	stream := c.Subjects.Stream()
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: 30 * time.Second,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
	}()
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	n := int(info.NumPending)
	if n == 0 {
		return nil, nil
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		return nil, err
	}
	var out []Event
	for m := range batch.Messages() {
		if e, err := Decode(m.Data()); err == nil {
			out = append(out, e)
		}
	}
	if err := batch.Error(); err != nil {
		return nil, err
	}
	return out, nil
}
