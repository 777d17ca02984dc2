package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrNoOwner means no agent answered for the call: nobody tracks it (it
// ended, or its agent is gone).
var ErrNoOwner = errors.New("no agent owns this call")

// TerminateVersion is the version of the terminate request and reply,
// which have their own schema (docs/EVENTS.md).
const TerminateVersion = 1

// TerminateRequest asks the owning agent to hang a call up.
type TerminateRequest struct {
	V        int       `json:"v"`
	CallID   string    `json:"call_id"`
	Reason   string    `json:"reason,omitempty"`   // free text from the operator
	Operator string    `json:"operator,omitempty"` // who: user@host, or the app's token name
	At       time.Time `json:"at"`
	// EndReason is how the call's end will read: ReasonOperator (a
	// person; the default) or ReasonApp (the app's backend asked).
	EndReason Reason `json:"end_reason,omitempty"`
}

// TerminateReply is the owning agent's answer, sent once the hangup
// succeeded (OK, with the call's final record) or definitely failed
// (Error).
type TerminateReply struct {
	V      int    `json:"v"`
	CallID string `json:"call_id"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	// Call is the ended call as `calltop ls --json` prints it.
	Call *Summary `json:"call,omitempty"`
}

// Terminate asks the owner of req.CallID to hang up and waits for its
// answer until ctx ends. It returns ErrNoOwner when no agent tracks the
// call, a *PermissionError (errors.Is ErrPermissionDenied) at once when
// the NATS server does not let this user ask (a viewer), and an error
// naming the agent's failure when the hangup failed. An unanswered
// request is recorded in the audit trail here (the agent records the ones
// it answers; a refused one reached nobody, and the server logs it).
func (c *Client) Terminate(ctx context.Context, req TerminateRequest) (TerminateReply, error) {
	if err := ValidateCallID(req.CallID); err != nil {
		return TerminateReply{}, fmt.Errorf("terminate: %w", err)
	}
	req.V = TerminateVersion
	if req.At.IsZero() {
		req.At = time.Now().UTC()
	}
	data, err := json.Marshal(req)
	if err != nil {
		return TerminateReply{}, fmt.Errorf("terminate %s: %w", req.CallID, err)
	}
	msg, err := c.request(ctx, c.Subjects.Terminate(req.CallID), data)
	if errors.Is(err, nats.ErrNoResponders) {
		// No agent executed it, so the requester keeps the audit record.
		return TerminateReply{}, errors.Join(fmt.Errorf("terminate %s: %w", req.CallID, ErrNoOwner), c.auditUnanswered(req))
	}
	if err != nil {
		return TerminateReply{}, fmt.Errorf("terminate %s: %w", req.CallID, err)
	}
	var rep TerminateReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return TerminateReply{}, fmt.Errorf("terminate %s: bad reply from agent: %w", req.CallID, err)
	}
	if !rep.OK {
		return rep, fmt.Errorf("terminate %s: agent: %s", req.CallID, rep.Error)
	}
	return rep, nil
}

// deniedWait bounds the round trip request makes to learn whether the
// server refused the request, when ctx has no earlier deadline.
const deniedWait = 5 * time.Second

// request is a NATS request that fails at once when the server refuses
// the publish. NATS reports a refused publish asynchronously, and nats.go
// hands it to the error handler, never to the request, which would wait
// for its timeout. But the server answers in order: after a round trip
// (Flush) the refusal, if any, has been read and is the connection's
// LastError. A new error value naming this subject is this request's.
// (Two requests refused at the same instant on one connection may see
// only one refusal; the other waits for its answer as before.)
func (c *Client) request(ctx context.Context, subject string, data []byte) (*nats.Msg, error) {
	inbox := c.NC.NewInbox()
	ch := make(chan *nats.Msg, 2)
	sub, err := c.NC.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	before := c.NC.LastError()
	if err := c.NC.PublishRequest(subject, inbox, data); err != nil {
		return nil, err
	}
	fctx, cancel := ctx, func() {}
	if _, ok := ctx.Deadline(); !ok {
		fctx, cancel = context.WithTimeout(ctx, deniedWait)
	}
	err = c.NC.FlushWithContext(fctx)
	cancel()
	if after := c.NC.LastError(); after != before {
		if pe, ok := AsPermissionError(after); ok && (pe.Subject == subject || pe.Subject == inbox) {
			return nil, pe
		}
	}
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// A failed flush (a reconnect under way) says nothing about the
	// request, which the client buffers: wait for the answer.
	select {
	case m := <-ch:
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			return nil, nats.ErrNoResponders
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ServeTerminate answers terminate requests for one call with fn (which
// returns the ended call, or why it could not end it) until the returned
// subscription is drained or unsubscribed. The agent subscribes when it
// starts tracking the call, so only the owner ever answers. A request
// must carry a reply subject, "v" 1 and the call's own "call_id": a
// message without them is no terminate request (messages JetStream copies
// onto this subject are ignored; see FromJetStream).
func (c *Client) ServeTerminate(callID string, fn func(TerminateRequest) (*Summary, error)) (*nats.Subscription, error) {
	if err := ValidateCallID(callID); err != nil {
		return nil, fmt.Errorf("serve terminate: %w", err)
	}
	sub, err := c.NC.Subscribe(c.Subjects.Terminate(callID), func(m *nats.Msg) {
		if m.Reply == "" || FromJetStream(m) {
			// Not a request anyone waits on, or a stored message the
			// server copied here on a reader's behalf (see
			// FromJetStream): never a reason to hang up.
			return
		}
		var req TerminateRequest
		rep := TerminateReply{V: TerminateVersion, CallID: callID}
		if err := json.Unmarshal(m.Data, &req); err != nil {
			rep.Error = "bad request: " + err.Error()
		} else if req.V != TerminateVersion {
			rep.Error = fmt.Sprintf("request version %d: want %d", req.V, TerminateVersion)
		} else if req.CallID != callID {
			rep.Error = fmt.Sprintf("request names call %q on the subject of %q", req.CallID, callID)
		} else if req.EndReason != "" && req.EndReason != ReasonOperator && req.EndReason != ReasonApp {
			rep.Error = fmt.Sprintf("end_reason %q: want %q or %q", req.EndReason, ReasonOperator, ReasonApp)
		} else if call, err := fn(req); err != nil {
			rep.Error = err.Error()
		} else {
			rep.OK, rep.Call = true, call
		}
		data, _ := json.Marshal(rep)
		_ = m.Respond(data)
	})
	if err != nil {
		return nil, fmt.Errorf("serve terminate %s: %w", callID, err)
	}
	return sub, nil
}
