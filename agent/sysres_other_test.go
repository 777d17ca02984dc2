//go:build !unix

package agent_test

import "time"

// cpuTime is unknown here: the benchmark reports no CPU figures.
func cpuTime() (time.Duration, bool) { return 0, false }

func raiseNoFile(int) error { return nil }

func ephemeralPorts() int { return 0 }
