package tui

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/calltop/calltop/feed"
)

// TestHangUpRefusedByNATS: when the NATS server refuses this user a
// hang-up (a viewer's credentials), the status line says so in words
// that fit 80 columns, without the server's subject or the call ID
// twice; the next hang-up dialog says it in full, until a hang-up goes
// through.
func TestHangUpRefusedByNATS(t *testing.T) {
	for _, w := range []int{80, 140} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testHangUpRefused(t, w) })
		})
	}
}

func testHangUpRefused(t *testing.T, w int) {
	clk := newClock()
	src := newMemSource()
	a, b := alice.at(clk.Now().Add(-2*time.Minute)), bob.at(clk.Now().Add(-time.Minute))
	src.send(append(callEvents(a), callEvents(b)...)...)
	var allowed atomic.Bool
	src.answer = func(req feed.TerminateRequest) error {
		if allowed.Load() {
			return nil
		}
		// As feed.Client.Terminate returns the server's refusal.
		return fmt.Errorf("terminate %s: %w", req.CallID,
			&feed.PermissionError{Op: "publish", Subject: "calltop.v1.ctl." + req.CallID + ".terminate"})
	}
	ui := runBubble(t, src, Options{Now: clk.Now, Operator: "viewer@host"}, w, 24)
	if s := flat(ui.screen()); strings.Contains(s, "refused") {
		t.Fatalf("a warning before any refusal:\n%s", ui.screen())
	}
	ui.keys("ctrl+k", "1", "enter") // bob, the top row
	s := ui.screen()
	lines := strings.Split(s, "\n")
	status := ""
	for _, l := range lines {
		if strings.Contains(l, "error:") {
			status = l
		}
	}
	want := "error: hang-up refused: this NATS user lacks the operator role"
	if !strings.Contains(status, want) || strings.Contains(status, "…") || strings.Contains(status, "rtc_") {
		t.Errorf("status line at %d columns: %q, want %q whole\n%s", w, status, want, s)
	}
	if !strings.Contains(rowOf(s, b.id[:12]), "live") {
		t.Errorf("bob not live after a refused hang-up:\n%s", s)
	}

	// The next dialog says what the server refused, and what it takes.
	ui.keys("ctrl+k")
	d := flat(ui.screen())
	for _, part := range []string{
		"An earlier hang-up was refused: permission denied: the NATS server does not let this user publish to",
		"Hanging up takes a NATS user with the operator role (docs/SECURITY.md).",
		"Cancel: keep the call",
	} {
		if !strings.Contains(d, part) {
			t.Errorf("dialog at %d columns lacks %q:\n%s", w, part, ui.screen())
		}
	}
	// Once a hang-up goes through, the warning goes.
	allowed.Store(true)
	ui.keys("1", "enter")
	if s := ui.screen(); !strings.Contains(s, "hung up by you") {
		t.Fatalf("hang-up did not go through:\n%s", s)
	}
	ui.keys("down", "ctrl+k")
	if d := flat(ui.screen()); !strings.Contains(d, "Cancel: keep the call") || strings.Contains(d, "refused") {
		t.Errorf("dialog after a hang-up went through:\n%s", ui.screen())
	}
	ui.keys("esc")
	if n := len(src.requests()); n != 2 {
		t.Errorf("%d terminate requests, want 2", n)
	}
	ui.quit()
}
