package feed

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// ErrPermissionDenied: the NATS server refused this connection's user a
// publish or a subscription (its role lacks the permission; see
// docs/SECURITY.md). Test with errors.Is; a *PermissionError says what
// was refused.
var ErrPermissionDenied = errors.New("permission denied by the NATS server")

// PermissionError is a publish or subscription the NATS server refused.
// The server says so asynchronously (nats.go hands it to the connection's
// error handler, never to the publish that caused it), so calltop turns it
// into this error where a command waits for an answer: see
// Client.Terminate and CancelOnDenied.
type PermissionError struct {
	Op      string // "publish" or "subscribe"
	Subject string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("permission denied: the NATS server does not let this user %s to %s", e.Op, e.Subject)
}

// Is makes errors.Is match ErrPermissionDenied and nats.go's own
// nats.ErrPermissionViolation.
func (e *PermissionError) Is(target error) bool {
	return target == ErrPermissionDenied || target == nats.ErrPermissionViolation
}

// The server's wording (nats-server client.go): `Permissions Violation for
// Publish to "subj"` and `... for Subscription to "subj"` (maybe followed
// by ` using queue "q"`).
var permissionRe = regexp.MustCompile(`(?i)permissions violation for (publish to|subscription to) "([^"]*)"`)

// AsPermissionError reads the permission violation err reports, as nats.go
// passes it to the error handler or keeps it as the connection's
// LastError.
func AsPermissionError(err error) (*PermissionError, bool) {
	var pe *PermissionError
	if errors.As(err, &pe) {
		return pe, true
	}
	if err == nil || !errors.Is(err, nats.ErrPermissionViolation) {
		return nil, false
	}
	m := permissionRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &PermissionError{Op: "publish or subscribe", Subject: "a subject it named"}, true
	}
	op := "publish"
	if strings.HasPrefix(strings.ToLower(m[1]), "subscription") {
		op = "subscribe"
	}
	return &PermissionError{Op: op, Subject: Printable(m[2])}, true
}

// OnDenied calls fn with every permission violation the server reports on
// nc from now on, and passes every error on to the handler nc had before
// (nats.go keeps one; its default prints to stderr). stop makes fn
// silent; it does not unchain it.
func OnDenied(nc *nats.Conn, fn func(*PermissionError)) (stop func()) {
	return onDenied(nc, fn, false)
}

// TakeDenied is OnDenied for a program that says refusals itself: they
// no longer reach nc's error handler, whose default (nats.go's) prints
// them raw to stderr, over a dashboard's screen.
func TakeDenied(nc *nats.Conn, fn func(*PermissionError)) (stop func()) {
	return onDenied(nc, fn, true)
}

func onDenied(nc *nats.Conn, fn func(*PermissionError), swallow bool) (stop func()) {
	var off atomic.Bool
	prev := nc.ErrorHandler()
	nc.SetErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
		if pe, ok := AsPermissionError(err); ok {
			if !off.Load() {
				fn(pe)
			}
			if swallow {
				return
			}
		}
		if prev != nil {
			prev(c, sub, err)
		}
	})
	return func() { off.Store(true) }
}

// CancelOnDenied returns a context that ends, with the *PermissionError
// as its cause (context.Cause), as soon as the server refuses anything on
// nc: for a command whose connection does one job, so a refused write
// fails at once instead of when its timeout ends. The command reports the
// refusal itself (see Denied), so from now on permission violations on nc
// no longer reach its error handler, whose default prints them raw. The
// caller calls stop.
func CancelOnDenied(ctx context.Context, nc *nats.Conn) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	onDenied(nc, func(pe *PermissionError) { cancel(pe) }, true)
	return ctx, func() { cancel(context.Canceled) }
}

// Denied returns the *PermissionError that ended ctx (see CancelOnDenied),
// or err as it is: what a command should report.
func Denied(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := AsPermissionError(context.Cause(ctx)); ok {
		return pe
	}
	return err
}

// FromJetStream reports a message that JetStream delivered rather than a
// client published: a consumer's delivery (reply subject "$JS.ACK…") or
// a stored message sent back as the answer to a read request (Nats-Stream
// header). NATS does not check the reply subject of a request against the
// requester's permissions, and JetStream delivers to whatever subject a
// consumer or request names, so a user who may only read a stream can
// have the server copy stored messages onto any subject. Control
// subjects (terminate, yield, agent liveness, micro endpoints) must
// ignore such copies.
func FromJetStream(m *nats.Msg) bool { return CopiedByJetStream(m.Reply, m.Header) }

// CopiedByJetStream is FromJetStream for a message known by its reply
// subject and headers (a NATS micro request: nats.Header(req.Headers())).
func CopiedByJetStream(reply string, h nats.Header) bool {
	if strings.HasPrefix(reply, "$JS.") {
		return true
	}
	return h != nil && (h.Get("Nats-Stream") != "" || h.Get("Nats-Sequence") != "")
}
