//go:build unix

package agent_test

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the process's CPU time so far, user and system, every thread
// (getrusage RUSAGE_SELF): what the agent costs, in the benchmark's
// process, without its stand-in child.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// raiseNoFile raises the soft open-file limit to the hard one (the Go
// runtime does on Linux at start; not everywhere) and reports whether n
// more descriptors fit, with a message saying what to do when not.
func raiseNoFile(n int) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("open-file limit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return fmt.Errorf("raise the open-file limit to %d: %w", rl.Max, err)
		}
	}
	if rl.Cur < uint64(n) {
		return fmt.Errorf("open-file limit %d (hard %d) is below the %d this needs: raise it (ulimit -n)", rl.Cur, rl.Max, n)
	}
	return nil
}

// ephemeralPorts is the size of Linux's local port range, for the
// connections one agent opens to one stand-in address; 0 when unknown
// (another OS).
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &hi); err != nil {
		return 0
	}
	return hi - lo + 1
}
