package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

func (e *env) trackLive(id, user string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.agent.Track(ctx, id, agent.Meta{User: user, API: feed.APILive}); err != nil {
		e.t.Fatalf("track live %s: %v", id, err)
	}
}

// TestLiveSessionUsage: a GPT-Live session's billed seconds on the Board
// are exactly OpenAI's cumulative figure (not a sum of the updates), the
// backend's tokens are counted apart, reflected audio and the other Live
// events are read without a skipped or unknown frame, and the session
// ends as session.closed says.
func TestLiveSessionUsage(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond, SecondsPerUpdate: 1.5,
		Updates: 30, CloseReason: "remote_hangup", AudioEvery: 2 * time.Millisecond, BackendResponses: 3})
	if !strings.HasPrefix(id, feed.LivePrefix) {
		t.Fatalf("stand-in id %q", id)
	}
	e.track(id, "dave@example.com") // a live_ id is Live without saying so
	// While it runs, the board never shows more than OpenAI has billed:
	// the reports are cumulative, and summing them would overtake it.
	mid := e.waitCall(id, "a few reports", func(c feed.Call) bool { return c.Usage.LiveSeconds >= 6 || !c.Live() })
	if truth := e.openai.LiveSeconds(id); mid.Live() && mid.Usage.LiveSeconds > truth {
		t.Fatalf("mid-session: agent %v billed seconds, OpenAI only %v", mid.Usage.LiveSeconds, truth)
	}
	c := e.waitCall(id, "the session's end", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonHangup || !strings.Contains(c.End.Detail, "remote_hangup") {
		t.Errorf("end %+v", c.End)
	}
	if c.Kind() != feed.APILive || c.API != feed.APILive {
		t.Errorf("api %q / %q", c.API, c.Kind())
	}
	want := e.openai.LiveSeconds(id)
	if want != 45 || c.Usage.LiveSeconds != want {
		t.Errorf("live seconds: agent %v, OpenAI %v (30 updates of 1.5 s: 45)", c.Usage.LiveSeconds, want)
	}
	in, out := e.openai.LiveBackendUsage(id)
	if in == 0 || c.Usage.BackendTokens.Input != in || c.Usage.BackendTokens.Output != out {
		t.Errorf("backend tokens: agent %+v, OpenAI in %d out %d", c.Usage.BackendTokens, in, out)
	}
	if c.Usage.Tokens != (feed.Tokens{}) || c.Usage.Responses != 0 {
		t.Errorf("a Live session counted Realtime tokens: %+v", c.Usage)
	}
	if c.Usage.Skipped != 0 || c.Usage.Unknown != 0 {
		t.Errorf("skipped %d unknown %d", c.Usage.Skipped, c.Usage.Unknown)
	}
	p, _ := agent.DefaultPrices().LookupLive("gpt-live-1")
	if min := feed.RoundUSD(45.0 / 60 * p.PerMinute); c.Usage.CostUSD < min || c.Usage.CostUSD > min+0.01 {
		t.Errorf("cost $%v, want $%v for 45 s plus standby", c.Usage.CostUSD, min)
	}
	if c.Model != "gpt-live-1" || c.ExpiresAt.IsZero() {
		t.Errorf("session: model %q expires %v", c.Model, c.ExpiresAt)
	}
}

// TestLiveHangupByOperator: a terminate over NATS hangs a Live session up
// through /v1/live/sessions/{id}/hangup; OpenAI's session.closed
// close_requested confirms it, and the end is the operator's.
func TestLiveHangupByOperator(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond})
	e.trackLive(id, "erin")
	e.waitCall(id, "usage", func(c feed.Call) bool { return c.Usage.LiveSeconds > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rep, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "maria@oncall", Reason: "abuse"})
	if err != nil || !rep.OK {
		t.Fatalf("terminate: %+v %v", rep, err)
	}
	c := e.waitCall(id, "the end", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonOperator || c.End.By != "maria@oncall" || c.End.Detail != "abuse" {
		t.Errorf("end %+v", c.End)
	}
	if r, ok := e.openai.LiveEnded(id); !ok || r != "close_requested" {
		t.Errorf("OpenAI says %q %v", r, ok)
	}
	if c.Usage.LiveSeconds != e.openai.LiveSeconds(id) {
		t.Errorf("final seconds: agent %v, OpenAI %v", c.Usage.LiveSeconds, e.openai.LiveSeconds(id))
	}
}

// TestLiveCloseReasons: each reason OpenAI gives in session.closed is an
// end reason a user can read.
func TestLiveCloseReasons(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	for reason, want := range map[string]feed.Reason{
		"content": feed.ReasonContent, "expired": feed.ReasonExpired,
		"connection_lost": feed.ReasonGone, "remote_hangup": feed.ReasonHangup, "close_requested": feed.ReasonHangup,
	} {
		id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond})
		e.trackLive(id, "frank")
		e.waitCall(id, "usage", func(c feed.Call) bool { return c.Usage.LiveSeconds > 0 })
		if !e.openai.CloseLiveSession(id, reason) {
			t.Fatalf("%s: stand-in did not close", reason)
		}
		c := e.waitCall(id, reason, func(c feed.Call) bool { return !c.Live() })
		if c.End.Reason != want || !strings.Contains(c.End.Detail, reason) {
			t.Errorf("%s: end %+v, want %s", reason, c.End, want)
		}
	}
}

// TestLiveCloseWithoutSessionClosed: a sideband that closes, even
// cleanly, without session.closed does not end the session: the agent
// re-attaches and goes on counting; only session.closed ends it.
func TestLiveCloseWithoutSessionClosed(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond})
	e.trackLive(id, "gina")
	e.waitCall(id, "usage", func(c feed.Call) bool { return c.Usage.LiveSeconds > 0 })
	for _, cut := range []func(){
		func() { e.openai.CloseSideband(id, 1000, "") },
		func() { e.openai.DropSideband(id) },
	} {
		before := e.openai.Attaches(id)
		cut()
		deadline := time.Now().Add(10 * time.Second)
		for e.openai.Attaches(id) == before || e.openai.Attached(id) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("not re-attached: %d attaches", e.openai.Attaches(id))
			}
			time.Sleep(5 * time.Millisecond)
		}
		seen := e.openai.LiveSeconds(id)
		e.waitCall(id, "usage after the re-attach", func(c feed.Call) bool { return c.Usage.LiveSeconds > seen })
		if c, _ := e.board.Get(id); !c.Live() {
			t.Fatalf("ended on a close without session.closed: %+v", c.End)
		}
	}
	e.openai.CloseLiveSession(id, "remote_hangup")
	c := e.waitCall(id, "the end", func(c feed.Call) bool { return !c.Live() })
	if c.Usage.LiveSeconds != e.openai.LiveSeconds(id) || c.Usage.Gaps == 0 {
		t.Errorf("seconds %v (OpenAI %v), gaps %d", c.Usage.LiveSeconds, e.openai.LiveSeconds(id), c.Usage.Gaps)
	}
}

// TestLiveBudgetCut: a Live session over its max_cost is warned (the
// model told to wrap up over the sideband), then hung up by policy.
func TestLiveBudgetCut(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxCostUSD: 0.05, WrapUp: true})})
	// 0.05 USD is a minute at $0.05/min: 6 s of billed seconds an update.
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 20 * time.Millisecond, SecondsPerUpdate: 6})
	e.trackLive(id, "hank")
	c := e.waitCall(id, "the cut", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonPolicy || !strings.Contains(c.End.Detail, string(feed.LimitCost)) {
		t.Fatalf("end %+v", c.End)
	}
	if len(c.Warnings) == 0 {
		t.Error("no warning before the cut")
	}
	// The warning told the model to wrap up, on the sideband, before the
	// hangup (the stand-in records what sidebands append).
	info, _ := e.openai.LiveSession(id)
	if len(info.Appended) == 0 || !strings.Contains(info.Appended[0], "wrap") {
		t.Errorf("no wrap-up instruction reached the session: %q", info.Appended)
	}
	if r, _ := e.openai.LiveEnded(id); r != "close_requested" {
		t.Errorf("OpenAI ended it %q", r)
	}
	if c.Usage.CostUSD < 0.05 || c.Usage.CostUSD > 0.05+6.0/60*0.05+0.001 {
		t.Errorf("cost $%v: over the limit by more than one update", c.Usage.CostUSD)
	}
}

// TestLiveRelay: the relay's Live mode creates the session with POST
// /v1/live/sessions and tracks it before the browser has its answer.
func TestLiveRelay(t *testing.T) {
	e := newEnv(t, realtimetest.Options{LiveUsageEvery: 10 * time.Millisecond}, agent.Config{})
	relay := httptest.NewServer(e.agent.Relay(agent.RelayConfig{API: feed.APILive,
		User: func(r *http.Request) (string, error) { return "ivy@example.com", nil },
	}))
	defer relay.Close()
	resp, err := http.Post(relay.URL, "application/sdp", strings.NewReader(offer))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "/v1/calls/live_") || !strings.HasPrefix(string(answer), "v=0") {
		t.Fatalf("relay answered %d %q %.40q", resp.StatusCode, loc, answer)
	}
	id := strings.TrimPrefix(loc, "/v1/calls/")
	c := e.waitCall(id, "usage", func(c feed.Call) bool { return c.Usage.LiveSeconds > 0 })
	if c.Kind() != feed.APILive || c.User != "ivy@example.com" || c.Model != "gpt-live-1" {
		t.Errorf("call %+v", c)
	}

	// A Realtime session config on the Live relay is refused before OpenAI.
	bad := httptest.NewServer(e.agent.Relay(agent.RelayConfig{API: feed.APILive,
		User: func(r *http.Request) (string, error) { return "ivy@example.com", nil },
		Session: func(*http.Request, string) (json.RawMessage, error) {
			return json.RawMessage(`{"type":"realtime"}`), nil
		},
	}))
	defer bad.Close()
	resp, err = http.Post(bad.URL, "application/sdp", strings.NewReader(offer))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "realtime") {
		t.Errorf("realtime config on the live relay: %d %s", resp.StatusCode, body)
	}
}

// TestLiveAPIMismatch: a Realtime model on a Live session is flagged.
func TestLiveAPIMismatch(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.agent.Track(ctx, id, agent.Meta{User: "jo", Model: "gpt-realtime"}); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	c := e.waitCall(id, "the flag", func(c feed.Call) bool { return len(c.Flags) > 0 })
	if c.Flags[0].Kind != feed.FlagAPIMismatch {
		t.Errorf("flags %+v", c.Flags)
	}
}

// TestLiveSecondsArePaced: OpenAI reports a Live session's billed seconds
// about every second; the agent publishes them every LiveInterval, not
// once per report, and the end carries the exact final figure.
func TestLiveSecondsArePaced(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	a, _ := e.peer("paced", agent.Config{LiveInterval: 400 * time.Millisecond})
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond, SecondsPerUpdate: 1, Updates: 150})
	usages := e.countUsages(id)
	start := time.Now()
	if err := a.Track(t.Context(), id, agent.Meta{User: "u", API: feed.APILive}); err != nil {
		t.Fatal(err)
	}
	c := e.waitCall(id, "the end", func(c feed.Call) bool { return !c.Live() })
	took := time.Since(start)
	if c.Usage.LiveSeconds != 150 || e.openai.LiveSeconds(id) != 150 {
		t.Fatalf("final seconds %v (OpenAI %v), want 150", c.Usage.LiveSeconds, e.openai.LiveSeconds(id))
	}
	// 150 reports over took; at most one usage event per interval (and
	// one more for the first), far fewer than the reports.
	if most := int64(took/(400*time.Millisecond)) + 2; usages.Load() > most || usages.Load() >= 150 {
		t.Fatalf("%d usage events for 150 reports in %s, want at most %d", usages.Load(), took.Round(time.Millisecond), most)
	}
}

// TestLiveSIP: with SIPConfig.API live, the webhook answers
// live.call.incoming on the Live API (its id stays rtc_…), tracks the
// call as a Live session without standby or creation minimum, and
// acknowledges a realtime.call.incoming without acting on it.
func TestLiveSIP(t *testing.T) {
	e := newEnv(t, realtimetest.Options{LiveUsageEvery: 10 * time.Millisecond}, agent.Config{})
	hook := httptest.NewServer(e.agent.SIPWebhook(agent.SIPConfig{Secret: e.openai.WebhookSecret(), API: feed.APILive}))
	defer hook.Close()
	e.openai.SetWebhook(realtimetest.WebhookTarget{URL: hook.URL})

	id := e.openai.IncomingLiveSIPCall("+15550000001", "+18005551212")
	if strings.HasPrefix(id, feed.LivePrefix) {
		t.Fatalf("a SIP session id %q: the stand-in keeps rtc_", id)
	}
	c := e.waitCall(id, "billed seconds", func(c feed.Call) bool { return c.Usage.LiveSeconds > 0 })
	if c.Kind() != feed.APILive || c.User != "sip:+15550000001@sip.example.com" || c.Model != "gpt-live-1" {
		t.Errorf("call %+v", c)
	}
	if info, ok := e.openai.SIPCall(id); !ok || !info.Accepted || !info.Live {
		t.Errorf("stand-in: %+v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.agent.Hangup(ctx, id, feed.End{Reason: feed.ReasonOperator, By: "test"}); err != nil {
		t.Fatal(err)
	}
	c = e.waitCall(id, "the end", func(c feed.Call) bool { return !c.Live() })
	if c.Usage.StandbySeconds != 0 || c.End.Reason != feed.ReasonOperator {
		t.Errorf("SIP session: standby %v, end %+v", c.Usage.StandbySeconds, c.End)
	}
	p, _ := agent.DefaultPrices().LookupLive("gpt-live-1")
	if want := feed.RoundUSD(c.Usage.LiveSeconds / 60 * p.PerMinute); c.Usage.CostUSD != want {
		t.Errorf("SIP cost $%v, want $%v (billed seconds only)", c.Usage.CostUSD, want)
	}

	// A Realtime announcement of another call is not this handler's.
	rt := e.openai.IncomingSIPCall("+15550000002", "+18005551212")
	waitFor(t, "the delivery", func() bool {
		for _, d := range e.openai.Deliveries() {
			if d.Status == http.StatusOK && strings.Contains(string(d.Body), rt) {
				return true
			}
		}
		return false
	})
	if info, _ := e.openai.SIPCall(rt); info.Accepted || info.RejectStatus != 0 {
		t.Errorf("a realtime.call.incoming was acted on: %+v", info)
	}
}

// TestLiveTrackOverTheSidecar: POST /v1/calls takes "api": a session
// registered as live is tracked on the Live sideband; an unknown api is
// refused before anything is dialled.
func TestLiveTrackOverTheSidecar(t *testing.T) {
	e := newEnv(t, realtimetest.Options{LiveUsageEvery: 10 * time.Millisecond}, agent.Config{})
	api := e.api(e.agent, agent.SidecarConfig{}, "")
	var refused struct{ Error struct{ Code string } }
	if code := api.do("POST", "/v1/calls", `{"call_id":"rtc_u1_x","user":"u","api":"sip"}`, &refused); code != http.StatusBadRequest || refused.Error.Code != "invalid_api" {
		t.Fatalf("api sip: %d %+v", code, refused)
	}
	if n := e.openai.Attaches("rtc_u1_x"); n != 0 {
		t.Fatalf("a refused registration dialled OpenAI %d times", n)
	}
	var out map[string]string
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 10 * time.Millisecond})
	if code := api.do("POST", "/v1/calls", `{"call_id":"`+id+`","user":"kim","api":"live"}`, &out); code != http.StatusAccepted {
		t.Fatalf("track: %d %v", code, out)
	}
	c := e.waitCall(id, "billed seconds", func(c feed.Call) bool { return c.Usage.LiveSeconds > 0 })
	if c.Kind() != feed.APILive || c.User != "kim" {
		t.Errorf("call %+v", c)
	}
}
