package feed

import (
	"context"
	"errors"
	"fmt"
	"time"
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
// filter in the live-state stream, with one direct get (none when the
// stream is missing); events that do not decode are skipped. At most 1024
// subjects: enough for one call's, or every agent's.
func (c *Client) LastEvents(ctx context.Context, filter string) ([]Event, error) {
	msgs, _, err := c.direct(ctx, c.Subjects.Stream(), directReq{MultiLast: []string{filter}})
	if errors.Is(err, errDirectGone) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c.decodeAll(msgs), nil
}
