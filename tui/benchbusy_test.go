package tui

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// spinEnv, when set, makes the test binary a child process that keeps one
// core busy until its stdin closes: the busy runs of BenchmarkFrame
// measure the dashboard on a host where something else runs, as an SSH
// host always has.
const spinEnv = "CALLTOP_BENCH_SPIN"

// spinSink keeps the spin loop's work observable, so it is not optimised
// away.
var spinSink uint64

// spin burns one core until stdin closes (the parent finished or died).
func spin() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println("SPINNING")
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 0 {
			spinSink++
		}
	}
}

// busyCore starts a child process that keeps one core busy and returns
// the function that stops it, which reports how much of a core the child
// really used.
func busyCore(b *testing.B) (stop func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), spinEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("busy core: start the spinner: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "SPINNING\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.Fatalf("busy core: the spinner said %q: %v", line, err)
	}
	started := time.Now()
	return func() {
		wall := time.Since(started)
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if st := cmd.ProcessState; st != nil && wall > 0 {
			b.ReportMetric(float64(st.UserTime()+st.SystemTime())/float64(wall), "spinner-cores")
		}
	}
}
