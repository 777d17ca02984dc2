package agent_test

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// discover asks every calltop agent on nc's NATS for its INFO, as `nats
// micro info calltop-agent` does, and returns the answers of the agents
// of prefix by instance. It waits wait for answers: they come from every
// agent, so there is no count to wait for.
func discover(t *testing.T, nc *nats.Conn, prefix string, wait time.Duration) map[string]micro.Info {
	t.Helper()
	subj, err := micro.ControlSubject(micro.InfoVerb, agent.MicroService, "")
	if err != nil {
		t.Fatal(err)
	}
	inbox := nc.NewRespInbox()
	replies := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(inbox, replies)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subj, inbox, nil); err != nil {
		t.Fatal(err)
	}
	found := map[string]micro.Info{}
	deadline := time.After(wait)
	for {
		select {
		case m := <-replies:
			var info micro.Info
			if err := json.Unmarshal(m.Data, &info); err != nil {
				t.Fatalf("INFO answer %q: %v", m.Data, err)
			}
			if info.Metadata["prefix"] == prefix {
				found[info.Metadata["instance"]] = info
			}
		case <-deadline:
			return found
		}
	}
}

// request sends data to an agent's endpoint and returns the answer and
// its micro error code ("" when it succeeded).
func request(t *testing.T, nc *nats.Conn, subject string, data []byte) ([]byte, string) {
	t.Helper()
	m, err := nc.Request(subject, data, 30*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return m.Data, m.Header.Get(micro.ErrorCodeHeader)
}

// TestMicroFleetDiscovery: two agents are NATS micro services: discovery
// lists both with their endpoints under their own subjects; calls answers
// with the live call of the agent that owns it (and nothing on the
// other); terminate hangs the call up at OpenAI through the same path as
// `calltop kill` (ended "operator", by the requester, in the audit
// trail); stats counts it;
// an agent closed leaves discovery.
func TestMicroFleetDiscovery(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{Name: "alpha"})
	beta, _ := e.peer("beta", agent.Config{})
	nc := e.feed.NC
	prefix := e.feed.Subjects.Prefix
	var infos map[string]micro.Info
	waitFor(t, "both agents in discovery", func() bool {
		infos = discover(t, nc, prefix, 200*time.Millisecond)
		return len(infos) == 2
	})
	for _, a := range []*agent.Agent{e.agent, beta} {
		info, ok := infos[a.Instance()]
		if !ok || info.Name != agent.MicroService || info.Metadata["agent"] != a.Name() || info.Version == "" {
			t.Fatalf("%s in discovery: %+v", a.Name(), info)
		}
		var eps []string
		for _, ep := range info.Endpoints {
			eps = append(eps, ep.Name+"="+ep.Subject)
		}
		base := e.feed.Subjects.Service(a.Instance())
		want := []string{"calls=" + base + ".calls", "stats=" + base + ".stats", "terminate=" + base + ".terminate"}
		slices.Sort(eps)
		if !slices.Equal(eps, want) {
			t.Fatalf("%s's endpoints: %v, want %v", a.Name(), eps, want)
		}
	}

	id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime", TurnGap: 20 * time.Millisecond})
	e.track(id, "alice")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses > 0 })

	alpha := e.feed.Subjects.Service(e.agent.Instance())
	betaSvc := e.feed.Subjects.Service(beta.Instance())
	var calls struct {
		Agent, Instance string
		Calls           []feed.Summary
	}
	data, code := request(t, nc, alpha+".calls", nil)
	if err := json.Unmarshal(data, &calls); err != nil || code != "" {
		t.Fatalf("calls: %s %q %v", code, data, err)
	}
	if len(calls.Calls) != 1 || calls.Agent != "alpha" || calls.Instance != e.agent.Instance() {
		t.Fatalf("alpha's calls: %s", data)
	}
	if s := calls.Calls[0]; s.CallID != id || s.User != "alice" || s.State != feed.StateLive || s.Responses == 0 || s.Tokens.Total == 0 || s.CostUSD <= 0 {
		t.Fatalf("alpha's call: %+v", s)
	}
	if data, _ := request(t, nc, betaSvc+".calls", nil); json.Unmarshal(data, &calls) != nil || len(calls.Calls) != 0 {
		t.Fatalf("beta's calls: %s", data)
	}

	// Bad requests and the wrong agent are errors, and hang nothing up.
	for _, tc := range []struct {
		subject, body, code string
	}{
		{alpha + ".terminate", `{"call_id":`, "400"},
		{alpha + ".terminate", `{"call_id":"rtc.bad"}`, "400"},
		{alpha + ".terminate", `{"call_id":"` + id + `","end_reason":"policy"}`, "400"},
		{betaSvc + ".terminate", `{"call_id":"` + id + `"}`, "404"},
	} {
		data, code := request(t, nc, tc.subject, []byte(tc.body))
		var rep feed.TerminateReply
		if code != tc.code || json.Unmarshal(data, &rep) != nil || rep.OK || rep.Error == "" {
			t.Errorf("%s %s: code %q, %s; want %s", tc.subject, tc.body, code, data, tc.code)
		}
	}
	if n := e.openai.Hangups(id); n != 0 {
		t.Fatalf("bad requests hung up %d times", n)
	}

	req, _ := json.Marshal(feed.TerminateRequest{V: feed.TerminateVersion, CallID: id, Reason: "micro test", Operator: "ops@host"})
	data, code = request(t, nc, alpha+".terminate", req)
	var rep feed.TerminateReply
	if err := json.Unmarshal(data, &rep); err != nil || code != "" || !rep.OK || rep.Call == nil {
		t.Fatalf("terminate: code %q, %s", code, data)
	}
	if rep.Call.EndReason != feed.ReasonOperator || rep.Call.EndedBy != "ops@host" || rep.Call.EndDetail != "micro test" {
		t.Fatalf("ended call: %+v", rep.Call)
	}
	if n := e.openai.Hangups(id); n != 1 {
		t.Fatalf("stand-in saw %d hangups, want 1", n)
	}
	ended := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	// The audit trail has it as any terminate: who, what, the outcome.
	// The bad and misaddressed requests above executed nothing: no record.
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer acancel()
	recs, err := e.feed.ReadAudit(actx, feed.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Who != "ops@host" || recs[0].CallID != id || recs[0].Action != feed.AuditTerminate ||
		recs[0].Outcome != feed.OutcomeDone || recs[0].Reason != "micro test" || recs[0].User != "alice" {
		t.Fatalf("audit trail: %+v", recs)
	}

	// stats counts the call, its usage and its hangup.
	var st agent.Stats
	data, code = request(t, nc, alpha+".stats", nil)
	if err := json.Unmarshal(data, &st); err != nil || code != "" {
		t.Fatalf("stats: %q %s %v", code, data, err)
	}
	m := st.Models["gpt-realtime"]
	if st.Agent != "alpha" || st.CallsLive != 0 || st.CallsEnded[feed.ReasonOperator] != 1 || st.Attaches != 1 || st.Hangups.Count != 1 ||
		m.InputTokens != ended.Usage.Tokens.Input || m.OutputTokens != ended.Usage.Tokens.Output || math.Abs(m.CostUSD-ended.Usage.CostUSD) > 1e-9 {
		t.Fatalf("stats: %s; the call ended with %+v", data, ended.Usage)
	}

	beta.Close(context.Background())
	waitFor(t, "beta gone from discovery", func() bool {
		infos = discover(t, nc, prefix, 200*time.Millisecond)
		_, gone := infos[beta.Instance()]
		return !gone && len(infos) == 1
	})
}

// TestMicroSurvivesNATSRestart: after NATS restarts (here on an empty
// store), the agent is listed again and its endpoints answer.
func TestMicroSurvivesNATSRestart(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	prefix := e.feed.Subjects.Prefix
	waitFor(t, "the agent in discovery", func() bool {
		return len(discover(t, e.feed.NC, prefix, 200*time.Millisecond)) == 1
	})
	port := e.nats.Addr().(*net.TCPAddr).Port
	e.nats.Shutdown()
	srv, err := natsserver.Run(natsserver.Options{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Cleanup(func() { e.agent.Close(context.Background()) }) // before the server goes
	waitFor(t, "the agent in discovery after the restart", func() bool {
		return e.feed.NC.IsConnected() && len(discover(t, e.feed.NC, prefix, 200*time.Millisecond)) == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := e.feed.NC.RequestWithContext(ctx, e.feed.Subjects.Service(e.agent.Instance())+".stats", nil)
	if err != nil || m.Header.Get(micro.ErrorCodeHeader) != "" {
		t.Fatalf("stats after the restart: %v", err)
	}
}

// TestStatsAcrossAHandover: an agent that stops hands its call to
// another; the call's tokens and cost are counted once across the two
// (the first up to the handover, the second from its takeover on), and
// the adopter counts the adoption and the call's end.
func TestStatsAcrossAHandover(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{Name: "stays"}))
	leaving, _ := e.peer("leaving", fastFleet(agent.Config{}))
	id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime", TurnGap: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := leaving.Track(ctx, id, agent.Meta{User: "alice", Model: "gpt-realtime"}); err != nil {
		t.Fatal(err)
	}
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Agent == "leaving" && c.Usage.Responses > 0 })
	leaving.Close(context.Background())
	before := e.waitCall(id, "taken over", func(c feed.Call) bool { return c.Agent == "stays" })
	e.waitCall(id, "more responses after the takeover", func(c feed.Call) bool { return c.Usage.Responses > before.Usage.Responses+1 })
	e.openai.EndCall(id)
	ended := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })

	left, stays := leaving.Stats(), e.agent.Stats()
	l, s := left.Models["gpt-realtime"], stays.Models["gpt-realtime"]
	if l.InputTokens == 0 || s.InputTokens == 0 || l.InputTokens+s.InputTokens != ended.Usage.Tokens.Input ||
		l.OutputTokens+s.OutputTokens != ended.Usage.Tokens.Output || math.Abs(l.CostUSD+s.CostUSD-ended.Usage.CostUSD) > 1e-9 {
		t.Fatalf("tokens counted %+v (leaving) + %+v (stays), the call's %+v", l, s, ended.Usage)
	}
	if stays.Adoptions != 1 || stays.CallsEnded[feed.ReasonHangup] != 1 || len(left.CallsEnded) != 0 || left.Adoptions != 0 {
		t.Fatalf("stays %+v; leaving %+v", stays, left)
	}
}

// TestStatsCountFaults: a sideband that drops and comes back is a
// re-attach; events published on a connection that is gone are publish
// failures.
func TestStatsCountFaults(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
	e.track(id, "alice")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses > 0 })
	if st := e.agent.Stats(); st.Attaches != 1 || st.Reattaches != 0 || st.CallsLive != 1 {
		t.Fatalf("before the drop: %+v", st)
	}
	e.openai.DropSideband(id)
	waitFor(t, "a re-attach counted", func() bool { st := e.agent.Stats(); return st.Reattaches == 1 && st.Attaches == 2 })

	cutOff, cut := e.peer("cut-off", agent.Config{})
	other := e.openai.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cutOff.Track(ctx, other, agent.Meta{User: "bob"}); err != nil {
		t.Fatal(err)
	}
	if n := cutOff.Stats().PublishFailures; n != 0 {
		t.Fatalf("%d publish failures while connected", n)
	}
	cut()
	waitFor(t, "publish failures counted", func() bool { return cutOff.Stats().PublishFailures > 0 })
	// End the first call, or the agent's Close would wait to hand it
	// to the agent cut off.
	e.openai.EndCall(id)
	waitFor(t, "the call to end", func() bool { return e.agent.Stats().CallsLive == 0 })
}
