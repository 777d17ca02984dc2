package agent

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
)

// audit queues a record of the audit trail in the outbox, behind the
// final records, so a record made while NATS is away is stored once it is
// back (and flushed by Close like them). The channel it returns is closed
// once the record is stored (or could not be queued).
func (a *Agent) audit(r feed.AuditRecord) <-chan struct{} {
	stored := make(chan struct{})
	r.By = "agent " + a.cfg.Name
	r.At = time.Now().UTC()
	msg, err := a.feed.AuditMessage(r)
	if err != nil {
		a.log.Error("audit record not encoded", "call", r.CallID, "err", err)
		close(stored)
		return stored
	}
	done := func(context.Context) error { close(stored); return nil }
	if err := a.outbox.Add(a.feed.AuditStep(msg), done); err != nil {
		// The outbox is full: NATS has been away for very long.
		a.log.Error("audit record not kept: outbox full", "call", r.CallID, "who", r.Who, "outcome", r.Outcome, "err", err)
		close(stored)
	}
	return stored
}

// awaitAudited waits, briefly, until a record is stored, so that whoever
// asked for a hangup finds it in the trail once the hangup answers (as
// with the call's end, see storedWait). While NATS is down it does not
// wait: the outbox stores the record later.
func (a *Agent) awaitAudited(ctx context.Context, stored <-chan struct{}) {
	if a.feed.NC.Status() == nats.CONNECTED {
		waitStored(ctx, stored)
	}
}

// costNow is the call's cost at this moment: its final cost once it
// ended.
func (c *call) costNow() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.final != nil && c.final.Usage != nil {
		return c.final.Usage.CostUSD
	}
	return c.usageLocked(time.Now()).CostUSD
}

// auditOnce reports whether r is worth a record: a policy cut that fails
// is tried again at every evaluation while OpenAI refuses, and only the
// first of a run of identical failures is recorded.
func (c *call) auditOnce(r feed.AuditRecord) bool {
	if !strings.HasPrefix(r.Who, feed.WhoPolicyPrefix) {
		return true
	}
	key := r.Who + "\x00" + string(r.Outcome) + "\x00" + r.Error
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastCutAudit == key {
		return false
	}
	c.lastCutAudit = key
	return true
}
