package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/calltop/calltop/feed"
)

// Hangup ends a tracked call through OpenAI's hangup endpoint, which needs
// no sideband (a detached call is hung up the same way), and returns once
// the call's end is recorded (with end's reason, detail and author). After
// a successful hangup it keeps reading an attached sideband for
// CloseGrace, so a final response.done still counts. A 404
// call_id_not_found means the call was already gone, which is what was
// asked, so it counts as success, and the call ends "gone": OpenAI ended
// it before we asked. openai-go retries 429 and 5xx with backoff; ctx
// bounds the whole. The audit trail records it as the app's ("app").
func (a *Agent) Hangup(ctx context.Context, callID string, end feed.End) error {
	return a.hangup(ctx, callID, end, feed.WhoApp)
}

// hangup is Hangup on behalf of who (the app, an operator's terminate
// request, a policy cut), which the audit trail records with the outcome
// and the call's cost at that moment. Every hangup this agent executes
// goes through here, whichever way it was asked for.
func (a *Agent) hangup(ctx context.Context, callID string, end feed.End, who string) error {
	if err := feed.ValidateCallID(callID); err != nil {
		return fmt.Errorf("hangup: %w", err)
	}
	rec := feed.AuditRecord{Who: who, Action: feed.AuditTerminate, CallID: callID, Reason: end.Detail}
	c := a.lookup(callID)
	if c == nil {
		err := fmt.Errorf("hangup %s: %w", callID, ErrNotTracked)
		rec.Outcome, rec.Error = feed.OutcomeNoOwner, err.Error()
		a.awaitAudited(ctx, a.audit(rec))
		return err
	}
	outcome, err := c.hangup(ctx, end)
	rec.Outcome, rec.User, rec.CostUSD = outcome, c.meta.User, c.costNow()
	if err != nil {
		rec.Error = err.Error()
	}
	if c.auditOnce(rec) {
		a.awaitAudited(ctx, a.audit(rec))
	}
	return err
}

// hangup asks OpenAI to end the call and waits for it to wind down; the
// outcome says how it went for the audit trail.
func (c *call) hangup(ctx context.Context, end feed.End) (feed.Outcome, error) {
	a, callID := c.a, c.id
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return feed.OutcomeAlreadyEnded, nil
	}
	if c.endReq == nil {
		c.endReq = &end
	}
	c.mu.Unlock()
	defer a.stats.timeHangup(time.Now())

	var err error
	if c.live() {
		err = a.oai.Live.Sessions.Hangup(ctx, callID)
	} else {
		err = a.oai.Realtime.Calls.Hangup(ctx, callID)
	}
	outcome := feed.OutcomeDone
	var apiErr *openai.Error
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusGone) {
		err, outcome = nil, feed.OutcomeAlreadyEnded
		c.mu.Lock()
		if c.endReq == &end {
			gone := end
			gone.Reason = feed.ReasonGone
			gone.Detail = fmt.Sprintf("OpenAI answered %d to the hangup (%s asked: %s)", apiErr.StatusCode, orDash(end.By), orDash(end.Detail))
			c.endReq = &gone
		}
		c.mu.Unlock()
	}
	if err != nil {
		c.mu.Lock()
		c.endReq = nil
		c.mu.Unlock()
		return feed.OutcomeOpenAIError, fmt.Errorf("hangup %s: %w", callID, keyRefused(err))
	}
	c.mu.Lock()
	c.budget.hungUpAt = time.Now()
	grace := a.cfg.CloseGrace
	if c.conn == nil {
		grace = 0 // detached: no sideband to hear OpenAI's close on
	}
	c.mu.Unlock()
	select {
	case <-c.done:
		c.awaitStored(ctx)
		return outcome, nil
	case <-time.After(grace):
	case <-ctx.Done():
	}
	c.cancel()
	select {
	case <-c.done:
		c.awaitStored(ctx)
		return outcome, nil
	case <-ctx.Done():
		return outcome, fmt.Errorf("hangup %s: hung up, but the call did not wind down: %w", callID, ctx.Err())
	}
}

// storedWait bounds how long a hangup waits for NATS to store the call's
// end: a NATS outage must not hold the hangup's answer (the outbox stores
// it later), but normally it takes milliseconds, and whoever asked reads
// the call as ended as soon as the hangup answers.
const storedWait = 2 * time.Second

// awaitStored waits, briefly, until the call's end is in NATS.
func (c *call) awaitStored(ctx context.Context) {
	c.mu.Lock()
	stored := c.stored
	c.mu.Unlock()
	if stored != nil {
		waitStored(ctx, stored)
	}
}

// waitStored waits for stored to close, at most storedWait.
func waitStored(ctx context.Context, stored <-chan struct{}) {
	t := time.NewTimer(storedWait)
	defer t.Stop()
	select {
	case <-stored:
	case <-t.C:
	case <-ctx.Done():
	}
}

// finalSummary is the ended call as `calltop ls --json` prints it (nil
// before it ended).
func (c *call) finalSummary() *feed.Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.final == nil {
		return nil
	}
	s := feed.SummaryOf(*c.final)
	return &s
}

// keyRefused marks an error of openai-go that is a 401 or 403 as
// ErrUnauthorized, so callers test one sentinel for a key OpenAI refused,
// whichever request it refused.
func keyRefused(err error) error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// serveTerminate answers terminate requests from dashboards and `calltop
// kill` for this call, on a subject only its owner subscribes to.
func (c *call) serveTerminate() error {
	sub, err := c.a.feed.ServeTerminate(c.id, func(req feed.TerminateRequest) (*feed.Summary, error) {
		ctx, cancel := context.WithTimeout(c.a.ctx, 20*time.Second)
		defer cancel()
		req.CallID = c.id
		return c.a.terminate(ctx, req)
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.sub = sub
	c.mu.Unlock()
	return nil
}

// terminate executes a terminate request, however it reached this agent
// (the call's terminate subject, the agent's service endpoint): the
// hangup, recorded in the audit trail as asked by the request's operator
// (or "app:<token>" for the sidecar's HTTP API), and the ended call.
func (a *Agent) terminate(ctx context.Context, req feed.TerminateRequest) (*feed.Summary, error) {
	reason := feed.ReasonOperator
	if req.EndReason == feed.ReasonApp {
		reason = feed.ReasonApp
	}
	a.log.Info("terminate requested", "call", req.CallID, "by", req.Operator, "as", reason, "reason", req.Reason)
	c := a.lookup(req.CallID)
	if err := a.hangup(ctx, req.CallID, feed.End{Reason: reason, Detail: req.Reason, By: req.Operator}, feed.TerminateWho(req)); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, nil // tracked only since the lookup above: no record to give
	}
	return c.finalSummary(), nil
}
