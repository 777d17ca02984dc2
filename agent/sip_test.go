package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestSIP drives OpenAI's signed realtime.call.incoming webhook into the
// agent: accepted and tracked, rejected by the app, rejected 486 by
// admission; forged, stale and replayed deliveries change nothing.
func TestSIP(t *testing.T) {
	e := newEnv(t, realtimetest.Options{TurnGap: 10 * time.Millisecond}, agent.Config{}, withCredits())
	ctx := context.Background()
	if _, err := e.credits.Set(ctx, "sip:+15550000003@sip.example.com", 0); err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(e.agent.SIPWebhook(agent.SIPConfig{
		Secret: e.openai.WebhookSecret(),
		Decide: func(ctx context.Context, c agent.SIPCall) agent.SIPDecision {
			if c.From == "sip:+15550000002@sip.example.com" {
				return agent.SIPDecision{Accept: false, RejectStatus: 486, User: c.From}
			}
			return agent.SIPDecision{Accept: true, User: c.From, Session: []byte(`{"type":"realtime","model":"gpt-realtime-mini"}`)}
		},
	}))
	defer hook.Close()
	e.openai.SetWebhook(realtimetest.WebhookTarget{URL: hook.URL})

	accepted := e.openai.IncomingSIPCall("+15550000001", "+18005551212")
	c := e.waitCall(accepted, "usage from the SIP call", func(c feed.Call) bool { return c.Usage.Responses > 0 })
	if c.User != "sip:+15550000001@sip.example.com" || c.Model != "gpt-realtime-mini" {
		t.Fatalf("SIP call = %+v", c)
	}
	if ok, _, model := e.openai.SIPOutcome(accepted); !ok || model != "gpt-realtime-mini" {
		t.Fatalf("stand-in: accepted %v model %q", ok, model)
	}

	byApp := e.openai.IncomingSIPCall("+15550000002", "+18005551212")
	broke := e.openai.IncomingSIPCall("+15550000003", "+18005551212")
	waitFor(t, "both rejections", func() bool {
		_, s1, _ := e.openai.SIPOutcome(byApp)
		_, s2, _ := e.openai.SIPOutcome(broke)
		return s1 != 0 && s2 != 0
	})
	for id, want := range map[string]int{byApp: 486, broke: 486} {
		if ok, status, _ := e.openai.SIPOutcome(id); ok || status != want {
			t.Fatalf("%s: accepted %v, reject status %d, want %d", id, ok, status, want)
		}
	}
	// The refused event says what the caller heard: SIP 486, not HTTP 402.
	e.waitSignal("refused SIP", func(ev feed.Event) bool {
		return ev.Kind == feed.KindRefused && ev.Refusal.Mode == agent.ModeSIP && ev.Refusal.Reason == "credits" && ev.Refusal.Status == 486
	})

	// Forged, stale and replayed deliveries.
	pending := e.openai.IncomingSIPCall("+15550000009", "+18005551212") // delivered and accepted once
	waitFor(t, "the accept", func() bool { ok, _, _ := e.openai.SIPOutcome(pending); return ok })
	info, _ := e.openai.SIPCall(pending)
	post := func(h http.Header) int {
		resp, err := e.openai.PostWebhook(hook.URL, h, info.Event)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := realtimetest.SignWebhookWithSecret(realtimetest.NewWebhookSecret(), "wh_forged1", time.Now(), info.Event)
	stale := e.openai.SignWebhook("wh_stale1", time.Now().Add(-10*time.Minute), info.Event)
	noSig := e.openai.SignWebhook("wh_nosig1", time.Now(), info.Event)
	noSig.Del("webhook-signature")
	for name, h := range map[string]http.Header{"forged": forged, "stale": stale, "unsigned": noSig} {
		if st := post(h); st != http.StatusBadRequest {
			t.Errorf("%s delivery: %d, want 400", name, st)
		}
	}
	// A byte-for-byte replay of the delivery that was accepted: 200 and
	// nothing done again (a second accept would have failed with 404 and
	// been answered 502).
	// The stand-in records the delivery when the agent's 200 arrives,
	// after the accept the wait above saw.
	var first http.Header
	waitFor(t, "the successful delivery", func() bool {
		for _, d := range e.openai.Deliveries() {
			if d.CallID == pending && d.Status == http.StatusOK {
				first = d.Header
			}
		}
		return first != nil
	})
	if st := post(first); st != http.StatusOK {
		t.Fatalf("replay: %d, want 200", st)
	}
	if info2, _ := e.openai.SIPCall(pending); info2.State != info.State && info.State != realtimetest.SIPAccepted {
		t.Fatalf("replay changed the call: %v", info2.State)
	}
	if n := len(e.agent.Calls()); n != 2 {
		t.Fatalf("agent tracks %d calls, want the 2 accepted", n)
	}
}
