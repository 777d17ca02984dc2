package feed

import (
	"context"
	"errors"
	"fmt"
)

// Lookup reads one call as the installation knows it, whichever agent
// owns or owned it: from the live state (a live or recently ended call),
// else from its final record. ok is false when NATS knows nothing of it.
// One or two direct gets, no consumer: cheap enough per API request.
func (c *Client) Lookup(ctx context.Context, callID string) (call Call, ok bool, err error) {
	if err := ValidateCallID(callID); err != nil {
		return Call{}, false, fmt.Errorf("lookup: %w", err)
	}
	evs, err := c.LastEvents(ctx, c.Subjects.CallEvents(callID))
	if err != nil {
		return Call{}, false, fmt.Errorf("lookup %s: %w", callID, err)
	}
	if len(evs) == 0 {
		rec, found, err := c.Final(ctx, callID)
		if err != nil || !found {
			return Call{}, false, err
		}
		evs = []Event{rec}
	}
	return fold(callID, evs)
}

// fold applies events to a fresh Board and returns the one call.
func fold(callID string, evs []Event) (Call, bool, error) {
	b := NewBoard(0)
	for _, e := range evs {
		if e.CallID == callID {
			b.Apply(e)
		}
	}
	call, ok := b.Get(callID)
	return call, ok, nil
}

// SummaryOf is a call's final record (its ended event) as `calltop ls
// --json` prints the call: what an app is told about a call that ended.
func SummaryOf(ended Event) Summary {
	ended.V = Version // an event built here, not decoded, may not say it yet
	call, _, _ := fold(ended.CallID, []Event{ended})
	return call.Summarize(call.EndedAt)
}

// ListQuery selects calls for List.
type ListQuery struct {
	// User, if set, keeps only that user's calls.
	User string
	// State is StateLive (live and detached calls) or StateEnded.
	State State
	// Limit bounds the calls returned (DefaultListLimit if 0, at most
	// MaxListLimit).
	Limit int
	// Cursor continues a previous List: its next cursor.
	Cursor uint64
}

// Bounds of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// ErrBadQuery: a ListQuery that cannot be answered.
var ErrBadQuery = errors.New("bad list query")

// List pages through calls: live ones from the live state (in the order
// they were announced), ended ones from the final records (in the order
// they ended), a user's alone without reading everyone's. next is the
// cursor of the next page, 0 when there is none. A call announced again
// (after a NATS restart or a takeover) moves to a later place, so a call
// can show up on two pages: dedupe by call_id.
func (c *Client) List(ctx context.Context, q ListQuery) (calls []Call, next uint64, err error) {
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return nil, 0, fmt.Errorf("%w: limit %d, want 1 to %d", ErrBadQuery, q.Limit, MaxListLimit)
	}
	switch q.State {
	case StateLive, StateDetached:
		return c.listLive(ctx, q)
	case StateEnded:
		return c.listEnded(ctx, q)
	}
	return nil, 0, fmt.Errorf("%w: state %q, want live or ended", ErrBadQuery, q.State)
}

// listLive walks the started events (a call that ended is purged down to
// its ended event, so its started is gone), keeps the user's, and reads
// each call whole.
func (c *Client) listLive(ctx context.Context, q ListQuery) ([]Call, uint64, error) {
	filter := c.Subjects.Call("*", KindStarted)
	return c.walk(ctx, c.Subjects.Stream(), filter, q, func(e Event) (Call, bool, error) {
		if e.Start == nil || (q.User != "" && e.Start.User != q.User) {
			return Call{}, false, nil
		}
		call, ok, err := c.Lookup(ctx, e.CallID)
		return call, ok && call.Live(), err
	})
}

// listEnded walks the final records, a user's alone when asked.
func (c *Client) listEnded(ctx context.Context, q ListQuery) ([]Call, uint64, error) {
	filter := c.Subjects.Finals()
	if q.User != "" {
		filter = c.Subjects.FinalsOf(q.User)
	}
	return c.walk(ctx, c.Subjects.FinalStream(), filter, q, func(e Event) (Call, bool, error) {
		if q.User != "" && (e.Start == nil || e.Start.User != q.User) {
			return Call{}, false, nil // another user with the same key: never mixed
		}
		return fold(e.CallID, []Event{e})
	})
}

// walk reads messages matching filter from the cursor on, in batches, and
// keeps what pick keeps, until the page is full or the stream ends.
func (c *Client) walk(ctx context.Context, stream, filter string, q ListQuery, pick func(Event) (Call, bool, error)) ([]Call, uint64, error) {
	seq := max(q.Cursor, 1)
	seen := make(map[string]bool)
	var out []Call
	for {
		msgs, more, err := c.direct(ctx, stream, directReq{Seq: seq, NextBySubj: filter, Batch: 256})
		if errors.Is(err, errDirectGone) {
			return out, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("list: %w", err)
		}
		for i, m := range msgs {
			seq = msgSeq(m) + 1
			e, err := c.decodeDirect(m)
			if err != nil || seen[e.CallID] {
				continue
			}
			call, keep, err := pick(e)
			if err != nil {
				return nil, 0, fmt.Errorf("list: %w", err)
			}
			if !keep {
				continue
			}
			seen[e.CallID] = true
			out = append(out, call)
			if len(out) == q.Limit {
				if i == len(msgs)-1 && !more {
					return out, 0, nil
				}
				return out, seq, nil
			}
		}
		if !more || len(msgs) == 0 {
			return out, 0, nil
		}
	}
}
