package feed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/calltop/calltop/natsserver"
)

// BenchmarkMomentAt replays a moment from a history of 100,000 events in
// the two hours before it: 500 calls of 200 events each (about 8,000
// call-minutes at the 12–13 events per call-minute agents send: 66
// concurrent calls for two hours). They are published at 20,000 a second,
// the dashboard's design load (10,000 calls), and the benchmark counts
// the usage events the live state replaced before JetStream copied them
// to the history.
//
//	go test -run '^$' -bench BenchmarkMomentAt -benchtime 3x ./feed
func BenchmarkMomentAt(b *testing.B) {
	c, _ := newBenchClient(b)
	ctx := context.Background()
	if _, err := c.EnsureStream(ctx); err != nil {
		b.Fatal(err)
	}
	hist, err := c.EnsureHistoryStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const calls, perCall = 500, 200
	start := time.Now().Add(-time.Hour)
	// Interleaved, as calls talk at once: a call's next event comes 500
	// events after its last, so JetStream copies it to the history before
	// the live state replaces it.
	id := func(i int) string { return fmt.Sprintf("rtc_u1_%032d", i) }
	for i := range calls {
		e := Event{Kind: KindStarted, CallID: id(i), Term: 1, Seq: 1, At: start, Agent: "api-1",
			Start: &Start{User: fmt.Sprintf("user%d@example.com", i), Model: "gpt-realtime", StartedAt: start}}
		if err := c.Publish(e); err != nil {
			b.Fatal(err)
		}
	}
	paced := time.Now()
	for j := 1; j < perCall; j++ {
		for i := range calls {
			u := Event{Kind: KindUsage, CallID: id(i), Term: 1, Seq: uint64(j + 1), At: start,
				Usage: &Usage{Tokens: Tokens{Total: int64(j * 150), Input: int64(j * 100), Output: int64(j * 50), InputAudio: int64(j * 100), OutputAudio: int64(j * 50)},
					Responses: j, CostUSD: float64(j) * 0.003, UserSpeechSeconds: float64(j), AgentSpeechSeconds: float64(j)}}
			if err := c.Publish(u); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.NC.Flush(); err != nil {
			b.Fatal(err)
		}
		// 500 events every 25 ms: 20,000 a second.
		if wait := time.Until(paced.Add(time.Duration(j) * 25 * time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
	}
	// The history has copied everything it will once it stops growing.
	var bytes, msgs uint64
	for {
		time.Sleep(time.Second)
		info, err := hist.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.State.Msgs == msgs {
			bytes = info.State.Bytes
			break
		}
		msgs = info.State.Msgs
	}
	at := time.Now()
	b.ResetTimer()
	for range b.N {
		m, err := c.MomentAt(ctx, at)
		if err != nil {
			b.Fatal(err)
		}
		if n := m.Board(0).Len(); n != calls || uint64(len(m.Events)) != msgs {
			b.Fatalf("%d calls from %d events, want %d from %d", n, len(m.Events), calls, msgs)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/moment")
	b.ReportMetric(float64(bytes)/1e6, "history-MB")
	b.ReportMetric(float64(msgs), "events")
	b.ReportMetric(float64(calls*perCall-msgs), "superseded-before-copied")
	b.ReportMetric(0, "ns/op")
}

// newBenchClient is newTestClient for benchmarks.
func newBenchClient(b *testing.B) (*Client, *natsserver.Server) {
	b.Helper()
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	nc, err := Connect(srv.ClientURL(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	c, err := NewClient(nc, fmt.Sprintf("b%d", prefixN.Add(1)))
	if err != nil {
		b.Fatal(err)
	}
	return c, srv
}
