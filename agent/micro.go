package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/calltop/calltop/feed"
)

// MicroService is the name every agent registers under as a NATS micro
// service, so the standard tools find the fleet: `nats micro ls` lists
// the agents, `nats micro info calltop-agent` their endpoints, `nats
// micro stats calltop-agent` how busy those are. Each instance serves
// its endpoints under <prefix>.v1.svc.<instance>: terminate, calls and
// stats (docs/OPERATIONS.md).
const MicroService = "calltop-agent"

// microWait bounds a terminate through the micro endpoint, like the
// per-call terminate subject's: OpenAI's hangup with its retries, then the
// close grace.
const microWait = 20 * time.Second

// microCalls is the answer of the calls endpoint.
type microCalls struct {
	Agent    string         `json:"agent"`
	Instance string         `json:"instance"`
	Total    int            `json:"total"` // live calls; more than Calls when truncated
	Calls    []feed.Summary `json:"calls"`
	// Truncated: the calls did not fit in one NATS message (max_payload,
	// 1 MiB by default: some thousand calls); Calls holds the oldest.
	// `calltop ls` reads them all from the stream.
	Truncated bool `json:"truncated,omitempty"`
}

// startMicro registers the agent as a NATS micro service. It never stops
// the agent from starting: without it (a NATS user not allowed the
// subjects, say) the agent works and is only missing from discovery, so a
// failure is logged. Its subscriptions are core NATS ones, which the
// client makes again after every reconnect.
func (a *Agent) startMicro() {
	svc, err := micro.AddService(a.feed.NC, micro.Config{
		Name:        MicroService,
		Version:     buildVersion(),
		Description: "calltop agent: follows OpenAI voice calls, accounts and enforces their budgets",
		Metadata: map[string]string{
			"agent":    a.cfg.Name,
			"instance": a.instance,
			"prefix":   a.feed.Subjects.Prefix,
			"started":  a.started.Format(time.RFC3339),
		},
		// Each subject belongs to one instance: no queue group to share.
		QueueGroupDisabled: true,
		ErrorHandler: func(_ micro.Service, err *micro.NATSError) {
			a.log.Warn("NATS micro service", "subject", err.Subject, "err", err.Description)
		},
	})
	if err != nil {
		a.log.Warn("not registered as a NATS micro service; discovery will not list this agent", "err", err)
		return
	}
	g := svc.AddGroup(a.feed.Subjects.Service(a.instance))
	for _, ep := range []struct {
		name, what string
		h          micro.HandlerFunc
	}{
		{"terminate", "hang up a call this agent owns: a feed.TerminateRequest, answered with a feed.TerminateReply", a.microTerminate},
		{"calls", "this agent's live calls with their usage, as calltop ls --json prints them", a.microCalls},
		{"stats", "this agent's counters (agent.Stats)", a.microStats},
	} {
		if err := g.AddEndpoint(ep.name, ep.h, micro.WithEndpointMetadata(map[string]string{"description": ep.what})); err != nil {
			a.log.Warn("NATS micro endpoint not served", "endpoint", ep.name, "err", err)
		}
	}
	a.mu.Lock()
	a.svc = svc
	a.mu.Unlock()
	if err := a.microRefused(); err != nil {
		a.log.Warn("NATS refuses the micro service's subjects; discovery will not list this agent (grant subscribe on $SRV.> and "+
			a.feed.Subjects.Services()+")", "err", err)
	}
}

// microRefused reports the server refusing the service's subscriptions.
// NATS answers a forbidden subscribe with an error that names no
// subscription, so micro's ErrorHandler never hears of it; a round trip
// to the server and its last error tell.
func (a *Agent) microRefused() error {
	nc := a.feed.NC
	if nc.Status() != nats.CONNECTED || nc.FlushTimeout(2*time.Second) != nil {
		return nil // checked by nobody until it reconnects; nothing to say
	}
	err := nc.LastError()
	if err == nil || !errors.Is(err, nats.ErrPermissionViolation) {
		return nil
	}
	if msg := err.Error(); strings.Contains(msg, "$SRV.") || strings.Contains(msg, a.feed.Subjects.Service(a.instance)) {
		return err
	}
	return nil
}

// stopMicro takes the agent out of discovery (Close).
func (a *Agent) stopMicro() {
	a.mu.Lock()
	svc := a.svc
	a.svc = nil
	a.mu.Unlock()
	if svc == nil {
		return
	}
	if err := svc.Stop(); err != nil {
		a.log.Warn("NATS micro service stop", "err", err)
	}
}

// microTerminate hangs up a call this agent owns through terminate, the
// very function behind the call's own terminate subject: the same end
// (operator or app, the reason, the author) and the same audit record.
// A call this agent does not own is answered 404 before anything runs,
// as on the per-call subject, where only the owner answers. The hangup
// runs in a goroutine of its own: one slow OpenAI answer must not hold
// the endpoint's other requests.
func (a *Agent) microTerminate(req micro.Request) {
	if req.Reply() == "" || feed.CopiedByJetStream(req.Reply(), nats.Header(req.Headers())) {
		return // a stored message a reader had JetStream copy here: no request
	}
	var t feed.TerminateRequest
	rep := feed.TerminateReply{V: feed.TerminateVersion}
	fail := func(code string, err error) {
		rep.Error = err.Error()
		data, _ := json.Marshal(rep)
		_ = req.Error(code, feed.Printable(rep.Error), data)
	}
	if err := json.Unmarshal(req.Data(), &t); err != nil {
		fail("400", fmt.Errorf("bad request: %w", err))
		return
	}
	rep.CallID = t.CallID
	if err := feed.ValidateCallID(t.CallID); err != nil {
		fail("400", fmt.Errorf("terminate: %w", err))
		return
	}
	if t.EndReason != "" && t.EndReason != feed.ReasonOperator && t.EndReason != feed.ReasonApp {
		fail("400", fmt.Errorf("end_reason %q: want %q or %q", t.EndReason, feed.ReasonOperator, feed.ReasonApp))
		return
	}
	if a.lookup(t.CallID) == nil {
		fail("404", fmt.Errorf("terminate %s: %w", t.CallID, ErrNotTracked))
		return
	}
	run := func() {
		ctx, cancel := context.WithTimeout(a.ctx, microWait)
		defer cancel()
		call, err := a.terminate(ctx, t)
		if err != nil {
			code := "502" // OpenAI did not hang up
			if errors.Is(err, ErrNotTracked) {
				code = "404"
			}
			fail(code, err)
			return
		}
		rep.OK, rep.Call = true, call
		_ = req.RespondJSON(rep)
	}
	if !a.goTracked(run) {
		fail("503", fmt.Errorf("terminate %s: %w", t.CallID, ErrClosed))
	}
}

// microCalls answers with the agent's live calls, oldest first.
func (a *Agent) microCalls(req micro.Request) {
	now := time.Now()
	rep := microCalls{Agent: a.cfg.Name, Instance: a.instance, Calls: []feed.Summary{}}
	for _, c := range a.snapshot() {
		if s, ok := c.summary(now); ok {
			rep.Calls = append(rep.Calls, s)
		}
	}
	slices.SortFunc(rep.Calls, func(x, y feed.Summary) int {
		if n := x.StartedAt.Compare(y.StartedAt); n != 0 {
			return n
		}
		return strings.Compare(x.CallID, y.CallID)
	})
	rep.Total = len(rep.Calls)
	limit := int(a.feed.NC.MaxPayload()) - 1024 // room for the headers
	for {
		data, err := json.Marshal(rep)
		if err != nil {
			_ = req.Error("500", feed.Printable(err.Error()), nil)
			return
		}
		if len(data) <= limit || len(rep.Calls) == 0 {
			_ = req.Respond(data)
			return
		}
		// Keep as many as should fit, judging by the average call.
		keep := min(len(rep.Calls)-1, int(int64(len(rep.Calls))*int64(limit)/int64(len(data))))
		rep.Calls, rep.Truncated = rep.Calls[:max(keep, 0)], true
	}
}

// microStats answers with the agent's counters.
func (a *Agent) microStats(req micro.Request) {
	_ = req.RespondJSON(a.Stats())
}

// summary is a live call as `calltop ls --json` prints it; false once it
// ended (or another agent took it).
func (c *call) summary(now time.Time) (feed.Summary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.yielded {
		return feed.Summary{}, false
	}
	fc := feed.Call{ID: c.id, User: c.meta.User, Agent: c.a.cfg.Name, Model: c.model(), API: c.api,
		SessionID: c.acct.session.SessionID, State: feed.StateLive, StartedAt: c.start,
		ExpiresAt: c.acct.session.ExpiresAt, Usage: c.usageLocked(now), Policy: c.budget.effective,
		Warnings: slices.Clone(c.warnings), Flags: slices.Clone(c.flags)}
	if !c.detachedSince.IsZero() {
		fc.State, fc.DetachedSince, fc.DetachDetail = feed.StateDetached, c.detachedSince, c.detachDetail
	}
	return fc.Summarize(now), true
}
