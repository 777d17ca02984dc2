package tui

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: the dashboard raises the GC target, unless the user chose
// one with GOGC.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "150") // restored after the test
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set, the GC target became %d; the user's choice must stand", got)
	}
	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != dashboardGOGC {
		t.Fatalf("GC target %d after tuneGC, want %d", got, dashboardGOGC)
	}
}
