package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/natsserver"
)

// BenchmarkOpenAIToScreen is the freshness figure of docs/BENCHMARKS.md:
// from the stand-in writing a response.done on a call's sideband to the
// call's new token total on a real terminal. Everything is the real
// binary: `calltop agent` in a process of its own tracks the call and ten
// others that talk (tokens, transcription, barge-ins, errors), and
// `calltop watch` runs in tmux at 200×50; the screen is read through a
// tmux control client every millisecond. So the figure includes the
// agent's publish policy, NATS, the dashboard's batching and Bubble Tea's
// own write cadence. Each iteration is one lone response (the previous one
// is on screen, then a random 100–400 ms pause, so responses fall
// anywhere in the frame cycle). Run it with a fixed count:
//
//	go test -run '^$' -bench OpenAIToScreen -benchtime 200x ./cmd/calltop
func BenchmarkOpenAIToScreen(b *testing.B) {
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	rt := realtimetest.NewServer(realtimetest.Options{})
	b.Cleanup(rt.Close)
	agentProc := startAgent(b, "bench-agent", srv.ClientURL(), rt)
	for i := range 10 {
		id := rt.NewCall(realtimetest.Script{Transcription: "tokens", Chaos: true})
		agentProc.track(b, id, fmt.Sprintf("talker%d@example.com", i))
	}
	probe := rt.NewCall(realtimetest.Script{TurnGap: time.Hour})
	agentProc.track(b, probe, "probe@example.com")

	scr := startTmux(b, 200, 50, "CALLTOP_TEST_CHILD=1 exec "+shellQuote(os.Args[0])+" watch --nats "+shellQuote(srv.ClientURL()))
	row := func() (string, bool) {
		lines, err := scr.screen()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range lines {
			if strings.Contains(l, "probe@example.com") {
				return l, true
			}
		}
		return "", false
	}
	waitUntil(b, 20*time.Second, "the probe call on the dashboard", func() bool { _, ok := row(); return ok })

	const perResponse = 37 // tokens; 2,700 responses stay under 100,000, shown exactly
	var lat, reads []time.Duration
	total := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		total += perResponse
		if total >= 100_000 {
			b.Fatal("past 100,000 tokens the dashboard abbreviates; run at most 2,700 iterations")
		}
		want := num(float64(total), 0)
		frame := fmt.Appendf(nil, `{"type":"response.done","event_id":"event_b%d","response":{"id":"resp_b%d","status":"completed","usage":{"total_tokens":%d,"input_tokens":30,"output_tokens":7,"input_token_details":{"text_tokens":10,"audio_tokens":20,"cached_tokens":0},"output_token_details":{"text_tokens":1,"audio_tokens":6}}}}`, i, i, perResponse)
		sent := time.Now()
		if rt.Inject(probe, frame, false) != 1 {
			b.Fatal("the probe call's sideband is not attached")
		}
		for {
			t0 := time.Now()
			l, _ := row()
			reads = append(reads, time.Since(t0))
			if showsTokens(l, want) {
				break
			}
			if time.Since(sent) > 10*time.Second {
				b.Fatalf("after 10 s the screen still does not show %s tokens:\n%s", want, l)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(sent))
		b.StopTimer()
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		b.StartTimer()
	}
	b.StopTimer()
	if l, ok := row(); ok {
		b.Logf("the probe's row at the end (%d responses, %s tokens):\n%s", len(lat), num(float64(total), 0), strings.TrimRight(l, " "))
	}
	slices.Sort(lat)
	slices.Sort(reads)
	ms := func(ds []time.Duration, p int) float64 { return float64(percentile(ds, p)) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat, 50), "p50-ms")
	b.ReportMetric(ms(lat, 90), "p90-ms")
	b.ReportMetric(ms(lat, 99), "p99-ms")
	b.ReportMetric(ms(lat, 100), "max-ms")
	b.ReportMetric(ms(reads, 50), "screen-read-p50-ms")
	// OpenAI's own usage data comes in 1-minute buckets: how much fresher.
	b.ReportMetric(float64(time.Minute)/float64(percentile(lat, 99)), "x-fresher-than-usage-api-p99")
}

// showsTokens reports whether a dashboard row's TOKENS cell reads want
// (a fresh value carries a ↑).
func showsTokens(row, want string) bool {
	for _, f := range strings.Fields(row) {
		if strings.TrimRight(f, "↑↓") == want {
			return true
		}
	}
	return false
}
