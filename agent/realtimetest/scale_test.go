package realtimetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// scaleCalls is how many calls TestScale attaches (the agent's benchmark
// tracks 1,000).
const scaleCalls = 1000

// TestScale attaches scaleCalls sidebands to as many talking calls and
// measures what the server costs per call. The clients run in a child
// process (this test binary, see TestScaleClientHelper) so the goroutine and
// heap figures are the server's alone.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	// Pings are armed as usual but never due while measuring: under -race
	// on a loaded machine the attach alone has taken over 17 s, and with
	// the default 20 s interval the first pings were in flight (counted
	// as extra goroutines per call).
	s := newTestServer(t, Options{PingInterval: time.Hour})
	g0, m0, st0 := settle()

	ids := make([]string, scaleCalls)
	for i := range ids {
		ids[i] = s.NewCall(Script{TurnGap: 50 * time.Millisecond})
	}
	g1, m1, _ := settle()

	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleClientHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "REALTIMETEST_SCALE_CLIENT=1", "REALTIMETEST_BASE="+s.BaseURL(), "REALTIMETEST_KEY="+s.APIKey())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	watchdog := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	start := time.Now()
	if _, err := io.WriteString(stdin, strings.Join(ids, "\n")+"\n\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("client helper: %q %v", line, err)
	}
	attachTime := time.Since(start)
	time.Sleep(300 * time.Millisecond) // let every script get going
	g2, m2, st2 := settle()

	perCallG := float64(g2-g0) / scaleCalls
	perCallMem := float64(m2-m0) / scaleCalls
	t.Logf("%d calls: %.2f goroutines/call unattached, %.2f attached; %.1f KiB/call unattached, %.1f KiB/call attached (heap+stacks in use, of which stacks %.1f KiB); attach+configure all took %v (race=%v)",
		scaleCalls, float64(g1-g0)/scaleCalls, perCallG, float64(m1-m0)/scaleCalls/1024, perCallMem/1024,
		float64(st2-st0)/scaleCalls/1024, attachTime.Round(time.Millisecond), raceEnabled)
	if perCallG > 2.05 {
		t.Errorf("%.2f server goroutines per attached call, want <= 2", perCallG)
	}
	if !raceEnabled && perCallMem > 64<<10 {
		t.Errorf("%.1f KiB per attached call, want <= 64 KiB", perCallMem/1024)
	}
	// Every call talked to its sideband.
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for s.Emitted(id).Responses == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if s.Emitted(id).Responses == 0 {
			t.Fatalf("call %s never answered: attached %d, attaches %d, emitted %+v, live %v", id, s.Attached(id), s.Attaches(id), s.Emitted(id), s.liveCall(id) != nil)
		}
	}
}

// settle returns the goroutine count, the bytes of heap and stacks in use
// and the bytes of stacks alone, once the runtime is quiet.
func settle() (int, uint64, uint64) {
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapInuse + ms.StackInuse, ms.StackInuse
}

// TestScaleClientHelper is TestScale's client process: it reads call ids
// from stdin (up to an empty line), attaches a sideband to each, sends
// session.update, prints "ready" once every session.updated arrived, and
// keeps reading until stdin closes.
func TestScaleClientHelper(t *testing.T) {
	if os.Getenv("REALTIMETEST_SCALE_CLIENT") != "1" {
		t.Skip("helper process for TestScale")
	}
	base := strings.Replace(os.Getenv("REALTIMETEST_BASE"), "http://", "ws://", 1)
	hdr := http.Header{"Authorization": {"Bearer " + os.Getenv("REALTIMETEST_KEY")}}
	in := bufio.NewScanner(os.Stdin)
	var ids []string
	for in.Scan() && in.Text() != "" {
		ids = append(ids, in.Text())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ready, done sync.WaitGroup
	sem := make(chan struct{}, 64)
	errs := make(chan error, len(ids))
	for _, id := range ids {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			sem <- struct{}{}
			c, _, err := websocket.Dial(ctx, base+"/realtime?call_id="+id, &websocket.DialOptions{HTTPHeader: hdr})
			if err == nil {
				c.SetReadLimit(1 << 20)
				err = c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","session":{"type":"realtime"}}`))
			}
			<-sem
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				ready.Done()
				return
			}
			defer c.CloseNow()
			first := true
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					if first {
						errs <- fmt.Errorf("%s: %w", id, err)
						ready.Done()
					}
					return
				}
				if first && strings.Contains(string(data[:min(len(data), 40)]), `"session.updated"`) {
					first = false
					ready.Done()
				}
			}
		}()
	}
	ready.Wait()
	select {
	case err := <-errs:
		fmt.Println("error: " + err.Error())
		return
	default:
	}
	fmt.Println("ready " + strconv.Itoa(len(ids)))
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	done.Wait()
}
