package tui

import (
	"strings"
	"testing"
)

// TestReplayBanner: a dashboard replaying a past moment says so on every
// screen, with the moment, and refuses to hang up.
func TestReplayBanner(t *testing.T) {
	clk := newClock()
	at := clk.Now()
	m, _ := newUnitModel(t, clk, 100, 24, func(o *Options) {
		o.ReplayAt, o.ReadOnly, o.ReadOnlyWhy = at, true, "a replay of a past moment"
	})
	m.Update(events(clk.Now(), alice.at(clk.Now())))
	for _, keys := range [][]string{nil, {"u"}, {"esc", "h"}, {"esc", "a"}} {
		press(m, keys...)
		s := plain(m)
		if !strings.Contains(s, "REPLAY of 2026-10-01 12:00:00 UTC: the board as it was then") || !strings.Contains(s, "REPLAY 12:00:00") {
			t.Fatalf("after %v, no replay banner:\n%s", keys, s)
		}
	}
	press(m, "esc", "x")
	if s := plain(m); m.confirm != nil || !strings.Contains(s, "hanging up is disabled (a replay of a past moment)") {
		t.Fatalf("x on a replay:\n%s", s)
	}
}
