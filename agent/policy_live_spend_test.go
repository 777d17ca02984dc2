package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestLiveSecondsChargedAsBilled: a GPT-Live session is charged as its
// seconds are billed, while it runs (its live spend grows), and settled
// once into the balance when it ends.
func TestLiveSecondsChargedAsBilled(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{}, withCredits())
	ctx := context.Background()
	if _, err := e.credits.Set(ctx, "liv", 5*feed.Dollar); err != nil {
		t.Fatal(err)
	}
	id := e.openai.NewLiveSession(realtimetest.LiveScript{UsageEvery: 20 * time.Millisecond, SecondsPerUpdate: 1})
	e.trackLive(id, "liv")
	spent := func() feed.Micros {
		s, err := e.credits.LiveSpend(ctx, "liv")
		if err != nil {
			t.Fatal(err)
		}
		return s[id]
	}
	var first feed.Micros
	waitFor(t, "live spend while the session runs", func() bool { first = spent(); return first > 0 })
	waitFor(t, "the live spend to grow with the billed seconds", func() bool { return spent() > first })
	if _, ended := e.openai.LiveEnded(id); ended {
		t.Fatal("the session ended before the test looked: the spend was not charged as it ran")
	}
	e.openai.CloseLiveSession(id, realtimetest.LiveRemoteHangup)
	c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	total, err := feed.MicrosFromUSD(c.Usage.CostUSD)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "settled once", func() bool {
		b, _, _ := e.credits.Balance(ctx, "liv")
		return b == 5*feed.Dollar-total && spent() == 0
	})
}
