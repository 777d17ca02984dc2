package agent_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// BenchmarkKillToHangup measures what an operator waits for: from the
// terminate request leaving the dashboard to OpenAI (the stand-in)
// receiving the hangup, and to the agent's confirmation coming back, over
// real NATS and real sockets. p50 and p99 are reported as metrics.
func BenchmarkKillToHangup(b *testing.B) {
	hung := make(chan time.Time, 1)
	_, nc := runNATS(b, "")
	fc, _ := feed.NewClient(nc, "bench")
	rt := realtimetest.NewServer(realtimetest.Options{OnHangup: func(string, int) { hung <- time.Now() }})
	defer rt.Close()
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Prefix: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(context.Background())
	ctx := context.Background()
	var toHangup, toConfirm []time.Duration
	for b.Loop() {
		b.StopTimer()
		id := rt.NewCall(realtimetest.Script{TurnGap: time.Second})
		if err := a.Track(ctx, id, agent.Meta{User: "bench"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := fc.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "bench"}); err != nil {
			b.Fatal(err)
		}
		toConfirm = append(toConfirm, time.Since(start))
		toHangup = append(toHangup, (<-hung).Sub(start))
	}
	b.ReportMetric(pct(toHangup, 50), "p50-hangup-µs")
	b.ReportMetric(pct(toHangup, 99), "p99-hangup-µs")
	b.ReportMetric(pct(toConfirm, 50), "p50-confirm-µs")
	b.ReportMetric(pct(toConfirm, 99), "p99-confirm-µs")
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100].Microseconds())
}
