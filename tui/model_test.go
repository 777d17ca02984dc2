package tui

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/calltop/calltop/feed"
)

// These tests drive Update directly with the messages the program would
// deliver; the Source is a real feed on the embedded NATS server, whose
// commands are simply not run.

func newUnitModel(t *testing.T, clk *clock, w, h int) *Model {
	t.Helper()
	m := New(newFeed(t).src, Options{Now: clk.Now, Operator: "me@here"})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(tea.EnvMsg{"TERM=xterm-256color"})
	return m
}

// events builds the started/session/usage (and ended) events of calls, as
// a batch from Next.
func events(now time.Time, calls ...call) eventsMsg {
	var evs []feed.Event
	for _, c := range calls {
		evs = append(evs,
			feed.Event{V: feed.Version, Kind: feed.KindStarted, CallID: c.id, Seq: 1, At: c.started,
				Start: &feed.Start{User: c.user, StartedAt: c.started}},
			feed.Event{V: feed.Version, Kind: feed.KindSession, CallID: c.id, Seq: 2, At: c.started,
				Session: &feed.Session{Model: c.model}},
			feed.Event{V: feed.Version, Kind: feed.KindUsage, CallID: c.id, Seq: 3, At: c.started, Usage: c.usage()},
		)
	}
	return eventsMsg{events: evs}
}

func ended(c call, reason feed.Reason, at time.Time) eventsMsg {
	return eventsMsg{events: []feed.Event{{V: feed.Version, Kind: feed.KindEnded, CallID: c.id, Seq: 10, At: at,
		Usage: c.usage(), End: &feed.End{Reason: reason, EndedAt: at}}}}
}

func plain(m *Model) string { return ansi.Strip(m.View().Content) }

var sgr = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// sgrParams lists the parameters of every SGR sequence in s.
func sgrParams(s string) map[string]bool {
	out := map[string]bool{}
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			out[p] = true
		}
	}
	return out
}

// hasColour reports whether s sets a foreground or background colour.
func hasColour(s string) bool {
	for p := range sgrParams(s) {
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil {
			continue
		}
		if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
			return true
		}
	}
	return false
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(ansi.Strip(l), sub) {
			return l
		}
	}
	return ""
}

func TestNoColorKeepsMarksInText(t *testing.T) {
	clk := newClock()
	m := newUnitModel(t, clk, 80, 24)
	m.Update(events(clk.Now(), alice.at(clk.Now().Add(-time.Minute)), bob.at(clk.Now())))
	m.Update(ended(alice, feed.ReasonOperator, clk.Now()))
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})

	colour := m.View().Content
	if !hasColour(colour) {
		t.Fatalf("no colour without NO_COLOR:\n%q", colour)
	}
	if !sgrParams(lineWith(colour, "rtc_u1_ETYJ"))["2"] {
		t.Errorf("ended row not dimmed: %q", lineWith(colour, "rtc_u1_ETYJ"))
	}

	m.Update(tea.EnvMsg{"TERM=xterm-256color", "NO_COLOR=yes"})
	mono := m.View().Content
	if hasColour(mono) {
		t.Errorf("colour under NO_COLOR:\n%q", mono)
	}
	s := ansi.Strip(mono)
	if !strings.HasPrefix(rowOf(s, "rtc_u0_E6mH"), ">") {
		t.Errorf("selection not marked by text:\n%s", s)
	}
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "ended operator") {
		t.Errorf("ended call not marked by text:\n%s", s)
	}
	if !strings.Contains(s, "Hang up rtc_u0_E6mH7YwmYXwYY0iVKLojm") {
		t.Errorf("dialog missing:\n%s", s)
	}

	m.Update(tea.EnvMsg{"NO_COLOR="}) // empty means unset
	if !hasColour(m.View().Content) {
		t.Error("empty NO_COLOR turned colour off")
	}
}

func TestHelpToggles(t *testing.T) {
	clk := newClock()
	m := newUnitModel(t, clk, 80, 24)
	short := m.tableHeight()
	if s := plain(m); !strings.Contains(s, "ctrl+k/x hang up") || strings.Contains(s, "page down") {
		t.Fatalf("short help:\n%s", s)
	}
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	s := plain(m)
	for _, want := range []string{"page down", "hang up", "confirm hang-up", "quit", "esc"} {
		if !strings.Contains(s, want) {
			t.Errorf("full help lacks %q:\n%s", want, s)
		}
	}
	if m.tableHeight() >= short {
		t.Errorf("help took no room: table %d rows, was %d", m.tableHeight(), short)
	}
	if n := len(strings.Split(s, "\n")); n > 24 {
		t.Errorf("%d lines with help on 24", n)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if strings.Contains(plain(m), "page down") {
		t.Error("esc did not close the help")
	}
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	if strings.Contains(plain(m), "page down") {
		t.Error("? did not toggle the help off")
	}
}

func TestOnlyVisibleRowsRenderAndKeysScroll(t *testing.T) {
	clk := newClock()
	m := newUnitModel(t, clk, 80, 24)
	var calls []call
	for i := range 100 {
		calls = append(calls, call{id: fmt.Sprintf("rtc_%03d", i), user: fmt.Sprintf("u%03d", i),
			started: clk.Now().Add(-time.Duration(i) * time.Second)})
	}
	m.Update(events(clk.Now(), calls...))
	h := m.tableHeight()
	count := func() int { return strings.Count(plain(m), "rtc_") }
	if got := count(); got != h {
		t.Fatalf("%d rows rendered, want %d (the table height)", got, h)
	}
	if !strings.HasPrefix(rowOf(plain(m), "rtc_000"), ">") {
		t.Fatalf("newest call not selected first:\n%s", plain(m))
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnd})
	if s := plain(m); !strings.HasPrefix(rowOf(s, "rtc_099"), ">") || strings.Contains(s, "rtc_000") || count() != h {
		t.Errorf("after end:\n%s", s)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgDown})
	if id := fmt.Sprintf("rtc_%03d", h); m.cur.id != id {
		t.Errorf("pgdown selected %s, want %s", m.cur.id, id)
	}
	m.Update(tea.KeyPressMsg{Code: 'k', Text: "k"})
	m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	m.Update(tea.KeyPressMsg{Code: 'j', Text: "j"})
	if id := fmt.Sprintf("rtc_%03d", h-1); m.cur.id != id {
		t.Errorf("k, up, j selected %s, want %s", m.cur.id, id)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgUp})
	if m.cur.id != "rtc_000" {
		t.Errorf("pgup selected %s", m.cur.id)
	}
	if s := plain(m); !strings.Contains(s, fmt.Sprintf("1/%d", 100)) {
		t.Errorf("position missing:\n%s", s)
	}
}

func TestEndedCallsStayForRetain(t *testing.T) {
	clk := newClock()
	m := newUnitModel(t, clk, 80, 24)
	a := alice.at(clk.Now().Add(-time.Minute))
	m.Update(events(clk.Now(), a, bob.at(clk.Now())))
	m.Update(ended(a, feed.ReasonOperator, clk.Now()))
	clk.Add(DefaultRetain - time.Second)
	m.Update(tickMsg(clk.Now()))
	s := plain(m)
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "ended operator") || !strings.Contains(s, "1 live · 1 ended") {
		t.Fatalf("ended call gone before Retain:\n%s", s)
	}
	// Its AGE is its duration, frozen at its end.
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "1m00s") {
		t.Errorf("ended call's age is not its duration:\n%s", s)
	}
	clk.Add(2 * time.Second)
	m.Update(tickMsg(clk.Now()))
	s = plain(m)
	if strings.Contains(s, "rtc_u1_ETYJ") || !strings.Contains(s, "1 live · 0 ended") {
		t.Errorf("ended call still shown after Retain:\n%s", s)
	}
}

func TestFeedErrorsShowAndRetry(t *testing.T) {
	clk := newClock()
	m := newUnitModel(t, clk, 80, 24)
	_, cmd := m.Update(eventsMsg{err: errors.New("watch: boom")})
	if cmd == nil {
		t.Fatal("no retry after a feed error")
	}
	if s := plain(m); !strings.Contains(s, "error: feed: watch: boom") {
		t.Errorf("feed error not shown:\n%s", s)
	}
	_, cmd = m.Update(retryMsg{})
	if cmd == nil {
		t.Fatal("retry did not re-arm the feed")
	}
	if _, cmd = m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd == nil {
		t.Fatal("q did not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q did not return tea.Quit")
	}
	if _, cmd = m.Update(eventsMsg{err: m.ctx.Err()}); cmd != nil {
		t.Error("the feed re-armed after quitting")
	}
}

func TestNilSourceDoesNotPanic(t *testing.T) {
	m := New(nil, Options{})
	if cmd := m.Init(); cmd == nil {
		t.Fatal("no init command")
	}
	msg := waitEvents(m.ctx, m.src)()
	m.Update(msg)
	if s := plain(m); !strings.Contains(s, "no event source") || !strings.Contains(s, "NATS down") {
		t.Errorf("nil source:\n%s", s)
	}
	m.Update(tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl})
	if s := plain(m); !strings.Contains(s, "no call selected") {
		t.Errorf("hang-up with no calls:\n%s", s)
	}
}

func TestStaleWarningWhenNATSIsDown(t *testing.T) {
	srv, err := feed.RunServer(feed.ServerOptions{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.Shutdown()
		}
	})
	nc, err := feed.Connect(srv.ClientURL(), "stale-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client, err := feed.NewClient(nc, "stale")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := client.Watch(ctx) // on its own server, removed with its store
	if err != nil {
		t.Fatal(err)
	}
	// Only the connection is closed: Watcher.Stop with the server gone can
	// block for seconds (reported to feed), and nothing reads w here.
	_ = w
	clk := newClock()
	m := New(struct {
		*feed.Watcher
		*feed.Client
	}{w, client}, Options{Now: clk.Now})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); !strings.Contains(s, "NATS connected") || strings.Contains(s, "stale") {
		t.Fatalf("connected header:\n%s", s)
	}
	srv.Shutdown()
	stopped = true
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.Update(tickMsg(clk.Now()))
		s := plain(m)
		if strings.Contains(s, "NATS reconnecting") && strings.Contains(s, "data may be stale") {
			for i, l := range strings.Split(s, "\n") {
				if lipgloss.Width(l) > 80 {
					t.Errorf("line %d wider than 80: %q", i, l)
				}
			}
			t.Logf("NATS down at 80×24:\n%s", s)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stale warning after NATS went away:\n%s", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTinyTerminalsDoNotPanic(t *testing.T) {
	clk := newClock()
	m := newUnitModel(t, clk, 80, 24)
	m.Update(events(clk.Now(), alice.at(clk.Now()), bob.at(clk.Now())))
	for _, size := range [][2]int{{1, 1}, {2, 2}, {10, 3}, {20, 5}, {44, 8}, {0, 0}} {
		for _, keys := range [][]tea.KeyPressMsg{nil, {{Code: '?', Text: "?"}}, {{Code: 'x', Text: "x"}}} {
			m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			for _, k := range keys {
				m.Update(k)
			}
			s := plain(m)
			w, h := max(size[0], 1), max(size[1], 1)
			if size[0] == 0 {
				w, h = defaultWidth, defaultHeight
			}
			if n := len(strings.Split(s, "\n")); n > h {
				t.Errorf("%v: %d lines", size, n)
			}
			for _, l := range strings.Split(s, "\n") {
				if lipgloss.Width(l) > w {
					t.Errorf("%v: line wider than %d: %q", size, w, l)
				}
			}
			m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
		}
	}
}
