package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream's direct get reads stored messages with one request and no
// consumer: what an agent needs to look a call up per API request, or to
// read a call's state when it adopts it, without leaving a consumer behind
// each time. The streams calltop creates allow it (AllowDirect).

// directReq is JetStream's direct-get request (JSApiMsgGetRequest).
type directReq struct {
	Seq        uint64     `json:"seq,omitempty"`
	NextBySubj string     `json:"next_by_subj,omitempty"`
	Batch      int        `json:"batch,omitempty"`
	MultiLast  []string   `json:"multi_last,omitempty"`
	LastBySubj string     `json:"last_by_subj,omitempty"`
	StartTime  *time.Time `json:"start_time,omitempty"`
}

// maxDirectBatch is how many messages one direct get returns at most
// (the server's own bound for multi_last is 1024).
const maxDirectBatch = 1024

// errDirectGone: the stream is missing (or does not allow direct gets).
var errDirectGone = errors.New("stream not there for direct get")

// direct sends one direct-get request to stream and collects the
// messages it answers with, up to the end-of-batch marker. It returns the
// messages and whether more are pending.
func (c *Client) direct(ctx context.Context, stream string, req directReq) (msgs []*nats.Msg, more bool, err error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	inbox := c.NC.NewInbox()
	ch := make(chan *nats.Msg, maxDirectBatch+1)
	sub, err := c.NC.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, false, err
	}
	defer sub.Unsubscribe()
	if err := c.NC.PublishRequest(jetstream.DefaultAPIPrefix+"DIRECT.GET."+stream, inbox, data); err != nil {
		return nil, false, err
	}
	for {
		select {
		case m := <-ch:
			switch status := m.Header.Get("Status"); status {
			case "":
				msgs = append(msgs, m)
				if req.Batch == 0 && len(req.MultiLast) == 0 {
					return msgs, false, nil // a single get has no end marker
				}
			case "204": // end of batch
				pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
				return msgs, pending > 0, nil
			case "404":
				return msgs, false, nil // nothing (more) matches
			case "503":
				return nil, false, fmt.Errorf("direct get from %s: %w", stream, errDirectGone)
			default:
				return nil, false, fmt.Errorf("direct get from %s: status %s %s", stream, status, m.Header.Get("Description"))
			}
		case <-ctx.Done():
			return nil, false, fmt.Errorf("direct get from %s: %w", stream, ctx.Err())
		}
	}
}

// decodeAll decodes the messages that are events, skipping the rest.
func (c *Client) decodeAll(msgs []*nats.Msg) []Event {
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if e, err := c.decodeDirect(m); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// decodeDirect decodes a direct get's message: its subject is in a
// header (the message itself arrives on an inbox).
func (c *Client) decodeDirect(m *nats.Msg) (Event, error) {
	return c.Subjects.DecodeMsg(m.Header.Get(jetstream.SubjectHeader), m.Data)
}

// msgSeq is a direct-get message's stream sequence.
func msgSeq(m *nats.Msg) uint64 {
	n, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	return n
}
