package agent_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// standInEnv, when set, makes the test binary a child process that runs
// NATS and the OpenAI stand-in with that many live calls, so a benchmark
// in the parent measures the agent's memory, goroutines and CPU alone.
const standInEnv = "CALLTOP_BENCH_STANDIN_CALLS"

// standInLiveEnv, when set with standInEnv, makes the child's calls
// GPT-Live sessions talking in real time (a usage report a second), with
// reflected input audio every 20 ms when it is "audio".
const standInLiveEnv = "CALLTOP_BENCH_STANDIN_LIVE"

func TestMain(m *testing.M) {
	if n := os.Getenv(standInEnv); n != "" {
		if err := runStandIn(n); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(runTests(m))
}

// runStandIn serves until its stdin closes: NATS on a free port and the
// TLS stand-in with n calls talking in real time (the default Script: a
// user turn of a few seconds, the assistant's answer, 300 ms between
// turns), and one line on stdout: "READY <nats url> <openai base url>
// <key> <certificate, base64 DER> <id,id,…>". Each "STATS" line on stdin
// is answered "STATS <response.done sent> <calls attached>".
func runStandIn(n string) error {
	calls, err := strconv.Atoi(n)
	if err != nil {
		return fmt.Errorf("stand-in calls %q: %w", n, err)
	}
	if err := raiseNoFile(calls + 512); err != nil {
		return fmt.Errorf("stand-in: %w", err)
	}
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		return fmt.Errorf("stand-in NATS: %w", err)
	}
	defer srv.Shutdown()
	rt := realtimetest.NewTLSServer(realtimetest.Options{})
	defer rt.Close()
	ids := make([]string, calls)
	live := os.Getenv(standInLiveEnv)
	for i := range ids {
		switch live {
		case "":
			ids[i] = rt.NewCall(realtimetest.Script{})
		case "audio":
			ids[i] = rt.NewLiveSession(realtimetest.LiveScript{AudioEvery: 20 * time.Millisecond})
		default:
			ids[i] = rt.NewLiveSession(realtimetest.LiveScript{})
		}
	}
	fmt.Println("READY", srv.ClientURL(), rt.BaseURL(), rt.APIKey(),
		base64.StdEncoding.EncodeToString(rt.Certificate().Raw), strings.Join(ids, ","))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "STATS" {
			continue
		}
		responses, attached, audio := 0, 0, 0
		for _, id := range ids {
			responses += rt.Emitted(id).Responses
			if info, ok := rt.LiveSession(id); ok {
				responses += info.Updates
				audio += info.AudioFrames
			}
			if rt.Attached(id) > 0 {
				attached++
			}
		}
		fmt.Println("STATS", responses, attached, audio)
	}
	return nil
}

// standIn is the parent's handle on the child process.
type standIn struct {
	cmd           *exec.Cmd
	in            io.WriteCloser
	out           *bufio.Reader
	natsURL, base string
	key           string
	client        *http.Client // trusts the child's certificate
	ids           []string
}

func startStandIn(b *testing.B, calls int, live string) *standIn {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", standInEnv, calls), standInLiveEnv+"="+live)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("stand-in: %v", err)
	}
	s := &standIn{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	line, err := s.out.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 6 || f[0] != "READY" {
		s.stop()
		b.Fatalf("stand-in: %.200q %v", line, err)
	}
	der, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil {
		s.stop()
		b.Fatalf("stand-in certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		s.stop()
		b.Fatalf("stand-in certificate: %v", err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy, t.TLSClientConfig = nil, realtimetest.TrustConfig(cert)
	s.natsURL, s.base, s.key, s.ids = f[1], f[2], f[3], strings.Split(f[5], ",")
	s.client = &http.Client{Transport: t}
	return s
}

// stats asks the child how many response.done (Live: usage reports) it
// has sent in all and how many calls have a sideband attached.
func (s *standIn) stats(b *testing.B) (responses, attached int) {
	responses, attached, _ = s.liveStats(b)
	return responses, attached
}

// liveStats is stats with the reflected audio frames delivered.
func (s *standIn) liveStats(b *testing.B) (responses, attached, audio int) {
	b.Helper()
	if _, err := io.WriteString(s.in, "STATS\n"); err != nil {
		b.Fatalf("stand-in: %v", err)
	}
	line, err := s.out.ReadString('\n')
	if _, serr := fmt.Sscanf(line, "STATS %d %d %d", &responses, &attached, &audio); err != nil || serr != nil {
		b.Fatalf("stand-in stats: %q %v %v", line, err, serr)
	}
	return responses, attached, audio
}

func (s *standIn) stop() {
	s.in.Close()
	_ = s.cmd.Wait()
}

// BenchmarkTrack tracks 1,000 and 10,000 concurrent calls in one agent
// over TLS (wss:// sidebands, https REST), the stand-in and NATS in a
// child process, and reports per call: the agent's memory (live heap +
// goroutine stacks after a GC) and goroutines once every call is attached
// and talking, and the agent's CPU time (getrusage) per attach and per
// minute of a call talking in real time, over a 30 s window of steady
// talk. Run it once: -bench Track -benchtime 1x (about a minute for
// 10,000 calls on 2 cores).
func BenchmarkTrack(b *testing.B) {
	for _, calls := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			for b.Loop() {
				trackCalls(b, calls, 30*time.Second)
			}
		})
	}
}

func trackCalls(b *testing.B, calls int, window time.Duration) {
	if p := ephemeralPorts(); p > 0 && p < calls+1000 {
		b.Skipf("%d ephemeral ports, %d calls need more (net.ipv4.ip_local_port_range)", p, calls)
	}
	if err := raiseNoFile(calls + 512); err != nil {
		b.Skip(err)
	}
	s := startStandIn(b, calls, "")
	defer s.stop()
	nc, err := feed.Connect(s.natsURL, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: s.key, BaseURL: s.base, Prefix: "scale", HTTPClient: s.client})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(context.Background())

	before, gBefore := heapAndStacks(), runtime.NumGoroutine()
	cpu0, cpuOK := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	sem := make(chan struct{}, 64)
	for _, id := range s.ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := a.Track(ctx, id, agent.Meta{User: "u"}); err != nil && failed.Add(1) == 1 {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	attached := time.Since(start)
	cpu1, _ := cpuTime()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls did not attach", n, calls)
	}

	// Steady talk: every sideband attached and, on average, a response
	// per call sent, then a window of real-time talking.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, att := s.stats(b)
		if att == calls && r >= calls {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("not talking after 2 min: %d of %d attached, %d responses", att, calls, r)
		}
		time.Sleep(250 * time.Millisecond)
	}
	r0, _ := s.stats(b)
	c0, _ := cpuTime()
	t0 := time.Now()
	time.Sleep(window)
	r1, _ := s.stats(b)
	c1, _ := cpuTime()
	elapsed := time.Since(t0)
	after, gAfter := heapAndStacks(), runtime.NumGoroutine()

	callMinutes := float64(calls) * elapsed.Minutes()
	b.ReportMetric(float64(after-before)/float64(calls)/1024, "KiB/call")
	b.ReportMetric(float64(gAfter-gBefore)/float64(calls), "goroutines/call")
	b.ReportMetric(attached.Seconds(), "s-to-attach-all")
	b.ReportMetric(float64(r1-r0)/callMinutes, "responses/call-min")
	if cpuOK {
		b.ReportMetric(ms(cpu1-cpu0)/float64(calls), "CPU-ms/attach")
		b.ReportMetric(ms(c1-c0)/callMinutes, "CPU-ms/call-min")
		b.ReportMetric(float64(c1-c0)/float64(elapsed), "cores")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Prefix: "cut",
		PolicyFor: func(string) policy.Policy { return policy.Policy{MaxTokens: 300} }})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(context.Background())
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
