package agent_test

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// waitAudit polls the audit trail until it holds a record for callID
// that ok accepts, and returns it.
func (e *env) waitAudit(callID string, ok func(feed.AuditRecord) bool) feed.AuditRecord {
	e.t.Helper()
	var found feed.AuditRecord
	var seen []feed.AuditRecord
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		recs, err := e.feed.ReadAudit(ctx, feed.AuditQuery{})
		cancel()
		seen = recs
		for _, r := range recs {
			if r.CallID == callID && ok(r) {
				found = r
				return found
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no audit record for %s as wanted (read error %v); trail: %+v", callID, err, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An operator's terminate is recorded by the agent that hung up: who,
// reason, outcome done and the call's cost; a second terminate, which no
// agent answers, is recorded by the requester as already ended.
func TestAuditOperatorTerminate(t *testing.T) {
	e := newEnv(t, realtimetest.Options{Seed: 3}, agent.Config{Name: "web-1"})
	id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime", Turns: 3, TurnGap: 5 * time.Millisecond})
	e.track(id, "alice@example.com")
	e.waitCall(id, "3 responses", func(c feed.Call) bool { return c.Usage.Responses == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "maria@oncall", Reason: "abuse"}); err != nil {
		t.Fatal(err)
	}
	c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	r := e.waitAudit(id, func(r feed.AuditRecord) bool { return r.Who == "maria@oncall" })
	if r.Action != feed.AuditTerminate || r.Outcome != feed.OutcomeDone || r.Reason != "abuse" || r.User != "alice@example.com" ||
		r.By != "agent web-1" || r.Error != "" || r.CostUSD <= 0 || r.CostUSD != c.Usage.CostUSD {
		t.Fatalf("record %+v; the call cost $%v", r, c.Usage.CostUSD)
	}
	if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "maria@oncall", Reason: "again"}); !errors.Is(err, feed.ErrNoOwner) {
		t.Fatalf("second terminate: %v", err)
	}
	r = e.waitAudit(id, func(r feed.AuditRecord) bool { return r.Reason == "again" })
	if r.Outcome != feed.OutcomeAlreadyEnded || r.CostUSD != c.Usage.CostUSD || r.User != "alice@example.com" {
		t.Fatalf("second record %+v", r)
	}
}

// A policy cut is recorded as policy:<limit>.
func TestAuditPolicyCut(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxCostUSD: 0.1})})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 5 * time.Millisecond})
	e.track(id, "bob")
	c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	r := e.waitAudit(id, func(feed.AuditRecord) bool { return true })
	if r.Who != policy.CutDetail(feed.LimitCost) || r.Outcome != feed.OutcomeDone || r.User != "bob" || r.CostUSD < 0.1 || r.CostUSD != c.Usage.CostUSD {
		t.Fatalf("record %+v; the call cost $%v", r, c.Usage.CostUSD)
	}
}

// The app's own Hangup is recorded as "app"; one for a call the agent
// does not track as no owner; one OpenAI answers 404 to as already ended;
// one OpenAI refuses as an OpenAI error, and the call goes on.
func TestAuditAppHangupOutcomes(t *testing.T) {
	var mu sync.Mutex
	status := map[string]int{} // OpenAI's answer to a call's hangup; 200 if none
	e := newEnv(t, realtimetest.Options{HangupStatus: func(id string, _ int) int {
		mu.Lock()
		defer mu.Unlock()
		return cmp.Or(status[id], 200)
	}}, agent.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids [3]string
	for i := range ids {
		ids[i] = e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(ids[i], "carol")
	}
	done, gone, refuse := ids[0], ids[1], ids[2]
	mu.Lock()
	status[gone], status[refuse] = 404, 400
	mu.Unlock()
	if err := e.agent.Hangup(ctx, done, feed.End{Reason: feed.ReasonApp, Detail: "user left"}); err != nil {
		t.Fatal(err)
	}
	if err := e.agent.Hangup(ctx, gone, feed.End{Reason: feed.ReasonApp}); err != nil {
		t.Fatal(err)
	}
	if err := e.agent.Hangup(ctx, refuse, feed.End{Reason: feed.ReasonApp}); err == nil {
		t.Fatal("a hangup OpenAI refused succeeded")
	}
	if err := e.agent.Hangup(ctx, "rtc_unknown", feed.End{Reason: feed.ReasonApp}); !errors.Is(err, agent.ErrNotTracked) {
		t.Fatalf("hangup of an untracked call: %v", err)
	}
	if r := e.waitAudit(done, func(feed.AuditRecord) bool { return true }); r.Who != feed.WhoApp || r.Outcome != feed.OutcomeDone || r.Reason != "user left" || r.User != "carol" {
		t.Fatalf("app hangup: %+v", r)
	}
	if r := e.waitAudit(gone, func(feed.AuditRecord) bool { return true }); r.Who != feed.WhoApp || r.Outcome != feed.OutcomeAlreadyEnded {
		t.Fatalf("404: %+v", r)
	}
	if r := e.waitAudit(refuse, func(feed.AuditRecord) bool { return true }); r.Outcome != feed.OutcomeOpenAIError || !strings.Contains(r.Error, "400") {
		t.Fatalf("400: %+v", r)
	}
	if r := e.waitAudit("rtc_unknown", func(feed.AuditRecord) bool { return true }); r.Outcome != feed.OutcomeNoOwner || r.User != "" {
		t.Fatalf("untracked: %+v", r)
	}
	if calls := e.agent.Calls(); len(calls) != 1 || calls[0] != refuse {
		t.Fatalf("calls left: %v, want the refused one", calls)
	}
}

// A hangup while NATS is down is recorded once NATS is back: the record
// waits in the agent's outbox.
func TestAuditWhileNATSDown(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, realtimetest.Options{}, agent.Config{}, withStoreDir(dir))
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "dave")
	port := e.nats.Addr().(*net.TCPAddr).Port
	e.w.Stop()
	e.nats.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.agent.Hangup(ctx, id, feed.End{Reason: feed.ReasonApp, Detail: "while NATS is down"}); err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Run(natsserver.Options{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if r := e.waitAudit(id, func(feed.AuditRecord) bool { return true }); r.Who != feed.WhoApp || r.Outcome != feed.OutcomeDone || r.Reason != "while NATS is down" {
		t.Fatalf("record %+v", r)
	}
}

// A policy cut OpenAI refuses is tried again at every evaluation; the
// trail records the first failure of the run once, then the cut that
// worked.
func TestAuditPolicyCutRetriesRecordedOnce(t *testing.T) {
	var attempts atomic.Int64
	e := newEnv(t, realtimetest.Options{HangupStatus: func(string, int) int {
		if attempts.Add(1) <= 8 {
			return 400 // not retried by openai-go: the next evaluation tries again
		}
		return 200
	}}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxSeconds: 300 * time.Millisecond})})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "erin")
	e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	e.waitAudit(id, func(r feed.AuditRecord) bool { return r.Outcome == feed.OutcomeDone })
	recs, err := e.feed.ReadAudit(context.Background(), feed.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if attempts.Load() < 9 || len(recs) != 2 || recs[0].Outcome != feed.OutcomeOpenAIError || !strings.Contains(recs[0].Error, "400") ||
		recs[1].Outcome != feed.OutcomeDone || recs[0].Who != "policy:max_seconds" || recs[1].Who != "policy:max_seconds" {
		t.Fatalf("%d hangup attempts; trail: %+v", attempts.Load(), recs)
	}
}

// The sidecar's hang-up by ID, asked of one agent for a call another
// owns, is recorded by the owner that hung up, as the calling token's.
func TestAuditSidecarHangupByID(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{}))
	owner, _ := e.peer("owner", fastFleet(agent.Config{}))
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	if err := owner.Track(context.Background(), id, agent.Meta{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	c := e.api(e.agent, agent.SidecarConfig{Tokens: map[string]string{"billing": "tok-billing"}}, "tok-billing")
	if st := c.do("POST", "/v1/calls/"+id+"/hangup", `{"reason":"out of minutes"}`, nil); st != http.StatusOK {
		t.Fatalf("hangup by id: %d", st)
	}
	r := e.waitAudit(id, func(feed.AuditRecord) bool { return true })
	if r.Who != "app:billing" || r.By != "agent owner" || r.Reason != "out of minutes" || r.Outcome != feed.OutcomeDone || r.User != "alice" {
		t.Fatalf("record %+v", r)
	}
}
