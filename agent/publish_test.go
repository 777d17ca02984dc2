package agent_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

func responseDone(id string) []byte {
	return []byte(fmt.Sprintf(`{"type":"response.done","event_id":"event_%s","response":{"id":"%s","status":"completed","usage":{"total_tokens":30,"input_tokens":20,"output_tokens":10,"input_token_details":{"text_tokens":20,"audio_tokens":0,"cached_tokens":0},"output_token_details":{"text_tokens":10,"audio_tokens":0}}}}`, id, id))
}

// TestCostMovesPublishAtOnce: a response that moves a call's cost is
// published at once, not on the next tick of the publish interval; a
// burst within the interval is one more message, not one per response.
func TestCostMovesPublishAtOnce(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	// newEnv sets a 20 ms interval; this agent holds bursts for 2 s, so
	// anything that arrives well before that was published at once.
	a, _ := e.peer("slow-ticks", agent.Config{PublishInterval: 2 * time.Second})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	if err := a.Track(t.Context(), id, agent.Meta{User: "u", Model: "gpt-realtime"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sideband", func() bool { return e.openai.Attached(id) > 0 })
	usages := e.countUsages(id)
	e.waitCall(id, "its start", func(c feed.Call) bool { return c.User == "u" })
	sent := time.Now()
	e.openai.Inject(id, responseDone("resp_1"), false)
	e.waitCall(id, "the first response", func(c feed.Call) bool { return c.Usage.Responses == 1 })
	if d := time.Since(sent); d > time.Second {
		t.Fatalf("a lone response reached the board after %s: held for the 2 s interval", d)
	}
	for i := 2; i <= 6; i++ { // a burst, within the interval
		e.openai.Inject(id, responseDone(fmt.Sprintf("resp_%d", i)), false)
	}
	burst := time.Now()
	c := e.waitCall(id, "the burst", func(c feed.Call) bool { return c.Usage.Responses == 6 })
	if d := time.Since(burst); d < time.Second {
		t.Fatalf("the burst was published after %s, within the 2 s interval", d)
	}
	// The board and this subscription are separate; wait for ours.
	waitFor(t, "the burst on the subscription", func() bool { return usages.Load() >= 2 })
	if n := usages.Load(); n != 2 || c.Usage.Tokens.Total != 180 {
		t.Fatalf("%d usage events for a response and a burst of 5 (tokens %d), want 2", n, c.Usage.Tokens.Total)
	}
}

// countUsages counts the usage events published for the call from now on,
// as a subscriber to its subjects receives them.
func (e *env) countUsages(id string) *atomic.Int64 {
	e.t.Helper()
	var usages atomic.Int64
	sub, err := e.feed.NC.Subscribe(e.feed.Subjects.CallEvents(id), func(m *nats.Msg) {
		if strings.HasSuffix(m.Subject, ".usage") {
			usages.Add(1)
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.feed.NC.Flush(); err != nil {
		e.t.Fatal(err)
	}
	return &usages
}
