package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// standInEnv, when set, makes the test binary a child process that runs
// NATS and the OpenAI stand-in with that many live calls, so a benchmark
// in the parent measures the agent's memory and goroutines alone.
const standInEnv = "CALLTOP_BENCH_STANDIN_CALLS"

func TestMain(m *testing.M) {
	if n := os.Getenv(standInEnv); n != "" {
		runStandIn(n)
		return
	}
	os.Exit(m.Run())
}

// runStandIn serves until its stdin closes: NATS on a free port, the
// stand-in with n calls talking every few seconds, and one line on stdout:
// "READY <nats url> <openai base url> <key> <id,id,…>".
func runStandIn(n string) {
	var calls int
	fmt.Sscan(n, &calls)
	srv, err := feed.RunServer(feed.ServerOptions{Port: -1})
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	defer srv.Shutdown()
	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	ids := make([]string, calls)
	for i := range ids {
		ids[i] = rt.NewCall(realtimetest.Script{TurnGap: 3 * time.Second})
	}
	fmt.Println("READY", srv.ClientURL(), rt.BaseURL(), rt.APIKey(), strings.Join(ids, ","))
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// BenchmarkTrack1000 tracks 1,000 concurrent calls in one agent (the
// stand-in and NATS run in a child process) and reports the agent's
// memory and goroutines per call once every call is attached and talking.
// Run it once: -bench Track1000 -benchtime 1x.
func BenchmarkTrack1000(b *testing.B) {
	const calls = 1000
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", standInEnv, calls))
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) != 5 || f[0] != "READY" {
			b.Fatalf("stand-in: %q %v", line, err)
		}
		natsURL, base, key, ids := f[1], f[2], f[3], strings.Split(f[4], ",")

		nc, err := feed.Connect(natsURL, "bench")
		if err != nil {
			b.Fatal(err)
		}
		a, err := agent.New(nc, agent.Config{APIKey: key, BaseURL: base, Prefix: "scale"})
		if err != nil {
			b.Fatal(err)
		}
		before, gBefore := heapAndStacks(), runtime.NumGoroutine()
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, id := range ids {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := a.Track(ctx, id, agent.Meta{User: "u"}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		attached := time.Since(start)
		time.Sleep(4 * time.Second) // every call has talked at least once
		after, gAfter := heapAndStacks(), runtime.NumGoroutine()
		b.ReportMetric(float64(after-before)/calls/1024, "KiB/call")
		b.ReportMetric(float64(gAfter-gBefore)/calls, "goroutines/call")
		b.ReportMetric(attached.Seconds(), "s-to-attach-all")

		a.Close()
		nc.Close()
		stdin.Close()
		_ = cmd.Wait()
	}
}

// heapAndStacks is the process's live heap plus goroutine stacks, after a GC.
func heapAndStacks() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// BenchmarkBudgetCutoff measures what a budget is worth: from the frame
// that crosses a call's limit leaving OpenAI (the stand-in) to OpenAI
// receiving the agent's hangup, over many calls; p50 and p99.
func BenchmarkBudgetCutoff(b *testing.B) {
	hung := make(chan time.Time, 1)
	_, nc := runNATS(b, "")
	rt := realtimetest.NewServer(realtimetest.Options{OnHangup: func(string, int) { hung <- time.Now() }})
	defer rt.Close()
	a, err := agent.New(nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Prefix: "cut",
		PolicyFor: func(string) agent.Policy { return agent.Policy{MaxTokens: 300} }})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	var lat []time.Duration
	crossing := []byte(`{"type":"response.done","event_id":"event_cut","response":{"object":"realtime.response","id":"resp_cut","status":"completed","usage":{"total_tokens":320,"input_tokens":132,"output_tokens":188,"input_token_details":{"text_tokens":59,"audio_tokens":73,"image_tokens":0,"cached_tokens":0,"cached_tokens_details":{"text_tokens":0,"audio_tokens":0,"image_tokens":0}},"output_token_details":{"text_tokens":41,"audio_tokens":147}}}}`)
	for b.Loop() {
		b.StopTimer()
		id := rt.NewCall(realtimetest.Script{TurnGap: time.Hour})
		if err := a.Track(ctx, id, agent.Meta{User: "bench"}); err != nil {
			b.Fatal(err)
		}
		for rt.Attached(id) == 0 {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		sent := time.Now()
		rt.Inject(id, crossing, false)
		lat = append(lat, (<-hung).Sub(sent))
	}
	b.ReportMetric(pct(lat, 50), "p50-µs")
	b.ReportMetric(pct(lat, 99), "p99-µs")
}
