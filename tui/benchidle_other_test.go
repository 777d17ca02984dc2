//go:build !unix

package tui

import "time"

// cpuTime is not measured here: waitIdle then waits a fixed while.
func cpuTime() (time.Duration, bool) { return 0, false }
