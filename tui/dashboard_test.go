package tui

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	tea "charm.land/bubbletea/v2"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/calltop/calltop/feed"
)

var (
	alice = call{id: "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn", user: "alice@acme.io", model: "gpt-realtime",
		in: 12345, out: 6789, cost: 0.42}
	bob = call{id: "rtc_u0_E6mH7YwmYXwYY0iVKLojm", user: "bob@example.com", model: "gpt-realtime-mini",
		in: 250_000, out: 1_500_000, cost: 3.5}
	carol = call{id: "rtc_u1_9c6574da8b8a41a18da9308f4ad974ce", user: "carol", model: "gpt-4o-realtime-preview",
		in: 10, out: 20, cost: 0, unknown: true}
)

// at returns c started some time before now.
func (c call) at(start time.Time) call { c.started = start; return c }

func TestRowsShowCallFacts(t *testing.T) {
	f := newFeed(t)
	clk := newClock()
	f.startCall(alice.at(clk.Now().Add(-65 * time.Second)))
	f.startCall(bob.at(clk.Now().Add(-30 * time.Second)))
	f.startCall(carol.at(clk.Now().Add(-5 * time.Second)))
	tm, _ := start(t, f, Options{Now: clk.Now}, 160, 30)

	// The terminal stream itself shows the rows.
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("alice@acme.io")) && bytes.Contains(b, []byte("carol"))
	}, teatest.WithDuration(5*time.Second))

	s := waitScreen(t, tm, "three calls", contains("3 live"))
	for _, want := range []struct{ id, cells string }{
		{alice.id, "alice@acme.io rt gpt-realtime live 1m05s 12,345 6,789 19,134 $0.42 $0.39"},
		{bob.id, "bob@example.com rt gpt-realtime-mini live 30s 250k 1.5M 1.7M $3.50 $7.00"},
		{carol.id, "carol rt gpt-4o-realtime-preview live 5s 10 20 30 ? ?"},
	} {
		// A cell that changed after the row appeared carries an arrow
		// (↑/↓) for a while: whether usage came in the batch of the call's
		// start or the next is timing, not a fact of the call.
		row := strings.NewReplacer("↑", "", "↓", "").Replace(rowOf(s, want.id))
		if got := strings.Join(strings.Fields(row), " "); !strings.Contains(got, want.id+" "+want.cells) {
			t.Errorf("row of %s:\n got %q\nwant %q", want.id, got, want.id+" "+want.cells)
		}
	}
	for _, title := range []string{"CALL", "USER", "API", "MODEL", "STATE", "AGE", "IN", "OUT", "TOKENS", "COST", "$/MIN"} {
		if !strings.Contains(s, title) {
			t.Errorf("no column %q in\n%s", title, s)
		}
	}
	if !strings.Contains(s, "$3.92+? total") || !strings.Contains(s, "NATS connected") {
		t.Errorf("header lacks totals or NATS state:\n%s", s)
	}
	// Newest live call first.
	if strings.Index(s, carol.id) > strings.Index(s, bob.id) || strings.Index(s, bob.id) > strings.Index(s, alice.id) {
		t.Errorf("live calls not newest first:\n%s", s)
	}
	t.Logf("160×30:\n%s", s)
	quit(t, tm)
}

func TestAgeTicks(t *testing.T) {
	f := newFeed(t)
	clk := newClock()
	f.startCall(alice.at(clk.Now().Add(-65 * time.Second)))
	tm, _ := start(t, f, Options{Now: clk.Now}, 80, 24)
	waitScreen(t, tm, "AGE 1m05s", contains("1m05s"))

	clk.Add(2 * time.Second) // the next one-second tick shows it
	s := waitScreen(t, tm, "AGE 1m07s", contains("1m07s"))
	if strings.Contains(s, "1m05s") {
		t.Errorf("old age still shown:\n%s", s)
	}
	quit(t, tm)
}

// terminateServer is the agent side of a hang-up: it counts requests and
// publishes the ended event, as the real agent does after its hangup.
type terminateServer struct {
	mu   sync.Mutex
	reqs []feed.TerminateRequest
	n    atomic.Int32
}

func (s *terminateServer) serve(t *testing.T, f *testFeed, c call, end func() time.Time) {
	t.Helper()
	sub, err := f.client.ServeTerminate(c.id, func(req feed.TerminateRequest) (*feed.Summary, error) {
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
		s.n.Add(1)
		// As the agent does: reason operator, the operator's words as
		// the detail, the operator as who.
		f.publish(feed.Event{Kind: feed.KindEnded, CallID: c.id, Usage: c.usage(),
			End: &feed.End{Reason: feed.ReasonOperator, Detail: req.Reason, By: req.Operator, EndedAt: end()}})
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func TestHangUpSendsOneTerminateForCapturedCall(t *testing.T) {
	f := newFeed(t)
	clk := newClock()
	a, b := alice.at(clk.Now().Add(-2*time.Minute)), bob.at(clk.Now().Add(-time.Minute))
	f.startCall(a)
	f.startCall(b)
	var srvA, srvB terminateServer
	srvA.serve(t, f, a, clk.Now)
	srvB.serve(t, f, b, clk.Now)

	tm, _ := start(t, f, Options{Now: clk.Now, Operator: "oncall@host"}, 80, 24)
	waitScreen(t, tm, "both calls", contains("alice@", "bob@"))
	tm.Send(keyDown) // bob (newest) is first; select alice
	waitScreen(t, tm, "alice selected", func(s string) bool { return strings.HasPrefix(rowOf(s, "rtc_u1_ETYJ"), ">") })

	tm.Send(keyCtrlK)
	s := waitScreen(t, tm, "the confirmation", func(s string) bool {
		return strings.Contains(flat(s), "call "+a.id+" user alice@acme.io cost $0.42 so far")
	})
	t.Logf("confirmation at 80×24:\n%s", s)

	// A new call that sorts above alice arrives while the dialog is open:
	// y must still hang up the call the operator saw.
	c := carol.at(clk.Now())
	f.startCall(c)
	waitScreen(t, tm, "carol behind the dialog", contains("3 live"))
	tm.Send(keyRune('1'))
	tm.Send(keyEnter)

	s = waitScreen(t, tm, "alice ended by the operator", func(s string) bool {
		row := rowOf(s, "rtc_u1_ETYJ")
		return strings.Contains(row, "ended operator") && strings.Contains(s, "hung up by you")
	})
	if !strings.Contains(s, "2 live") {
		t.Errorf("header does not count alice as ended:\n%s", s)
	}
	if strings.Index(s, "rtc_u1_ETYJ") < strings.Index(s, "rtc_u0_E6mH") {
		t.Errorf("ended call not below the live ones:\n%s", s)
	}
	t.Logf("after hang-up at 80×24:\n%s", s)
	m := quit(t, tm)

	// Exactly one, and none later: TestHangUpSendsExactlyOneRequest proves
	// it without waiting; here it is the NATS path.
	if n := srvA.n.Load(); n != 1 {
		t.Fatalf("alice's agent got %d terminate requests, want 1", n)
	}
	if n := srvB.n.Load(); n != 0 {
		t.Fatalf("bob's agent got %d terminate requests, want 0", n)
	}
	req := srvA.reqs[0]
	if req.CallID != a.id || req.Operator != "oncall@host" || req.Reason != DefaultReasons[0] {
		t.Errorf("terminate request = %+v", req)
	}
	got, ok := m.rows.Get(a.id)
	if !ok || got.Live() || got.End.Reason != feed.ReasonOperator || got.End.By != "oncall@host" || got.End.Detail != DefaultReasons[0] {
		t.Errorf("alice on the board = %+v", got)
	}
}

// TestHangUpSendsExactlyOneRequest is the captured-call hang-up in a
// synctest bubble: once the program is idle, every request the keys were
// going to send has been sent, so "exactly one" is proven, not waited for.
func TestHangUpSendsExactlyOneRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		src := newMemSource()
		a, b := alice.at(clk.Now().Add(-2*time.Minute)), bob.at(clk.Now().Add(-time.Minute))
		src.send(append(callEvents(a), callEvents(b)...)...)
		src.answer = func(req feed.TerminateRequest) error {
			// As the agent does after its hangup.
			src.send(endedEvent(a, feed.ReasonOperator, req.Operator, req.Reason, clk.Now()))
			return nil
		}
		ui := runBubble(t, src, Options{Now: clk.Now, Operator: "oncall@host"}, 80, 24)
		ui.keys("down", "ctrl+k") // alice, below bob (newest first)
		if s := flat(ui.screen()); !strings.Contains(s, "call "+a.id) {
			t.Fatalf("the dialog is not for alice:\n%s", ui.screen())
		}
		ui.send(eventsOf(carol.at(clk.Now()))...) // sorts above alice meanwhile
		ui.keys("1", "enter")
		s := ui.screen()
		if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "ended operator") || !strings.Contains(s, "hung up by you") {
			t.Fatalf("alice not ended by the operator:\n%s", s)
		}
		// The keys again, on the ended call: nothing more leaves.
		ui.keys("ctrl+k", "1", "enter", "x", "enter")
		reqs := src.requests()
		want := feed.TerminateRequest{CallID: a.id, Operator: "oncall@host", Reason: DefaultReasons[0]}
		if len(reqs) != 1 || reqs[0] != want {
			t.Errorf("requests = %+v, want exactly %+v", reqs, want)
		}
		ui.quit()
	})
}

// eventsOf is a call's events as messages for a bubble, one batch.
func eventsOf(c call) []tea.Msg {
	return []tea.Msg{eventsMsg{events: callEvents(c)}}
}

func TestHangUpCancelledByAnyOtherKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		src := newMemSource()
		src.answer = func(feed.TerminateRequest) error { return nil }
		src.send(callEvents(alice.at(clk.Now().Add(-time.Minute)))...)
		ui := runBubble(t, src, Options{Now: clk.Now}, 80, 24)
		for _, k := range []struct {
			name string
			keys []string
		}{
			{"esc", []string{"esc"}},
			{"enter", []string{"enter"}}, // the dialog opens on Cancel
			// Neither the hang-up key again nor a letter confirms anything.
			{"x, n, y, esc", []string{"x", "n", "y", "esc"}},
		} {
			ui.keys("ctrl+k")
			if s := ui.screen(); !strings.Contains(s, "Cancel: keep the call") {
				t.Fatalf("no confirmation before %s:\n%s", k.name, s)
			}
			ui.keys(k.keys...)
			s := ui.screen()
			if !strings.Contains(s, "hang-up cancelled") || strings.Contains(s, "Cancel: keep") {
				t.Errorf("not cancelled after %s:\n%s", k.name, s)
			}
			if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "live") {
				t.Errorf("after %s the call is not live:\n%s", k.name, s)
			}
			if n := len(src.requests()); n != 0 {
				t.Fatalf("after %s: %d terminate requests, want 0", k.name, n)
			}
		}
		ui.quit()
	})
}

func TestHangUpEndedCallOnlySaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		src := newMemSource()
		src.answer = func(feed.TerminateRequest) error { return nil }
		a := alice.at(clk.Now().Add(-time.Minute))
		src.send(append(callEvents(a), endedEvent(a, feed.ReasonPolicy, "", "", clk.Now()))...)
		ui := runBubble(t, src, Options{Now: clk.Now}, 80, 24)
		if s := ui.screen(); !strings.Contains(s, "ended policy") {
			t.Fatalf("alice not ended:\n%s", s)
		}
		ui.keys("ctrl+k")
		s := ui.screen()
		if !strings.Contains(s, "has already ended (policy)") || strings.Contains(s, "Cancel: keep") {
			t.Errorf("hang-up of an ended call:\n%s", s)
		}
		ui.keys("1", "enter")
		if n := len(src.requests()); n != 0 {
			t.Fatalf("%d terminate requests, want 0", n)
		}
		ui.quit()
	})
}

func TestHangUpErrorShown(t *testing.T) {
	f := newFeed(t)
	clk := newClock()
	f.startCall(alice.at(clk.Now()))
	// No agent serves terminate requests for alice.
	tm, _ := start(t, f, Options{Now: clk.Now}, 80, 24)
	waitScreen(t, tm, "alice", contains("alice@"))
	tm.Send(keyCtrlK)
	waitScreen(t, tm, "the confirmation", contains("Cancel: keep"))
	tm.Send(keyRune('1'))
	tm.Send(keyEnter)
	s := waitScreen(t, tm, "the error", contains("error: hang up rtc_u1_ETYJ", "no agent owns the call"))
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "live") {
		t.Errorf("call not live after a failed hang-up:\n%s", s)
	}
	quit(t, tm)
}

func TestSelectionStaysOnItsCall(t *testing.T) {
	f := newFeed(t)
	clk := newClock()
	f.startCall(alice.at(clk.Now().Add(-2 * time.Minute)))
	f.startCall(bob.at(clk.Now().Add(-time.Minute)))
	tm, _ := start(t, f, Options{Now: clk.Now}, 80, 24)
	waitScreen(t, tm, "both calls", contains("alice@", "bob@"))

	tm.Send(keyDown)
	waitScreen(t, tm, "alice selected", func(s string) bool { return strings.HasPrefix(rowOf(s, "rtc_u1_ETYJ"), ">") })

	f.startCall(carol.at(clk.Now())) // newest: sorts above both
	s := waitScreen(t, tm, "carol", contains("carol"))
	if !strings.HasPrefix(rowOf(s, "rtc_u1_ETYJ"), ">") {
		t.Errorf("selection left alice when carol arrived:\n%s", s)
	}
	if strings.HasPrefix(rowOf(s, "rtc_u0_E6mH"), ">") || strings.HasPrefix(rowOf(s, "rtc_u1_9c65"), ">") {
		t.Errorf("more than one row selected:\n%s", s)
	}
	if m := quit(t, tm); m.cur.id != alice.id {
		t.Errorf("selected %q, want %q", m.cur.id, alice.id)
	}
}

func TestRendersFitTheTerminal(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}, {120, 30}, {60, 15}} {
		t.Run("", func(t *testing.T) {
			f := newFeed(t)
			clk := newClock()
			for i := range 30 {
				c := call{
					id:    fmt.Sprintf("rtc_u1_%032d", i),
					user:  "user" + strings.Repeat("x", i) + "@a-rather-long-domain.example.com",
					model: "gpt-realtime-mini-2025-10-06", in: int64(i) * 123457, out: int64(i) * 98765, cost: float64(i) * 1.37,
					started: clk.Now().Add(-time.Duration(i) * time.Minute),
				}
				f.startCall(c)
				if i%3 == 0 {
					f.endCall(c, feed.ReasonHangup, "", clk.Now())
				}
			}
			tm, _ := start(t, f, Options{Now: clk.Now}, size.w, size.h)
			s := waitScreen(t, tm, "20 live calls", contains("20 live"))
			lines := strings.Split(s, "\n")
			if len(lines) > size.h {
				t.Errorf("%d lines on a %d-line terminal", len(lines), size.h)
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > size.w {
					t.Errorf("line %d is %d cells wide on a %d-column terminal: %q", i, w, size.w, l)
				}
			}
			if !strings.Contains(s, "ended hangup") && size.h > 30 {
				t.Errorf("no ended rows shown:\n%s", s)
			}
			t.Logf("%d×%d:\n%s", size.w, size.h, s)
			quit(t, tm)
		})
	}
}
