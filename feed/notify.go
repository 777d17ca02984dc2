package feed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The notify stream keeps a copy of every flag, warning and refusal for
// the agents that push them to an app as webhooks. The live-state stream
// cannot serve: it keeps only the newest message per subject, so a
// consumer reading it for days (a receiver down for hours) would miss
// what a newer message superseded, and a call's events are purged when
// it ends. Copies go on subjects of their own (a stream may not capture
// the live-state stream's subjects too):
//
//	<prefix>.v1.notify.call.<call_id>.flag.<flag kind>
//	<prefix>.v1.notify.call.<call_id>.warning.<limit>
//	<prefix>.v1.notify.user.<user key>.flag.<flag kind>
//	<prefix>.v1.notify.user.<user key>.refused.<reason>
//
// that is, the live-state subject with "notify." after "v1.".
//
// It is created only by an agent asked to push such events; agents
// publish the copies anyway (a core NATS publish nobody stores costs
// nothing), so every agent of a fleet feeds it once one agent wants it.
const (
	// notifyMaxAge is longer than the 72-hour retry window of webhooks,
	// so the sender, not the stream's age limit, gives up on a delivery
	// and says so.
	notifyMaxAge   = 4 * 24 * time.Hour
	notifyMaxBytes = 64 << 20
	notifyDesc     = "calltop flags, warnings and refusals for webhooks (kept for the retry window)"
)

// NotifyStream is the stream of flags, warnings and refusals kept for
// webhooks: "CALLTOP_NOTIFY".
func (s Subjects) NotifyStream() string { return s.Stream() + "_NOTIFY" }

// Notify is the subject of e's copy in the notify stream.
func (s Subjects) Notify(e *Event) string {
	live := s.Of(e)
	return s.prefix() + ".v1.notify." + strings.TrimPrefix(live, s.prefix()+".v1.")
}

// NotifyKind matches the copies of one kind of event, on calls and users.
func (s Subjects) NotifyKind(kind Kind) string {
	return s.prefix() + ".v1.notify.*.*." + string(kind) + ".>"
}

// Notifies is every subject of the notify stream.
func (s Subjects) Notifies() string { return s.prefix() + ".v1.notify.>" }

// NotifyMessage encodes e (a flag, warning or refusal) as its copy for
// the notify stream. The caller sets its Nats-Msg-Id, so a copy published
// twice is stored once.
func (c *Client) NotifyMessage(e Event) (*nats.Msg, error) {
	switch e.Kind {
	case KindFlag, KindWarning, KindRefused:
	default:
		return nil, fmt.Errorf("notify copy of %s: kind %q, want flag, warning or refused", e.CallID, e.Kind)
	}
	msg, err := c.RecordMessage(e) // read on its own, days later
	if err != nil {
		return nil, err
	}
	msg.Subject = c.Subjects.Notify(&e)
	msg.Header = nats.Header{} // the caller names the copy (its webhook-id)
	return msg, nil
}

// EnsureNotifyStream creates the notify stream if it does not exist; an
// existing one is left as it is.
func (c *Client) EnsureNotifyStream(ctx context.Context) (jetstream.Stream, error) {
	return c.ensureStream(ctx, jetstream.StreamConfig{
		Name:        c.Subjects.NotifyStream(),
		Description: notifyDesc,
		Subjects:    []string{c.Subjects.Notifies()},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      notifyMaxAge,
		MaxBytes:    notifyMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  liveDuplicates,
		Replicas:    c.replicas(),
	})
}
