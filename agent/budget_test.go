package agent_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

func policyForAll(p policy.Policy) func(string) policy.Policy {
	return func(string) policy.Policy { return p }
}

// TestPolicyLimits runs one call per limit to its cut-off: each ends with
// reason policy naming the limit, after a warning, hung up exactly once.
func TestPolicyLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy policy.Policy
		script realtimetest.Script
		limit  feed.Limit
		check  func(t *testing.T, c feed.Call)
	}{
		{"max_tokens", policy.Policy{MaxTokens: 25000}, realtimetest.Script{TurnGap: 5 * time.Millisecond}, feed.LimitTokens,
			func(t *testing.T, c feed.Call) {
				if c.Usage.Tokens.Total < 25000 {
					t.Fatalf("cut at %d tokens, below the limit", c.Usage.Tokens.Total)
				}
			}},
		{"max_cost", policy.Policy{MaxCostUSD: 0.25}, realtimetest.Script{TurnGap: 5 * time.Millisecond}, feed.LimitCost,
			func(t *testing.T, c feed.Call) {
				if c.Usage.CostUSD < 0.25 {
					t.Fatalf("cut at $%.4f, below the limit", c.Usage.CostUSD)
				}
			}},
		// A silent call crosses max_seconds with no event to react to.
		{"max_seconds", policy.Policy{MaxSeconds: 800 * time.Millisecond}, realtimetest.Script{TurnGap: time.Hour}, feed.LimitSeconds,
			func(t *testing.T, c feed.Call) {
				if s := c.EndedAt.Sub(c.StartedAt); s < 800*time.Millisecond || s > 3*time.Second {
					t.Fatalf("cut after %v, want just after 800ms", s)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, realtimetest.Options{}, agent.Config{Name: "budget-agent", PolicyFor: policyForAll(tc.policy)})
			id := e.openai.NewCall(tc.script)
			e.track(id, "alice")
			c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
			if c.End.Reason != feed.ReasonPolicy || c.End.Detail != policy.CutDetail(tc.limit) || c.End.By != "agent budget-agent" {
				t.Fatalf("end = %+v", c.End)
			}
			if n := e.openai.Hangups(id); n != 1 {
				t.Fatalf("%d hangups, want 1", n)
			}
			if c.Policy == nil {
				t.Fatal("the call's policy was not published")
			}
			// The 80 % warning is published before the ended event, also
			// when one response carries the call past 80 % and 100 % at once.
			warned := false
			for _, w := range c.Warnings {
				warned = warned || w.Limit == tc.limit
			}
			if !warned {
				t.Fatalf("no %s warning before the cut: %+v", tc.limit, c.Warnings)
			}
			if s := c.Summarize(time.Now()); string(s.EndReason) != "policy:"+string(tc.limit) {
				t.Fatalf("ls end_reason = %q", s.EndReason)
			}
			tc.check(t, c)
		})
	}
}

// TestCreditsCutAndChargeOnce sets a user's credit, lets a call spend it,
// and checks the cut (policy:credits) and a single charge.
func TestCreditsCutAndChargeOnce(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{}, withCredits())
	ctx := context.Background()
	if _, err := e.credits.Set(ctx, "carol", 0.03*feed.Dollar); err != nil {
		t.Fatal(err)
	}
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 10 * time.Millisecond})
	e.track(id, "carol")
	c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Detail != "policy:credits" || c.Policy == nil || c.Policy.CreditsUSD == nil || *c.Policy.CreditsUSD != 0.03 {
		t.Fatalf("end = %+v policy = %+v", c.End, c.Policy)
	}
	cost, err := feed.MicrosFromUSD(c.Usage.CostUSD)
	if err != nil {
		t.Fatal(err)
	}
	var charged feed.Micros
	waitFor(t, "the charge", func() bool {
		total, ok, err := e.credits.Charged(ctx, id)
		charged = total
		return err == nil && ok && total > 0
	})
	if charged != cost {
		t.Fatalf("charged %s, the call cost %s ($%v)", charged, cost, c.Usage.CostUSD)
	}
	bal, _, err := e.credits.Balance(ctx, "carol")
	if err != nil || bal > 0 || bal != 0.03*feed.Dollar-charged {
		t.Fatalf("balance %s, want $0.03 - %s", bal, charged)
	}
	// No credit left: the next call is refused at admission.
	if _, err := e.agent.MintClientSecret(ctx, "carol", nil, time.Minute); !isRefusal(err, http.StatusPaymentRequired, "credits") {
		t.Fatalf("mint with no credit: %v", err)
	}
}

func isRefusal(err error, status int, reason string) bool {
	var ref *agent.RefusedError
	return errors.As(err, &ref) && ref.Status == status && ref.Reason == reason
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdmissionRefusals: no credit → 402, over concurrency → 429, each
// before OpenAI is contacted and each published.
func TestAdmissionRefusals(t *testing.T) {
	e := newEnv(t, realtimetest.Options{TurnGap: time.Hour}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxConcurrent: 1})}, withCredits())
	ctx := context.Background()
	if _, err := e.credits.Set(ctx, "broke", 0); err != nil {
		t.Fatal(err)
	}
	relay := httptest.NewServer(e.agent.Relay(agent.RelayConfig{User: func(r *http.Request) (string, error) { return r.URL.Query().Get("u"), nil }}))
	defer relay.Close()
	post := func(user string) (int, string) {
		resp, err := http.Post(relay.URL+"?u="+user, "application/sdp", strings.NewReader(offer))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if st, body := post("broke"); st != http.StatusPaymentRequired || !strings.Contains(body, "credits") {
		t.Fatalf("no credit: %d %s", st, body)
	}
	if _, err := e.credits.Set(ctx, "dave", 1.25*feed.Dollar); err != nil {
		t.Fatal(err)
	}
	if st, _ := post("dave"); st != http.StatusCreated {
		t.Fatalf("first call: %d", st)
	}
	// The credit read at admission is the call's credit limit.
	if ids := e.agent.Calls(); len(ids) != 1 {
		t.Fatalf("tracking %v, want the one admitted call", ids)
	} else if c := e.waitCall(ids[0], "its policy", func(c feed.Call) bool { return c.Policy != nil }); c.Policy.CreditsUSD == nil || *c.Policy.CreditsUSD != 1.25 {
		t.Fatalf("admitted call's policy = %+v", c.Policy)
	}
	if st, body := post("dave"); st != http.StatusTooManyRequests || !strings.Contains(body, "concurrency") {
		t.Fatalf("second concurrent call: %d %s", st, body)
	}
	if n := len(e.openai.Live()); n != 1 {
		t.Fatalf("%d calls reached OpenAI, want only the admitted one", n)
	}
	if _, err := e.agent.MintClientSecret(ctx, "broke", nil, time.Minute); !isRefusal(err, http.StatusPaymentRequired, "credits") {
		t.Fatalf("mint with no credit: %v", err)
	}
	for _, want := range []struct{ user, mode, reason string }{{"broke", agent.ModeRelay, "credits"}, {"dave", agent.ModeRelay, "concurrency"}, {"broke", agent.ModeClientSecret, "credits"}} {
		e.waitSignal("refused "+want.user+" "+want.mode, func(ev feed.Event) bool {
			return ev.Kind == feed.KindRefused && ev.User == want.user && ev.Refusal.Mode == want.mode && ev.Refusal.Reason == want.reason
		})
	}
}

// TestFlags raises each call-level abuse signal.
func TestFlags(t *testing.T) {
	t.Run("concurrency", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxConcurrent: 1})})
		first := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		second := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(first, "erin")
		e.track(second, "erin") // the app created it itself: counted, flagged
		c := e.waitCall(second, "concurrency flag", func(c feed.Call) bool { return len(c.Flags) > 0 })
		if c.Flags[0].Kind != feed.FlagConcurrency || c.Flags[0].Evidence["live"] != "2" {
			t.Fatalf("flags = %+v", c.Flags)
		}
	})
	t.Run("burn_rate", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{BurnRateUSDPerMin: 0.01, BurnWindow: 300 * time.Millisecond})})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: 10 * time.Millisecond})
		e.track(id, "u")
		c := e.waitCall(id, "burn_rate flag", func(c feed.Call) bool { return len(c.Flags) > 0 })
		if c.Flags[0].Kind != feed.FlagBurnRate || c.Flags[0].Evidence["usd_per_min"] == "" {
			t.Fatalf("flags = %+v", c.Flags)
		}
	})
	t.Run("near_cap", func(t *testing.T) {
		// OpenAI's cap 3 minutes away: inside the default 5-minute warning.
		e := newEnv(t, realtimetest.Options{MaxDuration: 3 * time.Minute}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "u")
		c := e.waitCall(id, "near_cap flag", func(c feed.Call) bool { return len(c.Flags) > 0 })
		if c.Flags[0].Kind != feed.FlagNearCap {
			t.Fatalf("flags = %+v", c.Flags)
		}
	})
	t.Run("silence", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{Silence: 300 * time.Millisecond})})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "u")
		c := e.waitCall(id, "silence flag", func(c feed.Call) bool { return len(c.Flags) > 0 })
		if c.Flags[0].Kind != feed.FlagSilence {
			t.Fatalf("flags = %+v", c.Flags)
		}
	})
}

// TestLimitEnforcedWhileNATSDown stops NATS before a call crosses its
// limit: the call is still hung up, and once NATS is back the ended event
// and the final usage are there and the credit is charged exactly once.
func TestLimitEnforcedWhileNATSDown(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, realtimetest.Options{}, agent.Config{PolicyFor: policyForAll(policy.Policy{MaxTokens: 6000})}, withCredits(), withStoreDir(dir))
	ctx := context.Background()
	if _, err := e.credits.Set(ctx, "frank", 5*feed.Dollar); err != nil {
		t.Fatal(err)
	}
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 40 * time.Millisecond})
	e.track(id, "frank")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	port := e.nats.Addr().(*net.TCPAddr).Port
	e.w.Stop()
	e.nats.Shutdown()

	waitFor(t, "the hangup while NATS is down", func() bool { return e.openai.Hangups(id) == 1 })
	srv, err := natsserver.Run(natsserver.Options{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	var c feed.Call
	waitFor(t, "the ended event after NATS returned", func() bool {
		var ok bool
		c, ok = e.fresh(id)
		return ok && !c.Live()
	})
	if c.End.Detail != "policy:max_tokens" || c.Usage.Tokens.Total < 6000 {
		t.Fatalf("ended = %+v usage %d tokens", c.End, c.Usage.Tokens.Total)
	}
	var charged feed.Micros
	waitFor(t, "the charge", func() bool {
		total, ok, err := e.credits.Charged(ctx, id)
		charged = total
		return err == nil && ok && total > 0
	})
	bal, _, err := e.credits.Balance(ctx, "frank")
	if err != nil || bal != 5*feed.Dollar-charged {
		t.Fatalf("balance %s after a charge of %s from $5 (%v)", bal, charged, err)
	}
}
