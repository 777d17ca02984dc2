package tui

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

// workerEnv, when set ("<implementation>:<calls>"), makes the test binary
// a worker of BenchmarkFrame: it runs one implementation under the load,
// a frame whenever its parent says so. Each implementation runs in a
// process of its own so that its garbage is collected on its own: in one
// process the naive table's 10 MB a frame would set off collections that
// land in the dashboard's frames (calltop's p99 doubled that way).
const workerEnv = "CALLTOP_BENCH_FRAME_WORKER"

// frameTimes is what a worker measured of one frame.
type frameTimes struct {
	decode, update, view time.Duration
	allocs, bytes        uint64
	// cpu is the CPU time of the worker's process during the frame (all
	// its threads: more than the frame when the collector ran beside it,
	// less when something else had the core); gcs the collections that
	// ended in it.
	cpu time.Duration
	gcs uint64
}

// frameWorker is the parent's end of a worker.
type frameWorker struct {
	name string
	cmd  *exec.Cmd
	in   *bufio.Writer
	inc  interface{ Close() error }
	out  *bufio.Reader
	// frames measured, and the worker's last words.
	times  []frameTimes
	calls  int
	heapMB float64
}

// startWorker starts a worker for impl at n calls and waits until it has
// loaded the initial state.
func startWorker(b *testing.B, impl string, n int) *frameWorker {
	b.Helper()
	args := []string{"-test.run=^$"}
	for _, name := range []string{"test.cpuprofile", "test.memprofile", "test.outputdir"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			args = append(args, "-"+name+"="+f.Value.String())
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", workerEnv, impl, n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the %s worker: %v", impl, err)
	}
	w := &frameWorker{name: impl, cmd: cmd, in: bufio.NewWriter(in), inc: in, out: bufio.NewReader(out)}
	if line, err := w.out.ReadString('\n'); err != nil || line != "READY\n" {
		w.kill()
		b.Fatalf("%s worker: %q %v", impl, line, err)
	}
	return w
}

// frame hands the worker frame i's batch and records what it measured.
func (w *frameWorker) frame(b *testing.B, i int, msgs [][]byte, now time.Time, tick bool) frameTimes {
	t := 0
	if tick {
		t = 1
	}
	fmt.Fprintf(w.in, "F %d %d %d %d\n", i, now.UnixNano(), t, len(msgs))
	var n [4]byte
	for _, m := range msgs {
		binary.BigEndian.PutUint32(n[:], uint32(len(m)))
		w.in.Write(n[:])
		w.in.Write(m)
	}
	if err := w.in.Flush(); err != nil {
		b.Fatalf("%s worker: %v", w.name, err)
	}
	line, err := w.out.ReadString('\n')
	var ft frameTimes
	var dec, upd, view, cpu int64
	if err == nil {
		_, err = fmt.Sscanf(line, "T %d %d %d %d %d %d %d\n", &dec, &upd, &view, &ft.allocs, &ft.bytes, &cpu, &ft.gcs)
	}
	if err != nil {
		b.Fatalf("%s worker, frame %d: %q: %v", w.name, i, line, err)
	}
	ft.decode, ft.update, ft.view, ft.cpu = time.Duration(dec), time.Duration(upd), time.Duration(view), time.Duration(cpu)
	w.times = append(w.times, ft)
	return ft
}

// finish asks the worker for its last words (calls held, live heap) and
// waits for it to exit.
func (w *frameWorker) finish(b *testing.B) {
	fmt.Fprintln(w.in, "Q")
	_ = w.in.Flush()
	line, err := w.out.ReadString('\n')
	if err == nil {
		_, err = fmt.Sscanf(line, "DONE %d %g\n", &w.calls, &w.heapMB)
	}
	_ = w.inc.Close()
	if werr := w.cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		b.Fatalf("%s worker: %q: %v", w.name, line, err)
	}
}

func (w *frameWorker) kill() {
	_ = w.inc.Close()
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
}

// runWorker is the worker's side: it builds the implementation and the
// initial state (the same as its parent's: the load is deterministic),
// says READY, and then runs a frame for every batch its parent sends
// until "Q". Each message is read into a fresh buffer, as the NATS client
// does; then decode, update and view are timed. Then it waits until the
// process is idle again (its garbage collection done), so that it does
// not run into the next implementation's frame: in a real dashboard that
// collection runs between frames, which are 16.7 ms apart. With
// -test.cpuprofile or -test.memprofile set, the worker writes its own
// profile next to it, named after the implementation.
func runWorker(spec string) {
	name, ns, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(ns)
	var impl frameImpl
	for _, bi := range benchImpls {
		if bi.name == name {
			impl = bi.new()
		}
	}
	if err != nil || impl == nil {
		fmt.Fprintf(os.Stderr, "frame worker: bad spec %q\n", spec)
		os.Exit(2)
	}
	flag.Parse() // the testing flags, for the profiles' names
	tuneGC()     // every implementation runs as the dashboard's process does
	g := newFrameLoad(n)
	impl.update(g.Initial(), g.Now(), true)
	impl.view()
	runtime.GC()
	stopProfile := startProfile(name)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "READY")
	_ = out.Flush()
	in := bufio.NewReaderSize(os.Stdin, 1<<16)
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "frame worker %s: %v\n", name, err)
		os.Exit(1)
	}
	for frame := 0; ; frame++ {
		line, err := in.ReadString('\n')
		if err != nil {
			fail(err)
		}
		if line == "Q\n" {
			break
		}
		var i, tick, count int
		var now int64
		if _, err := fmt.Sscanf(line, "F %d %d %d %d\n", &i, &now, &tick, &count); err != nil || i != frame {
			fail(fmt.Errorf("%q, want frame %d: %v", line, frame, err))
		}
		msgs := make([][]byte, count)
		var size [4]byte
		for j := range msgs {
			if _, err := io.ReadFull(in, size[:]); err != nil {
				fail(err)
			}
			msgs[j] = make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(in, msgs[j]); err != nil {
				fail(err)
			}
		}
		t := timeFrame(impl, msgs, time.Unix(0, now).UTC(), tick == 1)
		waitIdle()
		fmt.Fprintf(out, "T %d %d %d %d %d %d %d\n", t.decode, t.update, t.view, t.allocs, t.bytes, t.cpu, t.gcs)
		_ = out.Flush()
	}
	stopProfile()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(out, "DONE %d %.1f\n", impl.calls(), float64(ms.HeapAlloc)/(1<<20))
	_ = out.Flush()
	runtime.KeepAlive(impl)
}

// encodeBatch encodes a batch as the NATS messages an agent publishes,
// each as its subject, a newline and its payload: schema 2 says the kind
// and the call in the subject, so decoding needs both.
func encodeBatch(b *testing.B, enc *feed.Client, batch []feed.Event) [][]byte {
	msgs := make([][]byte, len(batch))
	for i := range batch {
		m, err := enc.Message(batch[i])
		if err != nil {
			b.Fatalf("encode %s/%s: %v", batch[i].CallID, batch[i].Kind, err)
		}
		msgs[i] = append(append([]byte(m.Subject), '\n'), m.Data...)
	}
	return msgs
}

// decodeWire decodes one message of encodeBatch as feed.Watcher does.
func decodeWire(m []byte) (feed.Event, error) {
	i := bytes.IndexByte(m, '\n')
	if i < 0 {
		return feed.Event{}, fmt.Errorf("no subject in %q", m)
	}
	return wireSubjects.DecodeMsg(string(m[:i]), m[i+1:])
}

// wireSubjects are the default prefix's, which feed.NewClient(nil, "") uses.
var wireSubjects = func() feed.Subjects {
	s, err := feed.NewSubjects("")
	if err != nil {
		panic(err)
	}
	return s
}()

// timeFrame decodes msgs as feed.Watcher does, then updates and views.
func timeFrame(impl frameImpl, msgs [][]byte, now time.Time, tick bool) frameTimes {
	a0 := readAllocs()
	c0, _ := cpuTime()
	start := time.Now()
	evs := make([]feed.Event, 0, len(msgs))
	for _, m := range msgs {
		e, err := decodeWire(m)
		if err != nil {
			panic(fmt.Sprintf("decode %s: %v", m, err))
		}
		evs = append(evs, e)
	}
	decoded := time.Now()
	impl.update(evs, now, tick)
	updated := time.Now()
	if len(impl.view()) == 0 {
		panic("empty screen")
	}
	end := time.Now()
	c1, _ := cpuTime()
	a1 := readAllocs()
	return frameTimes{
		decode: decoded.Sub(start), update: updated.Sub(decoded), view: end.Sub(updated),
		allocs: a1.objects - a0.objects, bytes: a1.bytes - a0.bytes, cpu: c1 - c0, gcs: a1.gcs - a0.gcs,
	}
}

type allocCount struct{ objects, bytes, gcs uint64 }

var allocSamples = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"},
	{Name: "/gc/cycles/total:gc-cycles"}}

// readAllocs is the process's allocations and collections so far;
// runtime/metrics reads them without stopping the world.
func readAllocs() allocCount {
	metrics.Read(allocSamples)
	return allocCount{allocSamples[0].Value.Uint64(), allocSamples[1].Value.Uint64(), allocSamples[2].Value.Uint64()}
}

// waitIdle returns once the process used less than a quarter of a core
// over a millisecond (its background garbage collection is done), or
// after 200 ms.
func waitIdle() {
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		c0, ok := cpuTime()
		if !ok {
			time.Sleep(5 * time.Millisecond)
			return
		}
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		c1, _ := cpuTime()
		if c1-c0 < time.Since(t0)/4 {
			return
		}
	}
}

// startProfile starts the profiles the testing flags ask for, in files
// named after the implementation, and returns what stops them.
func startProfile(impl string) (stop func()) {
	path := func(name string) string {
		f := flag.Lookup(name)
		if f == nil || f.Value.String() == "" {
			return ""
		}
		p := f.Value.String() + "." + impl
		if dir := flag.Lookup("test.outputdir"); dir != nil && dir.Value.String() != "" && !filepath.IsAbs(p) {
			p = filepath.Join(dir.Value.String(), p)
		}
		return p
	}
	var stops []func()
	if p := path("test.cpuprofile"); p != "" {
		if f, err := os.Create(p); err == nil && pprof.StartCPUProfile(f) == nil {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if p := path("test.memprofile"); p != "" {
		runtime.MemProfileRate = 4096
		stops = append(stops, func() {
			if f, err := os.Create(p); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
