package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// fast fleet timing for in-process tests: beat every 100 ms, adopt after
// 600 ms of silence.
func fastFleet(cfg agent.Config) agent.Config {
	cfg.HeartbeatInterval, cfg.AdoptAfter, cfg.HandoffWait = 100*time.Millisecond, 600*time.Millisecond, 2*time.Second
	return cfg
}

// peer starts another agent of e's fleet on a connection of its own.
func (e *env) peer(name string, cfg agent.Config) (*agent.Agent, func()) {
	e.t.Helper()
	nc, err := feed.Connect(e.nats.ClientURL(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Name, cfg.APIKey, cfg.BaseURL, cfg.Prefix = name, e.openai.APIKey(), e.openai.BaseURL(), e.feed.Subjects.Prefix
	if cfg.PublishInterval == 0 {
		cfg.PublishInterval = 20 * time.Millisecond
	}
	if cfg.CountersInterval == 0 {
		cfg.CountersInterval = 100 * time.Millisecond
	}
	cfg.EvaluateInterval = 20 * time.Millisecond
	a, err := agent.New(context.Background(), nc, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { a.Close(context.Background()); nc.Close() })
	return a, nc.Close
}

// TestExactlyOneAdopter: an agent cut off from NATS (it can neither beat
// nor publish) has its calls adopted by the three others, each call by
// exactly one of them, with its user and start carried on.
func TestExactlyOneAdopter(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{}))
	dying, cut := e.peer("dying", fastFleet(agent.Config{}))
	others := []*agent.Agent{e.agent}
	for _, name := range []string{"b", "c"} {
		a, _ := e.peer(name, fastFleet(agent.Config{}))
		others = append(others, a)
	}
	ctx := context.Background()
	var ids []string
	for i := range 6 {
		id := e.openai.NewCall(realtimetest.Script{TurnGap: 50 * time.Millisecond})
		if err := dying.Track(ctx, id, agent.Meta{User: fmt.Sprintf("u%d", i), Model: "gpt-realtime"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	started := map[string]time.Time{}
	for _, id := range ids {
		c := e.waitCall(id, "a response under the dying agent", func(c feed.Call) bool { return c.Agent == "dying" && c.Usage.Responses > 0 })
		started[id] = c.StartedAt
	}
	cut()
	for i, id := range ids {
		c := e.waitCall(id, "adopted and attached", func(c feed.Call) bool { return c.Agent != "dying" && c.Term == 2 && c.Usage.Gaps == 1 })
		if c.User != fmt.Sprintf("u%d", i) || !c.StartedAt.Equal(started[id]) || !c.Live() {
			t.Fatalf("adopted %s: %+v", id, c)
		}
	}
	for _, id := range ids {
		owners := 0
		for _, a := range others {
			for _, have := range a.Calls() {
				if have == id {
					owners++
				}
			}
		}
		if owners != 1 {
			t.Fatalf("call %s tracked by %d of the surviving agents, want exactly 1", id, owners)
		}
	}
}

// TestRegisteredTwice: a call registered again (a retry through another
// backend) is tracked once: the other agent says who tracks it; for
// another user it is refused 409, on any agent.
func TestRegisteredTwice(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{}))
	other, _ := e.peer("other", fastFleet(agent.Config{}))
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "alice")
	post := func(a *agent.Agent, user string) (int, string) {
		srv := httptest.NewServer(a.Handler(agent.SidecarConfig{}))
		defer srv.Close()
		resp, err := http.Post(srv.URL+"/v1/calls", "application/json", strings.NewReader(`{"call_id":"`+id+`","user":"`+user+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := post(other, "alice"); st != http.StatusOK || !strings.Contains(body, `"agent":"test-agent"`) {
		t.Fatalf("same call, same user, other agent: %d %s", st, body)
	}
	if st, body := post(other, "mallory"); st != http.StatusConflict || !strings.Contains(body, "another user") {
		t.Fatalf("same call, other user, other agent: %d %s", st, body)
	}
	if st, body := post(e.agent, "mallory"); st != http.StatusConflict {
		t.Fatalf("same call, other user, same agent: %d %s", st, body)
	}
	if n := len(other.Calls()); n != 0 {
		t.Fatalf("the other agent tracks %d calls", n)
	}
	if c := e.waitCall(id, "its start", func(c feed.Call) bool { return c.User != "" }); c.User != "alice" || c.Agent != "test-agent" {
		t.Fatalf("registered twice, the call became %q's on %s", c.User, c.Agent)
	}
}

// downCredits is an app's credit system (credits.Credits) that can be down.
type downCredits struct {
	mu   sync.Mutex
	down bool
	left feed.Micros
}

var errBillingDown = errors.New("billing service unreachable")

func (d *downCredits) set(down bool, left feed.Micros) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down, d.left = down, left
}

func (d *downCredits) Remaining(context.Context, string) (feed.Micros, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return 0, false, errBillingDown
	}
	return d.left, true, nil
}

func (d *downCredits) Charge(context.Context, string, string, feed.Micros) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return errBillingDown
	}
	return nil
}

// TestCreditsUnavailable: when credits cannot be read, the policy decides
// and the state is visible: refuse (default) refuses new calls 503 and
// runs calls OpenAI already has flagged until the credit can be read
// again, then applies it; hangup cuts them; allow admits new calls.
func TestCreditsUnavailable(t *testing.T) {
	t.Run("refuse", func(t *testing.T) {
		cr := &downCredits{down: true}
		e := newEnv(t, realtimetest.Options{TurnGap: time.Hour}, fastFleet(agent.Config{Credits: cr}))
		relay := httptest.NewServer(e.agent.Relay(agent.RelayConfig{User: func(r *http.Request) (string, error) { return "alice", nil }}))
		defer relay.Close()
		resp, err := http.Post(relay.URL, "application/sdp", strings.NewReader(offer))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "credits_unavailable") || len(e.openai.Live()) != 0 {
			t.Fatalf("relay while credits are down: %d %s, %d calls made", resp.StatusCode, body, len(e.openai.Live()))
		}
		id := e.openai.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
		e.track(id, "alice")
		e.waitCall(id, "the credits_unavailable flag", func(c feed.Call) bool { return hasFlag(c, feed.FlagCreditsUnavailable) })
		waitFor(t, "the agent to show credits unavailable", func() bool {
			e.fold()
			a, ok := e.board.Agent("test-agent")
			return ok && !a.CreditsUnavailableSince.IsZero()
		})
		cr.set(false, 10000) // one cent left: the limit applies as soon as it reads
		c := e.waitCall(id, "cut by the credit read again", func(c feed.Call) bool { return !c.Live() })
		if c.End.Detail != policy.CutDetail(feed.LimitCredits) {
			t.Fatalf("end = %+v", c.End)
		}
		waitFor(t, "the agent to show credits readable", func() bool {
			e.fold()
			a, _ := e.board.Agent("test-agent")
			return a.CreditsUnavailableSince.IsZero()
		})
	})
	t.Run("hangup", func(t *testing.T) {
		cr := &downCredits{down: true}
		e := newEnv(t, realtimetest.Options{}, agent.Config{Credits: cr, PolicyFor: policyForAll(policy.Policy{CreditsUnavailable: policy.CreditsHangup})})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "alice")
		c := e.waitCall(id, "cut", func(c feed.Call) bool { return !c.Live() })
		if c.End.Detail != policy.CutDetail(feed.LimitCreditsUnavailable) || e.openai.Hangups(id) != 1 {
			t.Fatalf("end = %+v", c.End)
		}
	})
	t.Run("allow", func(t *testing.T) {
		cr := &downCredits{down: true}
		e := newEnv(t, realtimetest.Options{TurnGap: time.Hour}, agent.Config{Credits: cr, PolicyFor: policyForAll(policy.Policy{CreditsUnavailable: policy.CreditsAllow})})
		relay := httptest.NewServer(e.agent.Relay(agent.RelayConfig{User: func(r *http.Request) (string, error) { return "alice", nil }}))
		defer relay.Close()
		resp, err := http.Post(relay.URL, "application/sdp", strings.NewReader(offer))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("relay with credits_unavailable allow: %d", resp.StatusCode)
		}
		ids := e.agent.Calls()
		if len(ids) != 1 {
			t.Fatalf("tracking %v", ids)
		}
		e.waitCall(ids[0], "the flag", func(c feed.Call) bool { return hasFlag(c, feed.FlagCreditsUnavailable) })
	})
}

func hasFlag(c feed.Call, k feed.FlagKind) bool {
	for _, f := range c.Flags {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// fold applies what the watcher has now, without waiting.
func (e *env) fold() {
	for _, ev := range e.w.TryNext() {
		e.board.Apply(ev)
	}
}

// TestRestartWithTheSameName: an agent restarted with a fixed --name
// within JetStream's duplicate window takes its call back (adopted from
// its former self, which said goodbye) and its events are stored, not
// dropped as duplicates of the former run's (Nats-Msg-Id names the
// instance and the term, not only the name and seq).
func TestRestartWithTheSameName(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{}))
	first, _ := e.peer("fixed", fastFleet(agent.Config{}))
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 30 * time.Millisecond})
	ctx := context.Background()
	if err := first.Track(ctx, id, agent.Meta{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	e.waitCall(id, "usage from the first run", func(c feed.Call) bool { return c.Agent == "fixed" && c.Usage.Responses >= 2 })
	if err := e.agent.Close(context.Background()); err != nil { // no other agent: the call is left detached
		t.Fatal(err)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	second, _ := e.peer("fixed", fastFleet(agent.Config{}))
	if err := second.Track(ctx, id, agent.Meta{User: "alice"}); err != nil {
		t.Fatalf("re-registering the call with the restarted agent: %v", err)
	}
	waitFor(t, "the restarted agent's usage in a fresh snapshot", func() bool {
		c, _ := e.fresh(id)
		return c.Term == 2 && c.Agent == "fixed" && c.UsageTerm == 2 && c.Usage.Gaps == 1
	})
}

// TestCloseChargesTheTotalSoFar: an agent stopped with no other agent to
// take its calls charges each call's cost so far (its live spend); the
// agent that adopts the call carries that spend on and settles the whole
// total when it ends, and the user pays the call once: the balance drops
// by exactly its final cost, and nothing stays counted as live spend.
func TestCloseChargesTheTotalSoFar(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{}), withCredits())
	ctx := context.Background()
	if _, err := e.credits.Set(ctx, "payer", 5*feed.Dollar); err != nil {
		t.Fatal(err)
	}
	first, _ := e.peer("first", fastFleet(agent.Config{Credits: credits.FromStore(e.credits)}))
	if err := e.agent.Close(context.Background()); err != nil { // first is alone
		t.Fatal(err)
	}
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 30 * time.Millisecond})
	if err := first.Track(ctx, id, agent.Meta{User: "payer", Model: "gpt-realtime"}); err != nil {
		t.Fatal(err)
	}
	e.waitCall(id, "some cost", func(c feed.Call) bool { return c.Usage.CostUSD > 0.01 })
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The cost so far is the call's live spend: deducted from what the
	// user has left, not yet from the balance.
	spend, err := e.credits.LiveSpend(ctx, "payer")
	partial := spend[id]
	if err != nil || partial <= 0 {
		t.Fatalf("after Close: live spend %v %v, want the cost so far", spend, err)
	}
	if left, _, _ := e.credits.Available(ctx, "payer"); left != 5*feed.Dollar-partial {
		t.Fatalf("after Close: %s left, want $5 - %s", left, partial)
	}
	second, _ := e.peer("second", fastFleet(agent.Config{Credits: credits.FromStore(e.credits)}))
	c := e.waitCall(id, "adopted and talking on", func(c feed.Call) bool {
		return c.Agent == "second" && c.UsageTerm == 2 && c.Usage.CostUSD > partial.USD()+0.005
	})
	_ = second
	e.openai.EndCall(id)
	c = e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	total, err := feed.MicrosFromUSD(c.Usage.CostUSD)
	if err != nil {
		t.Fatal(err)
	}
	var charged feed.Micros
	waitFor(t, "the final charge", func() bool {
		charged, _, _ = e.credits.Charged(ctx, id)
		return charged == total
	})
	if bal, _, _ := e.credits.Balance(ctx, "payer"); bal != 5*feed.Dollar-total || total <= partial {
		t.Fatalf("balance %s after a call of %s (partial charge %s): want $5 - the final cost, once", bal, total, partial)
	}
	waitFor(t, "the live spend settled", func() bool {
		left, _, _ := e.credits.Available(ctx, "payer")
		return left == 5*feed.Dollar-total
	})
}
