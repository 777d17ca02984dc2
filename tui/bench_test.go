package tui

import (
	"cmp"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

var (
	benchCalls = flag.String("frame.calls", "10000",
		"BenchmarkFrame: live calls, comma-separated to run several sizes (1000,2000,5000,10000,20000)")
	benchOnly = flag.String("frame.impls", "",
		"BenchmarkFrame: the implementations to run, comma-separated (default all: calltop,calltop-age,fair,naive)")
	benchWorst = flag.Int("frame.worst", 0,
		"BenchmarkFrame: log calltop's n slowest frames, split into decode, update and view")
)

// BenchmarkFrame measures the dashboard frame by frame against two
// bubbles-table baselines, paired: every implementation gets the same
// batches, one frame each per iteration in a rotating order, so each
// ratio compares the same moments of the same machine.
//
// The load (feedtest.Load, feed/feedtest): 10,000 live calls (-frame.calls), 20,000
// events a second of every kind (usage, starts with their session events,
// ends, sidebands dropping and coming back, flags, warnings, heartbeats),
// one batch per frame at 60 frames a second; the screen is 200×50. Each
// batch is encoded once as the NATS messages agents publish
// (feed.Client.Message), and each implementation decodes it with
// feed.Subjects.DecodeMsg as feed.Watcher does. A frame is decode + Update (fold the
// batch; every 60th frame also the one-second tick, which prunes) + View,
// all on the benchmark's goroutine: the worst case, where one core does
// everything. Decode is also reported on its own.
//
// Sub-benchmarks: quiet, and busy, where a child process keeps one core
// spinning for the whole run (an SSH host is never idle).
//
//	go test -run '^$' -bench Frame -benchtime 600x ./tui
//
// Metrics: p50 and p99 frame time per implementation, in ms; the ratios
// of the baselines' p99 to calltop's; calltop's decode, update and view
// times and allocations per frame.
func BenchmarkFrame(b *testing.B) {
	for _, n := range parseCounts(b, *benchCalls) {
		for _, busy := range []bool{false, true} {
			mode := "quiet"
			if busy {
				mode = "busy"
			}
			b.Run(fmt.Sprintf("calls=%d/%s", n, mode), func(b *testing.B) { benchFrames(b, n, busy) })
		}
	}
}

func parseCounts(b *testing.B, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 {
			b.Fatalf("-frame.calls: %q is not a number of calls (at least 100)", f)
		}
		out = append(out, n)
	}
	return out
}

func benchFrames(b *testing.B, n int, busy bool) {
	var names []string
	for _, bi := range benchImpls {
		if *benchOnly == "" || slices.Contains(strings.Split(*benchOnly, ","), bi.name) {
			names = append(names, bi.name)
		}
	}
	if len(names) == 0 {
		b.Fatalf("-frame.impls %q names no implementation", *benchOnly)
	}
	workers := make([]*frameWorker, 0, len(names))
	defer func() {
		for _, w := range workers {
			if w.cmd.ProcessState == nil {
				w.kill()
			}
		}
	}()
	for _, name := range names {
		workers = append(workers, startWorker(b, name, n))
	}
	if busy {
		defer busyCore(b)()
	}
	g := newFrameLoad(n)
	g.Initial() // as the workers did: the same state, the same frames
	enc, err := feed.NewClient(nil, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msgs := encodeBatch(b, enc, g.Frame())
		waitIdle() // this process's garbage collection must not run into a frame
		tick := i%benchFPS == benchFPS-1
		for k := range workers {
			workers[(i+k)%len(workers)].frame(b, i, msgs, g.Now(), tick)
		}
	}
	b.StopTimer()
	for _, w := range workers {
		w.finish(b)
	}
	report(b, workers)
	for _, w := range workers[1:] {
		if w.calls != workers[0].calls {
			b.Fatalf("%s holds %d calls, %s %d: they folded the events differently", w.name, w.calls, workers[0].name, workers[0].calls)
		}
	}
}

// logWorst logs the n slowest frames: whether a tick was in them (every
// 60th frame), where their time went, the CPU time the worker's process
// used meanwhile and whether a collection ended in them.
func logWorst(b *testing.B, times []frameTimes, n int) {
	idx := make([]int, len(times))
	for i := range idx {
		idx[i] = i
	}
	total := func(i int) time.Duration { return times[i].decode + times[i].update + times[i].view }
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(total(b), total(a)) })
	for _, i := range idx[:min(n, len(idx))] {
		t := times[i]
		b.Logf("frame %d (tick %v): %v = decode %v + update %v + view %v; process CPU %v, collections ended %d", i, i%benchFPS == benchFPS-1,
			total(i).Round(time.Microsecond), t.decode.Round(time.Microsecond), t.update.Round(time.Microsecond), t.view.Round(time.Microsecond),
			t.cpu.Round(time.Microsecond), t.gcs)
	}
}

// quantile is the q-quantile of ds in milliseconds.
func quantile(ds []time.Duration, q float64) float64 {
	ds = slices.Sorted(slices.Values(ds))
	i := min(len(ds)-1, int(q*float64(len(ds))))
	return float64(ds[i]) / 1e6
}

// report turns the workers' measurements into the benchmark's metrics.
func report(b *testing.B, workers []*frameWorker) {
	b.ReportMetric(0, "ns/op") // an iteration is a frame of every implementation
	p99 := map[string]float64{}
	for _, w := range workers {
		total := make([]time.Duration, len(w.times))
		var dec, upd, view, ui []time.Duration
		var allocs, bytes uint64
		for i, t := range w.times {
			total[i] = t.decode + t.update + t.view
			dec, upd, view = append(dec, t.decode), append(upd, t.update), append(view, t.view)
			ui = append(ui, t.update+t.view)
			allocs += t.allocs
			bytes += t.bytes
		}
		frames := float64(len(w.times))
		b.ReportMetric(quantile(total, 0.50), w.name+"-p50-ms")
		b.ReportMetric(quantile(total, 0.99), w.name+"-p99-ms")
		b.ReportMetric(w.heapMB, w.name+"-heap-MB")
		p99[w.name] = quantile(total, 0.99)
		if w.name != "calltop" {
			continue
		}
		logWorst(b, w.times, *benchWorst)
		b.ReportMetric(quantile(dec, 0.50), "decode-p50-ms")
		b.ReportMetric(quantile(dec, 0.99), "decode-p99-ms")
		b.ReportMetric(quantile(upd, 0.50), "calltop-update-p50-ms")
		b.ReportMetric(quantile(upd, 0.99), "calltop-update-p99-ms")
		b.ReportMetric(quantile(view, 0.50), "calltop-view-p50-ms")
		b.ReportMetric(quantile(view, 0.99), "calltop-view-p99-ms")
		// The frame of the UI goroutine alone, when the watcher decodes on
		// another core.
		b.ReportMetric(quantile(ui, 0.50), "calltop-nodecode-p50-ms")
		b.ReportMetric(quantile(ui, 0.99), "calltop-nodecode-p99-ms")
		b.ReportMetric(float64(allocs)/frames, "calltop-allocs/frame")
		b.ReportMetric(float64(bytes)/frames/1024, "calltop-KiB/frame")
	}
	if c, ok := p99["calltop"]; ok {
		for _, base := range []string{"fair", "naive"} {
			if p, ok := p99[base]; ok {
				b.ReportMetric(p/c, base+"/calltop-p99")
			}
		}
	}
}
