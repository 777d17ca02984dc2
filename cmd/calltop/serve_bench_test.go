//go:build unix

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	gossh "golang.org/x/crypto/ssh"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
	"github.com/calltop/calltop/natsserver"
)

var (
	serveCalls    = flag.Int("serve.calls", 10_000, "BenchmarkServeSSH: live calls in the load")
	serveSessions = flag.String("serve.sessions", "1,20", "BenchmarkServeSSH: SSH sessions open at once, comma-separated to run several")
	serveWindow   = flag.Duration("serve.window", 20*time.Second, "BenchmarkServeSSH: how long each measurement lasts, after the warm-up")
)

// BenchmarkServeSSH measures `calltop serve` under the dashboard
// benchmark's load: feedtest.Load's 10,000 live calls (-serve.calls) and
// 20,000 events a second of every kind, published to an embedded NATS on
// the wall clock, while N SSH sessions (-serve.sessions) with a 200×50
// xterm-256color PTY each watch the calls table. The server is the real
// binary in a process of its own (this test binary as calltop), so its
// CPU and memory are its own; the clients (golang.org/x/crypto/ssh) count
// every byte their session receives.
//
//	go test -run '^$' -bench ServeSSH -benchtime 1x ./cmd/calltop
//
// Metrics, over -serve.window after every session has drawn the table
// and a 5 s warm-up: bytes a second received per session (median, min,
// max), the server's CPU (% of one core), its resident memory (now and at
// peak) and its live heap (what the last collection kept, from
// GODEBUG=gctrace=1), each per session too (with the sessions less before
// the first, over N), and the events a second actually published.
func BenchmarkServeSSH(b *testing.B) {
	for _, f := range strings.Split(*serveSessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-serve.sessions: %q is not a number of sessions", f)
		}
		b.Run(fmt.Sprintf("calls=%d/sessions=%d", *serveCalls, n), func(b *testing.B) { benchServe(b, *serveCalls, n) })
	}
}

// countingWriter counts what a session receives.
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

func benchServe(b *testing.B, calls, sessions int) {
	if runtime.GOOS != "linux" {
		b.Skip("the server's CPU and memory are read from /proc: Linux only")
	}
	b.ReportMetric(0, "ns/op") // one measurement, not a loop
	ns, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := feed.Connect(ns.ClientURL(), "bench-publisher")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	pub, err := feed.NewClient(nc, "")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := pub.EnsureStream(ctx); err != nil {
		b.Fatal(err)
	}

	// The steady state first, as the live-state stream would hold it;
	// then frames on the wall clock.
	load := feedtest.NewLoad(calls, time.Now())
	for _, e := range load.Initial() {
		if err := pub.Publish(e); err != nil {
			b.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	var published atomic.Int64
	var pubWG sync.WaitGroup
	pubWG.Add(1)
	go func() {
		defer pubWG.Done()
		for ctx.Err() == nil {
			evs := load.Frame()
			if wait := time.Until(load.Now()); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
			for _, e := range evs {
				if err := pub.Publish(e); err != nil {
					return
				}
			}
			published.Add(int64(len(evs)))
		}
	}()
	defer pubWG.Wait()
	defer cancel()

	dir := b.TempDir()
	viewer, line := sshKey(b, "bench@viewer")
	keys := filepath.Join(dir, "viewers")
	if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	srv := startServeProcess(b, "--nats", ns.ClientURL(), "--viewer-keys", keys, "--host-key", filepath.Join(dir, "host_key"),
		"--max-sessions", strconv.Itoa(sessions), "--idle-timeout", "0")

	time.Sleep(2 * time.Second) // the server idle under the load: no session yet
	idle, err := procSample(srv.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	idleHeap := srv.liveHeap.Load()

	counters := make([]*countingWriter, sessions)
	for i := range counters {
		counters[i] = &countingWriter{}
		c, err := gossh.Dial("tcp", srv.addr, &gossh.ClientConfig{
			User: "bench", Auth: []gossh.AuthMethod{gossh.PublicKeys(viewer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), // loopback, a key made for this run
			Timeout:         10 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		defer sess.Close()
		sess.Stdout, sess.Stderr = counters[i], io.Discard
		if _, err := sess.StdinPipe(); err != nil { // open, never written
			b.Fatal(err)
		}
		if err := sess.RequestPty("xterm-256color", 50, 200, gossh.TerminalModes{}); err != nil {
			b.Fatal(err)
		}
		if err := sess.Shell(); err != nil {
			b.Fatal(err)
		}
	}
	// Every session has drawn a full table (a 200×50 screen is over
	// 10 KB), then a warm-up.
	deadline := time.Now().Add(2 * time.Minute)
	for slices.ContainsFunc(counters, func(c *countingWriter) bool { return c.n.Load() < 10_000 }) {
		if time.Now().After(deadline) {
			b.Fatal("sessions still without a table after 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)

	before := make([]int64, sessions)
	for i, c := range counters {
		before[i] = c.n.Load()
	}
	self0 := selfCPU(b)
	cpu0, err := procSample(srv.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	del0 := delivered(b, ctx, pub)
	pub0, t0 := published.Load(), time.Now()
	time.Sleep(*serveWindow)
	elapsed := time.Since(t0)
	del1 := delivered(b, ctx, pub)
	self1 := selfCPU(b)
	cpu1, err := procSample(srv.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	rates := make([]float64, sessions)
	for i, c := range counters {
		rates[i] = float64(c.n.Load()-before[i]) / elapsed.Seconds()
	}
	slices.Sort(rates)
	secs := elapsed.Seconds()
	b.ReportMetric(rates[len(rates)/2]/1024, "KiB/s-per-session")
	b.ReportMetric(rates[0]/1024, "KiB/s-min")
	b.ReportMetric(rates[len(rates)-1]/1024, "KiB/s-max")
	b.ReportMetric(100*(cpu1.CPU-cpu0.CPU).Seconds()/secs, "serve-cpu-%")
	b.ReportMetric(100*(self1-self0).Seconds()/secs, "nats+load+clients-cpu-%")
	b.ReportMetric(float64(cpu1.RSS)/(1<<20), "serve-rss-MB")
	b.ReportMetric(float64(cpu1.Peak)/(1<<20), "serve-peak-MB")
	b.ReportMetric(float64(cpu1.RSS-idle.RSS)/float64(sessions)/(1<<20), "MB-per-session")
	// A Watcher reads the newest event of each subject: one that falls
	// behind skips what was superseded meanwhile, so what it was
	// delivered says less than how far behind it is, in stream messages
	// and, at the rate they are published, in time.
	var got, lag []float64
	rate := float64(published.Load()-pub0) / secs
	for name, d := range del1 {
		if d0, ok := del0[name]; ok {
			got = append(got, float64(d.n-d0.n)/secs)
			lag = append(lag, float64(d.behind)/rate*1000)
		}
	}
	slices.Sort(got)
	slices.Sort(lag)
	if len(got) > 0 {
		b.ReportMetric(got[len(got)/2], "delivered/s-per-session")
		b.ReportMetric(lag[len(lag)/2], "lag-ms")
		b.ReportMetric(lag[len(lag)-1], "lag-ms-max")
	}
	live := srv.liveHeap.Load()
	b.ReportMetric(float64(live)/(1<<20), "serve-live-heap-MB")
	b.ReportMetric(float64(live-idleHeap)/float64(sessions)/(1<<20), "live-heap-MB-per-session")
	b.ReportMetric(float64(published.Load()-pub0)/secs, "events/s")
	b.Logf("idle server (no session): %.0f MB resident, %.0f MB live heap", float64(idle.RSS)/(1<<20), float64(idleHeap)/(1<<20))
}

// serveProcess is `calltop serve` in a process of its own.
type serveProcess struct {
	cmd  *exec.Cmd
	addr string
	// liveHeap is the heap the last garbage collection left (bytes), from
	// the runtime's gctrace.
	liveHeap atomic.Int64
}

// startServeProcess runs this test binary as `calltop serve --ssh
// 127.0.0.1:0 args…` and waits until it listens.
func startServeProcess(b *testing.B, args ...string) *serveProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--ssh", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "CALLTOP_TEST_CHILD=1", "GODEBUG=gctrace=1")
	cmd.SysProcAttr = childAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	p := &serveProcess{cmd: cmd}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
			}
			if m := gcLine.FindStringSubmatch(sc.Text()); m != nil { // loadgen_agents.go
				mb, _ := strconv.ParseInt(m[3], 10, 64)
				p.liveHeap.Store(mb << 20)
			}
		}
	}()
	select {
	case p.addr = <-lines:
		return p
	case <-time.After(30 * time.Second):
		b.Fatal("serve did not listen within 30 s")
	}
	return nil
}

// consumerCount is what one Watcher's consumer has been delivered, and
// what waits for it.
type consumerCount struct {
	n       uint64
	pending int
	behind  uint64 // stream messages since the last one it was delivered
}

// delivered reads every consumer of the live-state stream: one per
// session's Watcher.
func delivered(b *testing.B, ctx context.Context, cl *feed.Client) map[string]consumerCount {
	b.Helper()
	js, err := jetstream.New(cl.NC)
	if err != nil {
		b.Fatal(err)
	}
	st, err := js.Stream(ctx, cl.Subjects.Stream())
	if err != nil {
		b.Fatal(err)
	}
	si, err := st.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]consumerCount{}
	l := st.ListConsumers(ctx)
	for info := range l.Info() {
		out[info.Name] = consumerCount{n: info.Delivered.Consumer, pending: int(info.NumPending),
			behind: si.State.LastSeq - min(si.State.LastSeq, info.Delivered.Stream)}
	}
	if err := l.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// selfCPU is this process's CPU time so far: the embedded NATS, the load
// and the SSH clients.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
