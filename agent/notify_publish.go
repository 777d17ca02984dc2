package agent

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/feed"
)

// notify publishes a copy of a flag, warning or refusal for the notify
// stream, which keeps them for the agents that push them as webhooks (the
// live-state stream keeps only the newest message per subject, and purges
// a call's events when it ends). Every agent publishes copies, whether or
// not it pushes webhooks itself: one agent of the fleet asking for them is
// enough to have all of them. Like every live event it is a core NATS
// publish, buffered by the client through a reconnect; its Nats-Msg-Id is
// its webhook-id, so a copy published twice is stored once.
func (a *Agent) notify(e feed.Event) {
	e.Agent = a.cfg.Name
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	msg, err := a.feed.NotifyMessage(e)
	if err != nil {
		a.log.Warn("notify copy not encoded", "kind", e.Kind, "err", err)
		return
	}
	msg.Header.Set(jetstream.MsgIDHeader, webhookID(e, msg.Data))
	if err := a.feed.NC.PublishMsg(msg); err != nil {
		a.log.Warn("publish notify copy", "kind", e.Kind, "err", err)
	}
}

// notifyLocked copies a flag or warning of the call for webhooks, naming
// the call's user (the app's webhook wants it; call events do not carry
// it). A call taken over by another agent says nothing more.
func (c *call) notifyLocked(e feed.Event) {
	if c.yielded {
		return
	}
	e.CallID, e.User = c.id, c.meta.User
	c.a.notify(e)
}
