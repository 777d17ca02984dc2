package agent_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestTrackWaitsForTheAttachUnlessAsync: Track returns once the sideband
// is attached; with Async it returns once the call is registered, before
// a sideband that OpenAI keeps refusing for a while is attached.
func TestTrackWaitsForTheAttachUnlessAsync(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	waited := e.openai.NewCall(realtimetest.Script{})
	e.openai.FailAttaches(waited, http.StatusServiceUnavailable, 2)
	if err := e.agent.Track(ctx, waited, agent.Meta{User: "u"}); err != nil {
		t.Fatal(err)
	}
	// The stand-in counts a handshake when it arrives: two refused, the
	// third upgraded.
	if n := e.openai.Attaches(waited); n != 3 {
		t.Fatalf("Track returned after %d sideband handshakes, want 3 (two refused, then the attach)", n)
	}

	async := e.openai.NewCall(realtimetest.Script{})
	e.openai.FailAttaches(async, http.StatusServiceUnavailable, 2)
	if err := e.agent.Track(ctx, async, agent.Meta{User: "u"}, agent.Async()); err != nil {
		t.Fatal(err)
	}
	// Two refusals and backoffs of at least 100 ms stand between the
	// registration and the attach.
	if n := e.openai.Attaches(async); n >= 3 {
		t.Fatalf("Track with Async returned after %d sideband handshakes: it waited for the attach", n)
	}
	if !slices.Contains(e.agent.Calls(), async) {
		t.Fatalf("Track with Async returned before the call was registered: %v", e.agent.Calls())
	}
	e.waitCall(async, "started", func(c feed.Call) bool { return c.User == "u" })
	waitFor(t, "the async call's sideband", func() bool { return e.openai.Attached(async) == 1 })
}

// TestRefusedKeyIsErrUnauthorized: a key OpenAI refuses is
// agent.ErrUnauthorized for Track (which keeps the call, detached) and for
// Hangup.
func TestRefusedKeyIsErrUnauthorized(t *testing.T) {
	_, nc := runNATS(t, "")
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	a, err := agent.New(t.Context(), nc, agent.Config{APIKey: "sk-revoked", BaseURL: rt.BaseURL(), Prefix: "unauth"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	id := rt.NewCall(realtimetest.Script{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Track(ctx, id, agent.Meta{User: "u"}); !errors.Is(err, agent.ErrUnauthorized) {
		t.Fatalf("Track with a refused key: %v, want ErrUnauthorized", err)
	}
	if !slices.Contains(a.Calls(), id) {
		t.Fatal("the call was dropped; the agent should keep trying")
	}
	if err := a.Hangup(ctx, id, feed.End{Reason: feed.ReasonApp}); !errors.Is(err, agent.ErrUnauthorized) {
		t.Fatalf("Hangup with a refused key: %v, want ErrUnauthorized", err)
	}
}

// TestCancelledContextStartsNothing: a context that ended before New or
// Track did its work gets its error back, and nothing is tracked or
// dialled.
func TestCancelledContextStartsNothing(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	id := e.openai.NewCall(realtimetest.Script{})
	for _, opts := range [][]agent.TrackOption{nil, {agent.Async()}} {
		if err := e.agent.Track(ctx, id, agent.Meta{User: "u"}, opts...); !errors.Is(err, context.Canceled) {
			t.Fatalf("Track(%d options) with a cancelled context: %v, want context.Canceled", len(opts), err)
		}
	}
	if got := e.agent.Calls(); len(got) != 0 || e.openai.Attaches(id) != 0 {
		t.Fatalf("tracking %v, %d attaches: a cancelled Track started the call", got, e.openai.Attaches(id))
	}
	if a, err := agent.New(ctx, e.feed.NC, agent.Config{APIKey: "sk-x", Prefix: e.feed.Subjects.Prefix}); !errors.Is(err, context.Canceled) || a != nil {
		t.Fatalf("New with a cancelled context: %v, %v; want context.Canceled and no agent", a, err)
	}
}

// TestCloseCutShortByItsContext: Close with an ended context returns its
// error at once, and what it cut short is safe: the call it left is taken
// by the next agent.
func TestCloseCutShortByItsContext(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, fastFleet(agent.Config{HandoffWait: time.Minute}))
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 30 * time.Millisecond})
	e.track(id, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.agent.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a cancelled context: %v, want context.Canceled", err)
	}
	if err := e.agent.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	next, _ := e.peer("next", fastFleet(agent.Config{}))
	waitFor(t, "the next agent to take the call", func() bool { return slices.Contains(next.Calls(), id) })
}
