package tui

import (
	"os"
	"runtime/debug"
)

// dashboardGOGC is the garbage collector's target the dashboard runs with.
// Its heap is mostly long-lived state (the Board, the table's rows, the
// timelines: ~47 MB at 10,000 calls), its garbage the events of each
// frame; at the default of 100 the collector re-marks all of that state
// for every 47 MB of events, and the frames it runs into are the slow
// ones. At 400 it runs a quarter as often: BenchmarkFrame's p99 with one
// core busy went from 7.4–7.6 ms to 5.5–5.8 ms (calltop, by cost), for a
// heap that may grow to five times the live one before a collection
// (~235 MB at 10,000 calls, against 94 MB at 100).
const dashboardGOGC = 400

// tuneGC sets the dashboard's GC target unless the user set GOGC; a
// GOMEMLIMIT, if set, still bounds the heap.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(dashboardGOGC)
	}
}
