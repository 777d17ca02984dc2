package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// TestWebhookCallEnded: each call's final record reaches the app once,
// as call.ended, signed so that openai-go's verifier accepts it, with the
// call as `ls --json` prints it and the exact cost of the final record;
// also when the app answered 500 twice first (same id and body on every
// attempt). It logs how long after the end the app had it.
func TestWebhookCallEnded(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	e := newEnv(t, realtimetest.Options{Seed: 3}, agent.Config{Notify: fastNotify(secret, r.URL())})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for round, fails := range []int64{0, 2} {
		r.fail.Store(fails)
		id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime", Turns: 3, TurnGap: 5 * time.Millisecond, Transcription: "tokens"})
		e.track(id, fmt.Sprintf("alice%d@example.com", round))
		e.waitCall(id, "3 responses", func(c feed.Call) bool { return c.Usage.Responses == 3 })
		want := e.openai.Emitted(id)
		e.waitCall(id, "all usage", func(c feed.Call) bool {
			return c.Usage.Tokens.Total == want.Total && c.Usage.TranscriptionTokens == want.TranscriptionTokens
		})
		if rep, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "maria@oncall", Reason: "test"}); err != nil || !rep.OK {
			t.Fatalf("terminate: %+v %v", rep, err)
		}
		wid := "ended_" + id
		r.waitDelivered(10*time.Second, wid)
		waitSettled(t, e.feed.NC, e.feed.Subjects.FinalStream(), r.URL())
		r.checkSigned()

		var mine []attempt
		for _, a := range r.all() {
			if a.id == wid {
				mine = append(mine, a)
			}
		}
		if len(mine) != int(fails)+1 || !mine[len(mine)-1].ok {
			t.Fatalf("round %d: %d attempts for %s (%v), want %d failed then one delivered", round, len(mine), wid, ids(mine), fails)
		}
		for _, a := range mine[1:] {
			if !bytes.Equal(a.body, mine[0].body) {
				t.Fatalf("a retry's body differs:\n%s\n%s", mine[0].body, a.body)
			}
		}
		got := mine[len(mine)-1]
		if got.typ != agent.NotifyEnded {
			t.Fatalf("type %q, want call.ended", got.typ)
		}
		final, ok, err := e.feed.Final(ctx, id)
		if err != nil || !ok {
			t.Fatalf("final record of %s: %v %v", id, ok, err)
		}
		s := summaryOf(t, got)
		if s.CallID != id || s.User != fmt.Sprintf("alice%d@example.com", round) || s.State != feed.StateEnded ||
			s.EndReason != feed.ReasonOperator || s.EndedBy != "maria@oncall" || s.EndedAt == nil || s.Model != "gpt-realtime" {
			t.Fatalf("data = %+v", s)
		}
		if s.CostUSD != final.Usage.CostUSD || s.CostUSD <= 0 || s.Tokens != final.Usage.Tokens || s.Responses != 3 {
			t.Fatalf("webhook says $%v %+v, the final record $%v %+v", s.CostUSD, s.Tokens, final.Usage.CostUSD, final.Usage.Tokens)
		}
		if !got.env.Timestamp.Equal(final.End.EndedAt) {
			t.Fatalf("timestamp %v, want the end %v", got.env.Timestamp, final.End.EndedAt)
		}
		if fails == 0 {
			t.Logf("end of call → app has call.ended: %v", got.at.Sub(final.End.EndedAt).Round(100*time.Microsecond))
		}
	}
	for id, n := range r.delivered() {
		if n != 1 || !strings.HasPrefix(id, "ended_") {
			t.Fatalf("delivered %s %d times; want each call.ended once, nothing else", id, n)
		}
	}
}

// TestWebhookSurvivesRestart: the app is down when the call ends, the
// agent is stopped before it comes back, another agent starts with the
// same settings: the record is delivered, once.
func TestWebhookSurvivesRestart(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	r.down.Store(true)
	e := newEnv(t, realtimetest.Options{}, agent.Config{Notify: fastNotify(secret, r.URL())})
	id := e.openai.NewCall(realtimetest.Script{Turns: 2, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	e.track(id, "bob")
	e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	r.waitFor("a failed attempt", 10*time.Second, func(as []attempt) bool { return len(as) > 0 })
	if err := e.agent.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tried := len(r.all())
	r.down.Store(false)
	restarted := time.Now()
	e.peer("restarted", agent.Config{Notify: fastNotify(secret, r.URL())})
	r.waitDelivered(10*time.Second, "ended_"+id)
	waitSettled(t, e.feed.NC, e.feed.Subjects.FinalStream(), r.URL())
	r.checkSigned()
	if got := r.delivered(); len(got) != 1 || got["ended_"+id] != 1 {
		t.Fatalf("delivered %v, want ended_%s once", got, id)
	}
	for _, a := range r.all() {
		if a.ok && a.at.Before(restarted) {
			t.Fatal("delivered before the new agent started")
		}
	}
	t.Logf("%d attempts while the app was down, delivered by the restarted agent", tried)
}

// TestWebhookConsumerRecreated: a consumer deleted under the agent (an
// operator, a NATS that lost its data) is made again, delivering what
// was stored since the agent started.
func TestWebhookConsumerRecreated(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	e := newEnv(t, realtimetest.Options{}, agent.Config{Notify: fastNotify(secret, r.URL())})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, _ := jetstream.New(e.feed.NC)
	stream, name := e.feed.Subjects.FinalStream(), agent.NotifyConsumerName(r.URL())
	for {
		if _, err := js.Consumer(ctx, stream, name); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the agent made no consumer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := js.DeleteConsumer(ctx, stream, name); err != nil {
		t.Fatal(err)
	}
	id := e.openai.NewCall(realtimetest.Script{Turns: 1, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	e.track(id, "erin")
	r.waitDelivered(10*time.Second, "ended_"+id)
	r.checkSigned()
}

// TestWebhookAfterNATSWipe: NATS comes back without its data (streams
// and consumers gone): the agent makes its consumer again, and a call
// that ends afterwards is delivered.
func TestWebhookAfterNATSWipe(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	e := newEnv(t, realtimetest.Options{}, agent.Config{Notify: fastNotify(secret, r.URL())})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
	e.track(id, "frank")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	port := e.nats.Addr().(*net.TCPAddr).Port
	e.nats.Shutdown()
	srv, err := natsserver.Run(natsserver.Options{Port: port, StoreDir: t.TempDir()}) // empty
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Cleanup(func() { e.agent.Close(context.Background()) }) // before the server goes
	wiped := time.Now()
	e.openai.EndCall(id)
	r.waitDelivered(15*time.Second, "ended_"+id)
	r.checkSigned()
	t.Logf("delivered %v after NATS came back empty", time.Since(wiped).Round(time.Millisecond))
}

// TestWebhookFleetDeliversOnce: two agents with the same URL share one
// consumer: every call's record is delivered once, not once per agent.
func TestWebhookFleetDeliversOnce(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{Notify: fastNotify(secret, r.URL())}))
	other, _ := e.peer("other", fastFleet(agent.Config{Notify: fastNotify(secret, r.URL())}))
	ctx := context.Background()
	var want []string
	for i := range 8 {
		id := e.openai.NewCall(realtimetest.Script{Turns: 2, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
		a := e.agent
		if i%2 == 1 {
			a = other
		}
		if err := a.Track(ctx, id, agent.Meta{User: fmt.Sprintf("u%d", i)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "ended_"+id)
	}
	r.waitDelivered(15*time.Second, want...)
	waitSettled(t, e.feed.NC, e.feed.Subjects.FinalStream(), r.URL())
	r.checkSigned()
	got := r.delivered()
	if len(r.all()) != len(want) || len(got) != len(want) {
		t.Fatalf("%d attempts, %d ids delivered (%v); want each of %d calls once", len(r.all()), len(got), got, len(want))
	}
	for _, id := range want {
		if got[id] != 1 {
			t.Fatalf("%s delivered %d times", id, got[id])
		}
	}
}

// TestWebhookOptionalEvents: flags and refusals are pushed when asked
// for, warnings (not asked for) are not, though the notify stream holds
// them; a user flag and a refusal name their user.
func TestWebhookOptionalEvents(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	n := fastNotify(secret, r.URL())
	n.Events = []string{agent.NotifyEnded, agent.NotifyFlagged, agent.NotifyRefused}
	e := newEnv(t, realtimetest.Options{}, agent.Config{
		Notify: n,
		PolicyFor: func(user string) policy.Policy {
			switch user {
			case "capped":
				return policy.Policy{MaxSeconds: time.Second, WarnAt: 0.3}
			case "burner":
				return policy.Policy{BurnRateUSDPerMin: 1e-9, BurnWindow: 50 * time.Millisecond}
			}
			return policy.Policy{}
		},
		Admit: func(_ context.Context, _, user string) error {
			if user == "mallory" {
				return &agent.RefusedError{Status: 402, Reason: "credits", Detail: "no credit left"}
			}
			return nil
		},
	})
	capped := e.openai.NewCall(realtimetest.Script{TurnGap: 50 * time.Millisecond})
	e.track(capped, "capped")
	burner := e.openai.NewCall(realtimetest.Script{Turns: 4, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	e.track(burner, "burner")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.agent.MintClientSecret(ctx, "mallory", nil, time.Minute); err == nil {
		t.Fatal("mallory was given a key")
	}
	e.waitCall(capped, "a warning, then the cut", func(c feed.Call) bool { return !c.Live() && len(c.Warnings) > 0 })
	e.waitCall(burner, "the burn-rate flag and the end", func(c feed.Call) bool { return !c.Live() && len(c.Flags) > 0 })

	r.waitDelivered(10*time.Second, "ended_"+capped, "ended_"+burner, "flagged_"+burner+"_burn_rate")
	var refusal attempt
	r.waitFor("call.refused", 10*time.Second, func(as []attempt) bool {
		for _, a := range as {
			if a.ok && a.typ == agent.NotifyRefused {
				refusal = a
				return true
			}
		}
		return false
	})
	waitSettled(t, e.feed.NC, e.feed.Subjects.FinalStream(), r.URL())
	waitSettled(t, e.feed.NC, e.feed.Subjects.NotifyStream(), r.URL())
	r.checkSigned()

	types := map[string]int{}
	for _, a := range r.all() {
		types[a.typ]++
		if a.typ == agent.NotifyFlagged {
			var d struct {
				CallID string    `json:"call_id"`
				User   string    `json:"user"`
				Flag   feed.Flag `json:"flag"`
			}
			if err := json.Unmarshal(a.env.Data, &d); err != nil || d.CallID != burner || d.User != "burner" || d.Flag.Kind != feed.FlagBurnRate {
				t.Fatalf("call.flagged data: %s (%v)", a.env.Data, err)
			}
		}
	}
	var rd struct {
		User    string       `json:"user"`
		Refusal feed.Refusal `json:"refusal"`
	}
	if err := json.Unmarshal(refusal.env.Data, &rd); err != nil || rd.User != "mallory" || rd.Refusal.Reason != "credits" || rd.Refusal.Status != 402 {
		t.Fatalf("call.refused data: %s (%v)", refusal.env.Data, err)
	}
	if !strings.HasPrefix(refusal.id, "refused_") {
		t.Fatalf("refusal webhook-id %q", refusal.id)
	}
	if types[agent.NotifyWarning] != 0 || types[agent.NotifyEnded] != 2 || types[agent.NotifyFlagged] != 1 || types[agent.NotifyRefused] != 1 {
		t.Fatalf("delivered %v; want 2 call.ended, 1 call.flagged, 1 call.refused, no call.warning", types)
	}
	// The warning was there to push: the stream holds it, the consumer
	// (asked for flags and refusals) skipped it.
	js, _ := jetstream.New(e.feed.NC)
	s, err := js.Stream(ctx, e.feed.Subjects.NotifyStream())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLastMsgForSubject(ctx, e.feed.Subjects.NotifyKind(feed.KindWarning)); err != nil {
		t.Fatalf("no warning in the notify stream: %v", err)
	}
}

// TestWebhookGivesUp: an app that never answers 2xx is retried until
// the give-up window has passed, then the event is dropped and an error
// logged; nothing is attempted after that.
func TestWebhookGivesUp(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	r.fail.Store(1 << 40)
	var logs syncLog
	n := fastNotify(secret, r.URL())
	n.GiveUpAfter = 400 * time.Millisecond
	e := newEnv(t, realtimetest.Options{}, agent.Config{Notify: n, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	id := e.openai.NewCall(realtimetest.Script{Turns: 1, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	e.track(id, "carol")
	r.waitFor("an attempt", 10*time.Second, func(as []attempt) bool { return len(as) > 0 })
	waitSettled(t, e.feed.NC, e.feed.Subjects.FinalStream(), r.URL())
	if !strings.Contains(logs.String(), "WEBHOOK GIVEN UP") || !strings.Contains(logs.String(), "ended_"+id) {
		t.Fatalf("no loud log of the drop:\n%s", logs.String())
	}
	n1 := len(r.all())
	if n1 < 3 {
		t.Fatalf("%d attempts before giving up, want several", n1)
	}
	if strings.Contains(logs.String(), secret[len("whsec_"):]) {
		t.Fatal("the secret is in the logs")
	}
	t.Logf("%d attempts in the 400 ms window", n1)
}

// TestNotifyConfigRefused: a bad secret, URL or event is one error
// naming it, and the agent does not start; the secret is never quoted.
func TestNotifyConfigRefused(t *testing.T) {
	_, nc := runNATS(t, "")
	good := newSecret(t)
	short := "whsec_c2hvcnRzZWNyZXQ=" // "shortsecret"
	for _, tc := range []struct {
		cfg  agent.NotifyConfig
		want string
	}{
		{agent.NotifyConfig{Secret: good}, "no URL"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}}, "not set"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}, Secret: "sk-proj-verysecret"}, "whsec_"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}, Secret: "whsec_very$ecret!"}, "not standard base64"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}, Secret: short}, "11 bytes, want at least 24"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}, Secret: strings.TrimSuffix(good, "=") + "\n="}, "not standard base64"},
		{agent.NotifyConfig{URLs: []string{"ftp://app.example.com/h"}, Secret: good}, `notify URL "ftp://app.example.com/h"`},
		{agent.NotifyConfig{URLs: []string{"/hooks"}, Secret: good}, "absolute http"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h", "http://"}, Secret: good}, `notify URL "http://"`},
		{agent.NotifyConfig{URLs: []string{"https://u:verysecret@app .example.com/h?token=verysecret"}, Secret: good}, "notify URL"},
		{agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}, Secret: good, Events: []string{"call.endd"}}, `unknown event "call.endd"`},
	} {
		cfg := tc.cfg
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error with %q", tc.cfg.URLs, err, tc.want)
		}
		a, err := agent.New(context.Background(), nc, agent.Config{APIKey: "sk-x", Notify: &cfg})
		if err == nil {
			a.Close(context.Background())
			t.Fatalf("New started with %+v", tc.cfg)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "verysecret") || strings.Contains(msg, good[6:]) || strings.Contains(msg, "\n") {
			t.Errorf("New: %q; want one line with %q and no secret", msg, tc.want)
		}
	}
	ok := agent.NotifyConfig{URLs: []string{"https://app.example.com/h"}, Secret: good, Events: []string{"call.warning", "call.ended"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
}

// TestNotifierStopsOnClose: Close stops every pull and attempt at once
// and leaves no goroutine behind; the attempt it cut short is handed back at
// once, so another agent delivers it well before the ack wait (25 s).
func TestNotifierStopsOnClose(t *testing.T) {
	secret := newSecret(t)
	r := newReceiver(t, secret)
	r.hang.Store(true)
	base, _ := agentGoroutines()
	e := newEnv(t, realtimetest.Options{}, agent.Config{Notify: &agent.NotifyConfig{URLs: []string{r.URL()}, Secret: secret,
		Events: []string{agent.NotifyEnded, agent.NotifyFlagged}}})
	id := e.openai.NewCall(realtimetest.Script{Turns: 1, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	e.track(id, "dave")
	r.waitFor("an attempt in flight", 10*time.Second, func(as []attempt) bool { return len(as) > 0 })
	closing := time.Now()
	if err := e.agent.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(closing); d > 3*time.Second {
		t.Fatalf("Close took %v: it waited for the attempt in flight (timeout 10 s) instead of cutting it short", d)
	}
	e.w.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for n, stacks := agentGoroutines(); len(n) > len(base); n, stacks = agentGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d agent goroutines after Close, %d before:\n%s", len(n), len(base), stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.hang.Store(false)
	start := time.Now()
	e.peer("next", agent.Config{Notify: fastNotify(secret, r.URL())})
	// Well under the ack wait (25 s), with room for a loaded CI machine.
	r.waitDelivered(12*time.Second, "ended_"+id)
	t.Logf("the cut attempt was delivered by another agent %v after it started", time.Since(start).Round(time.Millisecond))
}

// agentGoroutines lists the goroutines running the agent's code or its
// HTTP connections (see TestNoGoroutineLeaks).
func agentGoroutines() ([]string, string) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var mine []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "notify_test.go") || strings.Contains(g, "agent/realtimetest.") || strings.Contains(g, "nats-server") ||
			strings.Contains(g, "httptest") || strings.Contains(g, "notify_helpers_test.go") {
			continue
		}
		if strings.Contains(g, "calltop/calltop/agent.") || strings.Contains(g, "persistConn") {
			mine = append(mine, g)
		}
	}
	return mine, strings.Join(mine, "\n\n")
}

// syncLog is a log sink safe for the agent's goroutines.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
