package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestOverTLS runs an agent against the stand-in over https:// and wss://,
// as against OpenAI: Config.HTTPClient, trusting the stand-in's own
// certificate, carries the sideband's handshake and the REST hangup.
func TestOverTLS(t *testing.T) {
	_, nc := runNATS(t, "")
	rt := realtimetest.NewTLSServer(realtimetest.Options{})
	defer rt.Close()
	client := rt.Client()
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Prefix: "tls", HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	id := rt.NewCall(realtimetest.Script{Turns: 2, TurnGap: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Track(ctx, id, agent.Meta{User: "tls"}); err != nil {
		t.Fatal(err)
	}
	var u feed.Usage
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if u, err = a.Usage(id); err == nil && u.Responses == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage %+v (%v), want 2 responses", u, err)
		}
	}
	sameTokens(t, u, rt.Emitted(id))
	if err := a.Hangup(ctx, id, feed.End{Reason: feed.ReasonApp}); err != nil {
		t.Fatal(err)
	}
	if n := rt.Hangups(id); n != 1 {
		t.Fatalf("%d hangups received over https, want 1", n)
	}
}
