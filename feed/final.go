package feed

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FinalMessage encodes a call's final record, its ended event, for the
// final-records stream: one per call, deduplicated by its Nats-Msg-Id and
// stored only if the call has none yet (see PublishStep's once).
func (c *Client) FinalMessage(e Event) (*nats.Msg, error) {
	if e.Kind != KindEnded {
		return nil, fmt.Errorf("final record of %s: kind %q, want ended", e.CallID, e.Kind)
	}
	msg, err := c.RecordMessage(e)
	if err != nil {
		return nil, err
	}
	user := ""
	if e.Start != nil {
		user = e.Start.User
	}
	msg.Subject = c.Subjects.Final(user, e.CallID)
	msg.Header.Set(jetstream.MsgIDHeader, "final."+e.CallID)
	return msg, nil
}

// Final reads a call's final record; ok is false when it has none.
func (c *Client) Final(ctx context.Context, callID string) (e Event, ok bool, err error) {
	if err := ValidateCallID(callID); err != nil {
		return Event{}, false, fmt.Errorf("final record: %w", err)
	}
	return c.lastIn(ctx, c.Subjects.FinalStream(), c.Subjects.FinalOf(callID))
}

// LastEvent reads the newest stored event on one subject of the
// live-state stream; ok is false when there is none.
func (c *Client) LastEvent(ctx context.Context, subject string) (e Event, ok bool, err error) {
	return c.lastIn(ctx, c.Subjects.Stream(), subject)
}

// lastIn reads the newest event on subject in stream; none when either is
// missing.
func (c *Client) lastIn(ctx context.Context, stream, subject string) (Event, bool, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return Event{}, false, fmt.Errorf("read %s: %w", subject, err)
	}
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return Event{}, false, nil
	}
	if err != nil {
		return Event{}, false, fmt.Errorf("read %s: %w", subject, err)
	}
	return c.lastEvent(ctx, s, subject)
}

func (c *Client) lastEvent(ctx context.Context, s jetstream.Stream, subject string) (Event, bool, error) {
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Event{}, false, nil
	}
	if err != nil {
		return Event{}, false, fmt.Errorf("read %s: %w", subject, err)
	}
	e, err := c.Subjects.DecodeMsg(m.Subject, m.Data)
	if err != nil {
		return Event{}, false, fmt.Errorf("read %s: %w", subject, err)
	}
	return e, true, nil
}
