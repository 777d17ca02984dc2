package agent_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// env is one test's world: an embedded NATS, the OpenAI stand-in, an agent
// and a watcher folding everything the agent publishes into a Board.
type env struct {
	t       *testing.T
	nats    *natsserver.Server
	credits *feed.CreditStore
	openai  *realtimetest.Server
	feed    *feed.Client
	agent   *agent.Agent
	w       *feed.Watcher
	board   *feed.Board
}

var prefixN atomic.Int64

// envOpts are newEnv's optional settings.
type envOpts struct {
	credits  bool   // give the agent feed's JetStream credit store
	storeDir string // a JetStream store that outlives a server restart
}

type envOpt func(*envOpts)

func withCredits() envOpt { return func(o *envOpts) { o.credits = true } }

func withStoreDir(dir string) envOpt { return func(o *envOpts) { o.storeDir = dir } }

func newEnv(t *testing.T, rtOpts realtimetest.Options, cfg agent.Config, opts ...envOpt) *env {
	t.Helper()
	var o envOpts
	for _, opt := range opts {
		opt(&o)
	}
	srv, nc := runNATS(t, o.storeDir)
	prefix := fmt.Sprintf("e2e%d", prefixN.Add(1))
	fc, err := feed.NewClient(nc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	rt := realtimetest.NewServer(rtOpts)
	t.Cleanup(rt.Close)
	cfg.APIKey, cfg.BaseURL, cfg.Prefix = rt.APIKey(), rt.BaseURL(), prefix
	if cfg.Name == "" {
		cfg.Name = "test-agent"
	}
	cfg.PublishInterval, cfg.EvaluateInterval = 20*time.Millisecond, 20*time.Millisecond
	if cfg.CountersInterval == 0 {
		cfg.CountersInterval = 100 * time.Millisecond
	}
	if cfg.LiveInterval == 0 {
		cfg.LiveInterval = 50 * time.Millisecond
	}
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = 200 * time.Millisecond
	}
	if cfg.ReattachMax == 0 {
		cfg.ReattachMax = 500 * time.Millisecond
	}
	var store *feed.CreditStore
	if o.credits {
		if store, err = fc.Credits(context.Background()); err != nil {
			t.Fatal(err)
		}
		cfg.Credits = credits.FromStore(store)
	}
	a, err := agent.New(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	w, err := fc.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &env{t: t, nats: srv, credits: store, openai: rt, feed: fc, agent: a, w: w, board: feed.NewBoard(time.Hour)}
}

// waitCall folds events until cond holds for the call, or fails after 10s.
func (e *env) waitCall(id string, what string, cond func(c feed.Call) bool) feed.Call {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if c, ok := e.board.Get(id); ok && cond(c) {
			return c
		}
		batch, err := e.w.Next(ctx)
		if err != nil {
			c, _ := e.board.Get(id)
			e.t.Fatalf("waiting for %s on %s: %v; call is %+v", what, id, err, c)
		}
		for _, ev := range batch {
			e.board.Apply(ev)
		}
	}
}

// fresh reads a call from a new snapshot of the stream, as `calltop ls`
// started now would see it; ok false when it is not there (or NATS does
// not answer).
func (e *env) fresh(id string) (feed.Call, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := e.feed.Snapshot(ctx, time.Hour)
	if err != nil {
		return feed.Call{}, false
	}
	return b.Get(id)
}

func (e *env) track(id, user string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.agent.Track(ctx, id, agent.Meta{User: user}); err != nil {
		e.t.Fatalf("track %s: %v", id, err)
	}
}

// sameTokens compares the agent's totals with what the stand-in sent.
func sameTokens(t *testing.T, got feed.Usage, want realtimetest.Usage) {
	t.Helper()
	g := got.Tokens
	if got.Responses != want.Responses || g.Total != want.Total || g.Input != want.Input || g.Output != want.Output ||
		g.InputText != want.InputText || g.InputAudio != want.InputAudio || g.InputImage != want.InputImage ||
		g.InputCached != want.InputCached || g.CachedText != want.CachedText || g.CachedAudio != want.CachedAudio || g.CachedImage != want.CachedImage ||
		g.OutputText != want.OutputText || g.OutputAudio != want.OutputAudio {
		t.Fatalf("agent counted %d responses %+v\nstand-in sent   %d responses %+v", got.Responses, g, want.Responses, want)
	}
	for status, n := range want.ByStatus {
		if got.ByStatus[status] != n {
			t.Fatalf("by status: agent %v, stand-in %v", got.ByStatus, want.ByStatus)
		}
	}
	if got.TranscriptionTokens != want.TranscriptionTokens || got.TranscriptionSeconds != want.TranscriptionSeconds {
		t.Fatalf("transcription: agent %d tokens %.1fs, stand-in %d tokens %.1fs", got.TranscriptionTokens, got.TranscriptionSeconds, want.TranscriptionTokens, want.TranscriptionSeconds)
	}
	if d := got.UserSpeechSeconds - float64(want.UserSpeechMs)/1000; d > 1e-9 || d < -1e-9 {
		t.Fatalf("user speech: agent %.3fs, stand-in %dms", got.UserSpeechSeconds, want.UserSpeechMs)
	}
}

// TestUsageThenOperatorKill is the walking skeleton end to end: a tracked
// call's totals on the Board equal what OpenAI sent, then a terminate over
// NATS hangs it up exactly once and it ends with reason operator.
func TestUsageThenOperatorKill(t *testing.T) {
	e := newEnv(t, realtimetest.Options{Seed: 7}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime", Turns: 6, TurnGap: 5 * time.Millisecond, Transcription: "tokens", Chaos: true})
	e.track(id, "alice@example.com")

	c := e.waitCall(id, "6 responses", func(c feed.Call) bool { return c.Usage.Responses == 6 })
	// The last usage may still be coalescing; wait for the totals to settle.
	want := e.openai.Emitted(id)
	c = e.waitCall(id, "all usage", func(c feed.Call) bool {
		return c.Usage.Tokens.Total == want.Total && c.Usage.TranscriptionTokens == want.TranscriptionTokens
	})
	sameTokens(t, c.Usage, want)
	if c.User != "alice@example.com" || c.Model != "gpt-realtime" || c.SessionID == "" || c.ExpiresAt.IsZero() || c.Usage.CostUSD <= 0 || c.Usage.CostUnknown {
		t.Fatalf("call = %+v", c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "maria@oncall", Reason: "abuse"})
	if err != nil || !rep.OK {
		t.Fatalf("terminate: %+v %v", rep, err)
	}
	t.Logf("terminate → confirmed in %v", time.Since(start))
	if n := e.openai.Hangups(id); n != 1 {
		t.Fatalf("stand-in saw %d hangups, want exactly 1", n)
	}
	c = e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonOperator || c.End.By != "maria@oncall" || c.End.Detail != "abuse" {
		t.Fatalf("end = %+v", c.End)
	}
	sameTokens(t, c.Usage, e.openai.Emitted(id))
	// The call is over: nobody owns it any more.
	if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id}); !errors.Is(err, feed.ErrNoOwner) {
		t.Fatalf("second terminate: %v, want ErrNoOwner", err)
	}
	if n := e.openai.Hangups(id); n != 1 {
		t.Fatalf("stand-in saw %d hangups after the second terminate, want 1", n)
	}
}

func TestUnknownCallIsGoneWithoutRetries(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.agent.Track(ctx, "rtc_u1_doesnotexist", agent.Meta{User: "mallory"})
	if !errors.Is(err, agent.ErrCallNotFound) {
		t.Fatalf("track unknown call: %v, want ErrCallNotFound", err)
	}
	c := e.waitCall("rtc_u1_doesnotexist", "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonGone || c.User != "mallory" {
		t.Fatalf("call = %+v", c)
	}
	// The ended event goes out before the agent lets go of the call.
	waitFor(t, "the agent to let go of the call", func() bool { return len(e.agent.Calls()) == 0 })
}

func TestInvalidCallIDNeverDials(t *testing.T) {
	var hits atomic.Int64
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer counter.Close()
	_, nc := runNATS(t, "")
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: "sk-x", BaseURL: counter.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	for _, id := range []string{"rtc.x", "../../hangup", "a?call_id=b", strings.Repeat("x", 129), ""} {
		if err := a.Track(context.Background(), id, agent.Meta{}); !errors.Is(err, feed.ErrInvalidCallID) {
			t.Errorf("Track(%q) = %v, want ErrInvalidCallID", id, err)
		}
		if err := a.Hangup(context.Background(), id, feed.End{}); !errors.Is(err, feed.ErrInvalidCallID) {
			t.Errorf("Hangup(%q) = %v, want ErrInvalidCallID", id, err)
		}
	}
	api := httptest.NewServer(a.Handler(agent.SidecarConfig{}))
	defer api.Close()
	for _, body := range []string{`{"call_id":"rtc.x","user":"u"}`, `{"call_id":"","user":"u"}`, `not json`, `{"call_id":"rtc_1","extra":1}`} {
		resp, err := http.Post(api.URL+"/v1/calls", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("POST %s: %d %s, want 400 JSON", body, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("OpenAI was contacted %d times for invalid call IDs", n)
	}
}

func TestSidecarAPITracks(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{Model: "gpt-realtime-mini", Turns: 2, TurnGap: 5 * time.Millisecond})
	api := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{}))
	defer api.Close()
	resp, err := http.Post(api.URL+"/v1/calls", "application/json", strings.NewReader(`{"call_id":"`+id+`","user":"bob","model":"gpt-realtime-mini"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/calls: %d, want 202", resp.StatusCode)
	}
	c := e.waitCall(id, "2 responses", func(c feed.Call) bool { return c.Usage.Responses == 2 })
	if c.User != "bob" || c.Model != "gpt-realtime-mini" {
		t.Fatalf("call = %+v", c)
	}
}

func TestEndings(t *testing.T) {
	t.Run("caller hangs up", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{Turns: 2, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
		e.track(id, "u")
		c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
		if c.End.Reason != feed.ReasonHangup || c.Usage.Responses != 2 {
			t.Fatalf("call = %+v", c)
		}
		if e.openai.Hangups(id) != 0 {
			t.Fatal("the agent hung up a call that ended by itself")
		}
	})
	t.Run("expired", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{MaxDuration: 300 * time.Millisecond}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
		e.track(id, "u")
		c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
		if c.End.Reason != feed.ReasonExpired {
			t.Fatalf("end = %+v", c.End)
		}
	})
	t.Run("transport drop re-attaches without double counting", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{Turns: 8, TurnGap: 8 * time.Millisecond, EndAfterTurns: true})
		e.track(id, "u")
		e.waitCall(id, "2 responses", func(c feed.Call) bool { return c.Usage.Responses >= 2 })
		e.openai.DropSideband(id)
		// What was sent while no sideband was attached is lost, as with
		// OpenAI; everything sent is counted, once.
		c := e.waitCall(id, "the end", func(c feed.Call) bool { return !c.Live() })
		sameTokens(t, c.Usage, e.openai.Emitted(id))
		// Attaches: the first, the one after the drop, and the one whose
		// 404 confirmed that the clean close at the end was a hang-up.
		if c.End.Reason != feed.ReasonHangup || e.openai.Attaches(id) != 3 {
			t.Fatalf("end = %+v after %d attaches; a dropped transport must re-attach, not end", c.End, e.openai.Attaches(id))
		}
	})
	t.Run("oversized frame is skipped, the call goes on", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{}, agent.Config{MaxFrameBytes: 64 << 10})
		id := e.openai.NewCall(realtimetest.Script{Turns: 2, TurnGap: 5 * time.Millisecond, Instructions: strings.Repeat("Be kind. ", 20000)})
		e.track(id, "u")
		c := e.waitCall(id, "2 responses", func(c feed.Call) bool { return c.Usage.Responses == 2 })
		if c.Usage.Skipped != 1 || c.SessionID != "" {
			t.Fatalf("skipped = %d, session = %q; want the 180 KB session.updated skipped", c.Usage.Skipped, c.SessionID)
		}
	})
}

func TestCloseDetachesWithoutHangingUp(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 10 * time.Millisecond})
	e.track(id, "u")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	if err := e.agent.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.openai.Hangups(id) != 0 {
		t.Fatal("Close hung up a call")
	}
	live := false
	for _, l := range e.openai.Live() {
		live = live || l == id
	}
	if !live {
		t.Fatal("the call ended at OpenAI when the agent closed")
	}
	if err := e.agent.Track(context.Background(), id, agent.Meta{}); !errors.Is(err, agent.ErrClosed) {
		t.Fatalf("Track after Close: %v", err)
	}
}

func TestHeartbeatCountsCalls(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{Name: "web-1.eu"})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Second})
	e.track(id, "u")
	// The first beat goes out at start (0 calls); wait for the agent to be
	// seen, then Close publishes nothing more: the count comes from beats.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if a, ok := e.board.Agent("web-1.eu"); ok {
			if a.StartedAt.IsZero() || a.Silent(time.Now()) {
				t.Fatalf("agent = %+v", a)
			}
			return
		}
		batch, err := e.w.Next(ctx)
		if err != nil {
			t.Fatalf("no heartbeat from web-1.eu: %v", err)
		}
		for _, ev := range batch {
			e.board.Apply(ev)
		}
	}
}
