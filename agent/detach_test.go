package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestOpenAIOutageDetachesThenReattaches: OpenAI unreachable (every
// connection reset) for longer than the old give-up: the call stays live,
// shown detached, re-attaches when OpenAI is back, its totals carry on,
// and a kill reaches OpenAI exactly once.
func TestOpenAIOutageDetachesThenReattaches(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{ReattachMax: 300 * time.Millisecond})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
	e.track(id, "alice")
	before := e.waitCall(id, "2 responses", func(c feed.Call) bool { return c.Usage.Responses >= 2 })
	down := time.Now()
	e.openai.SetReachable(false)
	c := e.waitCall(id, "detached", func(c feed.Call) bool { return c.State == feed.StateDetached })
	if c.DetachedSince.Before(down.Add(-time.Second)) || c.DetachDetail == "" {
		t.Fatalf("detached since %v (outage at %v), detail %q", c.DetachedSince, down, c.DetachDetail)
	}
	// Many more attempts than the 5 after which agents used to give up.
	waitFor(t, "eight failed re-attaches", func() bool { return e.openai.Refused() >= 8 })
	if c, _ := e.board.Get(id); c.State != feed.StateDetached {
		t.Fatalf("during the outage the call is %s (%+v), want detached", c.State, c.End)
	}
	e.openai.SetReachable(true)
	back := time.Now()
	e.waitCall(id, "attached again", func(c feed.Call) bool { return c.State == feed.StateLive })
	reattached := time.Since(back)
	c = e.waitCall(id, "counting on", func(c feed.Call) bool {
		return c.State == feed.StateLive && c.Usage.Responses > before.Usage.Responses+1
	})
	if c.Usage.Gaps != 1 || c.Usage.GapSeconds < time.Since(down).Seconds()/10 {
		t.Fatalf("gaps = %d (%.1fs) after one outage", c.Usage.Gaps, c.Usage.GapSeconds)
	}
	t.Logf("outage: %d resets; re-attached %s after OpenAI was back (on the dashboard); gap %.2fs",
		e.openai.Refused(), reattached.Round(time.Millisecond), c.Usage.GapSeconds)
	terminate(t, e, id)
	c = e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonOperator || e.openai.Hangups(id) != 1 {
		t.Fatalf("end = %+v, %d hangups", c.End, e.openai.Hangups(id))
	}
	sameTokens(t, c.Usage, e.openai.Emitted(id))
}

// TestKillDetachedCall: with the sideband unreachable (OpenAI answers 503
// to every attach) but REST working, a kill still ends the call, through
// the hangup endpoint, exactly once.
func TestKillDetachedCall(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "alice")
	e.detachForGood(id)
	start := time.Now()
	terminate(t, e, id)
	c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonOperator || c.End.By != "op" || e.openai.Hangups(id) != 1 {
		t.Fatalf("end = %+v, %d hangups", c.End, e.openai.Hangups(id))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("kill of a detached call took %s: no sideband to wait for", d)
	}
}

// TestBudgetWhileDetached: seconds keep running while the sideband is
// down, and a call that crosses its limit then is cut through REST.
func TestBudgetWhileDetached(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxSeconds: 1500 * time.Millisecond})})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "alice")
	e.detachForGood(id)
	c := e.waitCall(id, "cut", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonPolicy || c.End.Detail != policy.CutDetail(feed.LimitSeconds) || e.openai.Hangups(id) != 1 {
		t.Fatalf("end = %+v, %d hangups", c.End, e.openai.Hangups(id))
	}
	if live := e.openai.Live(); len(live) != 0 {
		t.Fatalf("the stand-in still has %v live", live)
	}
}

// TestCleanCloseIsConfirmed: a clean close (1000) is what a proxy restart
// sends too; the call ends "hangup" only once OpenAI answers 404 to a
// re-attach, and goes on when the re-attach works.
func TestCleanCloseIsConfirmed(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 30 * time.Millisecond})
	e.track(id, "alice")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	waitFor(t, "a proxy's clean close", func() bool { return e.openai.CloseSideband(id, 1000, "proxy restart") > 0 })
	c := e.waitCall(id, "going on", func(c feed.Call) bool { return c.Usage.Gaps == 1 && c.Usage.Responses >= 3 })
	if !c.Live() {
		t.Fatalf("a clean close without a 404 ended the call: %+v", c.End)
	}
	e.openai.EndCall(id)
	c = e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonHangup {
		t.Fatalf("end = %+v", c.End)
	}
}

// detachForGood drops a call's sideband and makes OpenAI answer 503 to
// every attach after, with REST still working: the call stays detached.
func (e *env) detachForGood(id string) {
	e.t.Helper()
	waitFor(e.t, "the sideband", func() bool { return e.openai.Attached(id) > 0 })
	e.openai.FailAttaches(id, 503, 1<<20)
	e.openai.DropSideband(id)
	e.waitCall(id, "detached", func(c feed.Call) bool { return c.State == feed.StateDetached })
}

func terminate(t *testing.T, e *env, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "op", Reason: "test"}); err != nil {
		t.Fatalf("terminate %s: %v", id, err)
	}
}
