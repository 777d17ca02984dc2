package tui

import (
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
// deliver, on a memSource whose feed command is never run: the batches
// are exactly what the test says.

func newUnitModel(t *testing.T, clk *clock, w, h int, opts ...func(*Options)) (*Model, *memSource) {
	t.Helper()
	src := newMemSource()
	o := Options{Now: clk.Now, Operator: "me@here"}
	for _, f := range opts {
		f(&o)
	}
	m := New(src, o)
	t.Cleanup(m.cancel)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(tea.EnvMsg{"TERM=xterm-256color"})
	return m, src
}

// callEvents are the started/session/usage events of a call, as its agent
// publishes them.
func callEvents(c call) []feed.Event {
	return []feed.Event{
		{V: feed.Version, Kind: feed.KindStarted, CallID: c.id, Seq: 1, At: c.started, Agent: c.agent,
			Start: &feed.Start{User: c.user, StartedAt: c.started, API: c.api}, Policy: c.policy},
		{V: feed.Version, Kind: feed.KindSession, CallID: c.id, Seq: 2, At: c.started, Agent: c.agent,
			Session: &feed.Session{SessionID: "sess_" + c.id[4:], Model: c.model, ExpiresAt: c.started.Add(time.Hour)}},
		{V: feed.Version, Kind: feed.KindUsage, CallID: c.id, Seq: 3, At: c.started, Agent: c.agent, Usage: c.usage()},
	}
}

// events is one batch with the events of calls.
func events(now time.Time, calls ...call) eventsMsg {
	var evs []feed.Event
	for _, c := range calls {
		evs = append(evs, callEvents(c)...)
	}
	return eventsMsg{events: evs}
}

func endedEvent(c call, reason feed.Reason, by, detail string, at time.Time) feed.Event {
	return feed.Event{V: feed.Version, Kind: feed.KindEnded, CallID: c.id, Seq: 10, At: at, Agent: c.agent,
		Usage: c.usage(), End: &feed.End{Reason: reason, By: by, Detail: detail, EndedAt: at}}
}

func ended(c call, reason feed.Reason, at time.Time) eventsMsg {
	return eventsMsg{events: []feed.Event{endedEvent(c, reason, "", "", at)}}
}

func usageAt(c call, seq uint64, at time.Time) feed.Event {
	return feed.Event{V: feed.Version, Kind: feed.KindUsage, CallID: c.id, Seq: seq, At: at, Agent: c.agent, Usage: c.usage()}
}

func beat(agent string, at time.Time, calls int) feed.Event {
	return feed.Event{V: feed.Version, Kind: feed.KindHeartbeat, At: at, Agent: agent,
		Heartbeat: &feed.Heartbeat{Calls: calls, StartedAt: at.Add(-time.Hour), Version: "v1"}}
}

func keyMsg(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+k":
		return tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// press sends keys; a letter string of several runes is typed rune by
// rune unless it names a key.
func press(m *Model, keys ...string) tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// run executes commands the way the program would, feeding terminate
// answers back into the model (the feed command is never run here).
func run(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			run(m, c)
		}
	case terminateDoneMsg:
		m.Update(msg)
	}
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

// squash collapses runs of spaces, so tests can name cells without
// counting the padding.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestNoColorKeepsMarksInText(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 100, 50) // the dialog covers the middle rows
	b := bob.at(clk.Now())
	m.Update(events(clk.Now(), alice.at(clk.Now().Add(-time.Minute)), b))
	m.Update(eventsMsg{events: []feed.Event{{V: feed.Version, Kind: feed.KindFlag, CallID: b.id, Seq: 4, At: clk.Now(),
		Flag: &feed.Flag{Kind: feed.FlagBurnRate}}}})
	m.Update(ended(alice, feed.ReasonOperator, clk.Now()))
	press(m, "x")

	colour := m.View().Content
	if !hasColour(colour) {
		t.Fatalf("no colour without NO_COLOR:\n%q", colour)
	}
	if !sgrParams(lineWith(colour, "rtc_u1_ET"))["2"] {
		t.Errorf("ended row not dimmed: %q", lineWith(colour, "rtc_u1_ET"))
	}

	m.Update(tea.EnvMsg{"TERM=xterm-256color", "NO_COLOR=yes"})
	mono := m.View().Content
	if hasColour(mono) {
		t.Errorf("colour under NO_COLOR:\n%q", mono)
	}
	s := ansi.Strip(mono)
	if !strings.HasPrefix(rowOf(s, "rtc_u0_E6mH"), "> ") {
		t.Errorf("selection not marked by text:\n%s", s)
	}
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "ended operator") {
		t.Errorf("ended call not marked by text:\n%s", s)
	}
	if !strings.Contains(rowOf(s, "rtc_u0_E6mH"), "!BURN") {
		t.Errorf("flag not marked by text:\n%s", s)
	}
	if !strings.Contains(s, "rtc_u0_E6mH7YwmYXwYY0iVKLojm") || !strings.Contains(s, "> Cancel") {
		t.Errorf("dialog missing:\n%s", s)
	}

	m.Update(tea.EnvMsg{"NO_COLOR="}) // empty means unset
	if !hasColour(m.View().Content) {
		t.Error("empty NO_COLOR turned colour off")
	}
}

func TestHelpIsGeneratedFromTheKeyMap(t *testing.T) {
	clk := newClock()
	km, err := ParseKeyMap([]byte("hangup = ctrl+k, K\nsort_cost = $\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newUnitModel(t, clk, 80, 24, func(o *Options) { o.Keys = &km })
	if s := plain(m); !strings.Contains(s, "ctrl+k/K hang up") || !strings.Contains(s, "$/R/A/T/U/S sort") {
		t.Fatalf("short help does not follow the key map:\n%s", s)
	}
	press(m, "?")
	s := plain(m)
	for _, want := range []string{"page down", "ctrl+k K", "$  sort by cost", "Hang up: ", "quit"} {
		if !strings.Contains(s, want) {
			t.Errorf("full help lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "ctrl+b") {
		t.Errorf("help lists ctrl+b:\n%s", s)
	}
	if n := len(strings.Split(s, "\n")); n > 24 {
		t.Errorf("%d lines with help on 24", n)
	}
	press(m, "esc")
	if strings.Contains(plain(m), "page down") {
		t.Error("esc did not close the help")
	}
	press(m, "?", "?")
	if strings.Contains(plain(m), "page down") {
		t.Error("? did not toggle the help off")
	}
	// The rebound key works, the replaced default does not.
	m.Update(events(clk.Now(), alice.at(clk.Now())))
	press(m, "x")
	if m.confirm != nil {
		t.Error("x still hangs up after hangup was rebound")
	}
	press(m, "K")
	if m.confirm == nil {
		t.Error("K does not hang up")
	}
}

func TestOnlyVisibleRowsRenderAndKeysScroll(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 80, 24)
	var calls []call
	for i := range 100 {
		calls = append(calls, call{id: fmt.Sprintf("rtc_%03d", i), user: fmt.Sprintf("u%03d", i),
			started: clk.Now().Add(-time.Duration(i) * time.Second)})
	}
	m.Update(events(clk.Now(), calls...))
	h := m.bodyHeight()
	count := func() int { return strings.Count(plain(m), "rtc_") }
	if got := count(); got != h {
		t.Fatalf("%d rows rendered, want %d (the table height)", got, h)
	}
	if !strings.HasPrefix(rowOf(plain(m), "rtc_000"), ">") {
		t.Fatalf("newest call not selected first:\n%s", plain(m))
	}
	press(m, "G")
	if s := plain(m); !strings.HasPrefix(rowOf(s, "rtc_099"), ">") || strings.Contains(s, "rtc_000") || count() != h {
		t.Errorf("after G:\n%s", s)
	}
	press(m, "g")
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgDown})
	if id := fmt.Sprintf("rtc_%03d", h); m.cur.id != id {
		t.Errorf("pgdown selected %s, want %s", m.cur.id, id)
	}
	press(m, "k", "up", "j")
	if id := fmt.Sprintf("rtc_%03d", h-1); m.cur.id != id {
		t.Errorf("k, up, j selected %s, want %s", m.cur.id, id)
	}
	m.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	if m.cur.id != "rtc_000" {
		t.Errorf("ctrl+u selected %s", m.cur.id)
	}
	if s := plain(m); !strings.Contains(s, "1/100") || !strings.Contains(s, "100/100 shown") {
		t.Errorf("position missing:\n%s", s)
	}
}

func TestSelectionStaysOnTopUntilChosen(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 80, 24)
	m.Update(events(clk.Now(), alice.at(clk.Now().Add(-time.Minute))))
	m.Update(events(clk.Now(), bob.at(clk.Now())))
	if m.cur.id != bob.id {
		t.Fatalf("selected %s before any key, want the top row (bob)", m.cur.id)
	}
	press(m, "j") // alice
	m.Update(events(clk.Now(), carol.at(clk.Now().Add(time.Second))))
	if m.cur.id != alice.id {
		t.Fatalf("selection left alice when carol arrived: %s", m.cur.id)
	}
}

func TestSortKeysReorderAndKeepSelection(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 128, 30)
	m.Update(events(clk.Now(), alice.at(clk.Now().Add(-3*time.Minute)), bob.at(clk.Now().Add(-2*time.Minute)),
		carol.at(clk.Now().Add(-time.Minute))))
	press(m, "j") // bob
	press(m, "C")
	s := plain(m)
	if !(strings.Index(s, bob.id) < strings.Index(s, alice.id) && strings.Index(s, alice.id) < strings.Index(s, carol.id)) {
		t.Errorf("C does not sort by cost, largest first (unknown last):\n%s", s)
	}
	if !strings.Contains(s, "COST↓") || !strings.Contains(s, "sort cost↓") || m.cur.id != bob.id {
		t.Errorf("sort not shown or selection lost (%s):\n%s", m.cur.id, s)
	}
	press(m, "C")
	if s := plain(m); strings.Index(s, alice.id) > strings.Index(s, bob.id) || !strings.Contains(s, "COST↑") {
		t.Errorf("C again does not reverse:\n%s", s)
	}
	press(m, "U")
	if s := plain(m); strings.Index(s, alice.id) > strings.Index(s, bob.id) || strings.Index(s, bob.id) > strings.Index(s, carol.id) {
		t.Errorf("U does not sort by user:\n%s", s)
	}
}

func TestFilterKeys(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 128, 30)
	m.Update(events(clk.Now(), alice.at(clk.Now()), bob.at(clk.Now()), carol.at(clk.Now())))
	press(m, "/")
	typeText(m, "mini")
	s := plain(m)
	if !strings.Contains(s, "/mini") || !strings.Contains(s, "1/3 shown") || strings.Contains(s, alice.id) {
		t.Fatalf("typing a filter does not narrow the table:\n%s", s)
	}
	press(m, "enter")
	typeText(m, "x") // keys act again: x opens the dialog on the shown call
	if m.confirm == nil || m.confirm.ids[0] != bob.id {
		t.Fatalf("hang-up after filtering: %+v", m.confirm)
	}
	press(m, "esc")
	press(m, "/")
	for range 4 {
		press(m, "backspace")
	}
	typeText(m, "!alice")
	if s := plain(m); !strings.Contains(s, "2/3 shown") || strings.Contains(s, alice.id) {
		t.Errorf("negated filter:\n%s", s)
	}
	press(m, "esc") // undo the edit: back to "mini"
	if s := plain(m); !strings.Contains(s, "1/3 shown") || !strings.Contains(s, "filter mini") {
		t.Errorf("esc did not restore the previous filter:\n%s", s)
	}
	press(m, "/")
	for range 4 {
		press(m, "backspace")
	}
	typeText(m, "re:(")
	if s := plain(m); !strings.Contains(s, "missing closing )") || !strings.Contains(s, "3/3 shown") {
		t.Errorf("a bad regexp should say so and keep the last valid filter (none):\n%s", s)
	}
	press(m, "enter") // refused while invalid
	if m.filterEdit == nil {
		t.Error("enter accepted an invalid filter")
	}
	press(m, "backspace")
	typeText(m, "^carol$")
	press(m, "enter")
	if s := plain(m); !strings.Contains(s, "1/3 shown") || !strings.Contains(s, carol.id) {
		t.Errorf("regexp filter:\n%s", s)
	}
	press(m, "esc") // clears the filter
	if s := plain(m); !strings.Contains(s, "3/3 shown") {
		t.Errorf("esc in the table did not clear the filter:\n%s", s)
	}
	press(m, "/")
	typeText(m, "nobody")
	if s := plain(m); !strings.Contains(s, `no call matches the filter "nobody"`) {
		t.Errorf("empty result not explained:\n%s", s)
	}
}

func TestHangUpDialog(t *testing.T) {
	clk := newClock()
	m, src := newUnitModel(t, clk, 120, 30)
	src.answer = func(feed.TerminateRequest) error { return nil }
	a := alice.at(clk.Now().Add(-time.Minute))
	m.Update(events(clk.Now(), a))

	// Enter right away is Cancel.
	press(m, "x")
	if m.confirm == nil || m.confirm.choice != 0 {
		t.Fatalf("dialog does not open on Cancel: %+v", m.confirm)
	}
	s := flat(plain(m))
	for _, want := range []string{"call " + a.id, "user alice@acme.io", "cost $0.42 so far, 1m00s, $0.42/min", "> Cancel: keep the call",
		"1 abusive or fraudulent caller", "5 other:"} {
		if !strings.Contains(s, want) {
			t.Errorf("dialog lacks %q:\n%s", want, plain(m))
		}
	}
	run(m, press(m, "enter"))
	if m.confirm != nil || len(src.requests()) != 0 || !strings.Contains(plain(m), "hang-up cancelled") {
		t.Fatalf("enter on Cancel: dialog %v, %d requests", m.confirm, len(src.requests()))
	}
	// Letters do nothing until "other" is chosen: x, x, enter never hangs up.
	press(m, "x")
	run(m, press(m, "x", "enter"))
	if len(src.requests()) != 0 {
		t.Fatalf("x, x, enter sent %v", src.requests())
	}
	// "other" needs a text.
	press(m, "x", "5")
	run(m, press(m, "enter"))
	if len(src.requests()) != 0 || !strings.Contains(plain(m), "type a reason") {
		t.Fatalf("empty free text accepted:\n%s", plain(m))
	}
	typeText(m, "caller asked for it")
	m.Update(tea.PasteMsg{Content: " (ticket 42)\n"})
	run(m, press(m, "enter"))
	reqs := src.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %+v", reqs)
	}
	want := feed.TerminateRequest{CallID: a.id, Operator: "me@here", Reason: "caller asked for it (ticket 42)"}
	if reqs[0] != want {
		t.Errorf("request = %+v, want %+v", reqs[0], want)
	}
	if !strings.Contains(rowOf(plain(m), "rtc_u1_ETYJ"), "hanging up") {
		t.Errorf("row not marked while the hang-up is in flight:\n%s", plain(m))
	}
	// A second x on the same call says it is in flight.
	press(m, "x")
	if m.confirm != nil || !strings.Contains(plain(m), "already sent") {
		t.Errorf("second hang-up:\n%s", plain(m))
	}
	// The ended event, as the agent publishes it, ends the row.
	m.Update(eventsMsg{events: []feed.Event{endedEvent(a, feed.ReasonOperator, "me@here", want.Reason, clk.Now())}})
	row := rowOf(plain(m), "rtc_u1_ETYJ")
	if !strings.Contains(row, "ended operator") || !strings.Contains(row, "caller asked") {
		t.Errorf("ended row:\n%s", plain(m))
	}
	// Presets by digit.
	b := bob.at(clk.Now())
	m.Update(events(clk.Now(), b))
	press(m, "g", "x", "2")
	run(m, press(m, "enter"))
	if reqs := src.requests(); len(reqs) != 2 || reqs[1].Reason != "runaway cost" || reqs[1].CallID != b.id {
		t.Errorf("preset: %+v", reqs)
	}
}

func TestHangUpCapturesTheCallAtKeyPress(t *testing.T) {
	clk := newClock()
	m, src := newUnitModel(t, clk, 80, 24)
	src.answer = func(feed.TerminateRequest) error { return nil }
	m.Update(events(clk.Now(), alice.at(clk.Now().Add(-time.Minute)), bob.at(clk.Now().Add(-2*time.Minute))))
	press(m, "x") // alice, the top row
	// Calls arrive above alice and bob gets dearer while the dialog is open.
	m.Update(events(clk.Now(), carol.at(clk.Now())))
	press(m, "1")
	run(m, press(m, "enter"))
	if reqs := src.requests(); len(reqs) != 1 || reqs[0].CallID != alice.id {
		t.Fatalf("requests = %+v, want alice", reqs)
	}
}

func TestReadOnlyRefusesHangUp(t *testing.T) {
	clk := newClock()
	m, src := newUnitModel(t, clk, 80, 24, func(o *Options) { o.ReadOnly = true })
	src.answer = func(feed.TerminateRequest) error { return nil }
	m.Update(events(clk.Now(), alice.at(clk.Now())))
	press(m, "x")
	s := plain(m)
	if m.confirm != nil || !strings.Contains(s, "read-only") || !strings.Contains(s, "READ-ONLY") {
		t.Fatalf("read-only dashboard opened a dialog:\n%s", s)
	}
	if strings.Contains(s, "hang up") {
		t.Errorf("read-only help offers hang up:\n%s", s)
	}
	press(m, "ctrl+k", "u")
	if m.confirm != nil {
		t.Fatal("read-only dashboard opened a dialog from the users view")
	}
	// Even if asked directly, nothing leaves: the model refuses, and so
	// does the source it wraps.
	run(m, m.hangUp([]string{alice.id}, "test"))
	if n := len(src.requests()); n != 0 {
		t.Fatalf("read-only dashboard sent %d terminates", n)
	}
	if _, err := ReadOnlySource(src).Terminate(t.Context(), feed.TerminateRequest{CallID: alice.id}); !errors.Is(err, errReadOnly) {
		t.Errorf("ReadOnlySource.Terminate = %v", err)
	}
}

func TestUsersViewAndHangUpAll(t *testing.T) {
	clk := newClock()
	m, src := newUnitModel(t, clk, 120, 30)
	src.answer = func(feed.TerminateRequest) error { return nil }
	credits := 5.0
	a1 := alice.at(clk.Now().Add(-10 * time.Minute))
	a1.policy = &feed.EffectivePolicy{CreditsUSD: &credits}
	a2 := call{id: "rtc_u1_alice2", user: alice.user, model: "gpt-realtime", started: clk.Now().Add(-time.Minute), cost: 0.5, in: 10, out: 10}
	m.Update(events(clk.Now(), a1, a2, bob.at(clk.Now().Add(-time.Minute))))
	// Alice spends $1 more now.
	a1.cost += 1
	m.Update(eventsMsg{events: []feed.Event{usageAt(a1, 5, clk.Now())}})
	m.Update(eventsMsg{events: []feed.Event{{V: feed.Version, Kind: feed.KindRefused, User: alice.user, At: clk.Now(),
		Refusal: &feed.Refusal{Mode: "relay", Status: 402, Reason: "credits"}}}})

	press(m, "u")
	s := plain(m)
	row := rowOf(s, "alice@acme.io")
	// 5 min: $1 now + half of a1's first $0.42 (spread over its 10
	// minutes) + a2's $0.50 (1 minute old); 60 min: everything.
	for _, want := range []string{" 2 ", "$1.71", "$1.92", "≈$3.08", "refused×1"} {
		if !strings.Contains(row, want) {
			t.Errorf("alice's row lacks %q: %q", want, row)
		}
	}
	if !strings.HasPrefix(rowOf(s, "bob@"), "> ") {
		t.Errorf("busiest user (bob: $3.50 in his one minute) not first and selected:\n%s", s)
	}
	press(m, "j", "x")
	if fs := flat(plain(m)); !strings.Contains(fs, "2 live calls") || !strings.Contains(fs, "$1.92 so far") {
		t.Fatalf("user dialog:\n%s", plain(m))
	}
	press(m, "3")
	run(m, press(m, "enter"))
	reqs := src.requests()
	if len(reqs) != 2 || reqs[0].Reason != "out of credits" {
		t.Fatalf("requests = %+v", reqs)
	}
	got := map[string]bool{reqs[0].CallID: true, reqs[1].CallID: true}
	if !got[a1.id] || !got[a2.id] {
		t.Errorf("hung up %v, want alice's two calls", got)
	}
	// enter on a user shows their calls.
	press(m, "enter")
	if s := plain(m); !strings.Contains(s, "2/3 shown") || strings.Contains(s, bob.id) {
		t.Errorf("enter on a user:\n%s", s)
	}
}

func TestCreditLeft(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	five := 5.0
	base := &feed.Call{ID: "b", State: feed.StateLive, StartedAt: t0.Add(5 * time.Minute),
		Policy: &feed.EffectivePolicy{CreditsUSD: &five}, Usage: feed.Usage{CostUSD: 1}}
	other := &feed.Call{ID: "o", State: feed.StateLive, StartedAt: t0, Usage: feed.Usage{CostUSD: 2}}
	left, approx := creditLeft([]*feed.Call{base, other}, now)
	// 5 - 1 (base) - half of other's 2 (it ran 10 minutes, 5 after base began).
	if left == nil || *left != 3 || !approx {
		t.Errorf("credit left = %v %v, want 3, approximate", left, approx)
	}
	if left, _ := creditLeft([]*feed.Call{other}, now); left != nil {
		t.Errorf("credit without a policy = %v", *left)
	}
}

func TestAgentsViewAndSilentCalls(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 120, 30)
	a, b := alice.at(clk.Now()), bob.at(clk.Now())
	a.agent, b.agent = "api-1", "api-2"
	m.Update(eventsMsg{events: append(append(callEvents(a), callEvents(b)...),
		beat("api-1", clk.Now(), 1), beat("api-2", clk.Now().Add(-time.Minute), 1))})
	s := plain(m)
	if !strings.Contains(rowOf(s, "rtc_u0_E6mH"), "agent silent") || strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "silent") {
		t.Errorf("calls of the silent agent not marked:\n%s", s)
	}
	if !strings.Contains(s, "agents 1/2 · 1 SILENT") {
		t.Errorf("header does not count silent agents:\n%s", s)
	}
	press(m, "a")
	s = plain(m)
	if !strings.Contains(rowOf(s, "api-2"), "SILENT") || !strings.Contains(rowOf(s, "api-1"), "online") {
		t.Errorf("agents view:\n%s", s)
	}
	if !strings.Contains(rowOf(s, "api-2"), "1m00s ago") {
		t.Errorf("last beat not shown:\n%s", s)
	}
	press(m, "j", "enter") // api-2's calls
	if s := plain(m); !strings.Contains(s, "1/2 shown") || !strings.Contains(s, bob.id) {
		t.Errorf("enter on an agent:\n%s", s)
	}
}

func TestDetailView(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 160, 48)
	c := richCall(clk.Now())
	m.Update(eventsMsg{events: richEvents(c, clk.Now())})
	press(m, "enter")
	s := squash(plain(m))
	for _, want := range []string{
		"Call " + c.id, "user alice@acme.io · model gpt-realtime · agent api-1",
		"text        900       100       260", // uncached = input − cached
		"audio     1,100       300       830",
		"transcription 310 tokens · 12.5 s",
		"responses 7: cancelled 1 · completed 6",
		"user speech 21s · agent speech 30s",
		"60-min cap in 58m00s",
		"cost       $1.20     $2.50     $1.30  in 2m10s",
		"credits    $1.20     $1.75     $0.55  in 55s ← first",
		"cut off in 55s by credits at $0.60/min",
		"!BURN burn_rate: $1.92/min above $1.50/min", "threshold = 1.50",
		"cost 85% ($2.12 of $2.50)",
		"Last events", "usage +$0.70 +2,100 tok",
	} {
		if !strings.Contains(s, squash(want)) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	// It follows the call live, and esc goes back.
	m.Update(eventsMsg{events: []feed.Event{endedEvent(c, feed.ReasonPolicy, "", "policy:credits", clk.Now())}})
	if s := plain(m); !strings.Contains(s, "ended policy") || !strings.Contains(s, "policy:credits") {
		t.Errorf("detail does not follow the end:\n%s", s)
	}
	press(m, "esc")
	if m.view != viewCalls {
		t.Errorf("esc left the detail for view %d", m.view)
	}
	// At 80×24 it scrolls and says there is more.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "enter")
	if s := plain(m); !strings.Contains(s, "more lines") {
		t.Errorf("80×24 detail does not say it scrolls:\n%s", s)
	}
	press(m, "G")
	if s := plain(m); !strings.Contains(s, "Last events") || strings.Contains(s, "more lines") {
		t.Errorf("scrolled to the end:\n%s", s)
	}
}

// richCall is a call with everything the detail view shows.
func richCall(now time.Time) call {
	credits := 1.75
	return call{id: "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn", user: "alice@acme.io", model: "gpt-realtime", agent: "api-1",
		started: now.Add(-2 * time.Minute), cost: 1.2,
		policy: &feed.EffectivePolicy{MaxCostUSD: 2.5, CreditsUSD: &credits, MaxTokens: 200000, MaxSeconds: 600, WarnAt: 0.8},
		full: &feed.Usage{
			Tokens: feed.Tokens{Total: 3500, Input: 2410, Output: 1090, InputText: 1000, InputAudio: 1400, InputImage: 10,
				InputCached: 400, CachedText: 100, CachedAudio: 300, OutputText: 260, OutputAudio: 830},
			Responses: 7, ByStatus: map[string]int{"completed": 6, "cancelled": 1},
			TranscriptionTokens: 310, TranscriptionSeconds: 12.5, Seconds: 120, UserSpeechSeconds: 21.3, AgentSpeechSeconds: 30.8,
			CostUSD: 1.2, Errors: 1},
	}
}

func richEvents(c call, now time.Time) []feed.Event {
	evs := callEvents(c)
	evs[1].Session.ExpiresAt = c.started.Add(time.Hour)
	first := *c.full
	first.Tokens = feed.Tokens{Total: 1400, Input: 1000, Output: 400}
	first.CostUSD = 0.5
	evs[2].Usage = &first
	return append(evs,
		feed.Event{V: feed.Version, Kind: feed.KindFlag, CallID: c.id, Seq: 4, At: now.Add(-30 * time.Second), Agent: c.agent,
			Flag: &feed.Flag{Kind: feed.FlagBurnRate, Message: "$1.92/min above $1.50/min", Evidence: map[string]string{"usd_per_min": "1.92", "threshold": "1.50"}}},
		feed.Event{V: feed.Version, Kind: feed.KindWarning, CallID: c.id, Seq: 5, At: now.Add(-20 * time.Second), Agent: c.agent,
			Warning: &feed.Warning{Limit: feed.LimitCost, Used: 2.12, Max: 2.5}},
		feed.Event{V: feed.Version, Kind: feed.KindUsage, CallID: c.id, Seq: 6, At: now, Agent: c.agent, Usage: c.full, Policy: c.policy},
	)
}

func TestEndedCallsStayForRetainThenInHistory(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 120, 24)
	a := alice.at(clk.Now().Add(-time.Minute))
	m.Update(events(clk.Now(), a, bob.at(clk.Now())))
	m.Update(eventsMsg{events: []feed.Event{endedEvent(a, feed.ReasonOperator, "maria@oncall-3", "abusive caller", clk.Now())}})
	clk.Add(DefaultRetain - time.Second)
	m.Update(tickMsg(clk.Now()))
	s := plain(m)
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "ended operator") || !strings.Contains(s, "1 live  1 ended") {
		t.Fatalf("ended call gone before Retain:\n%s", s)
	}
	// Its AGE is its duration, frozen at its end.
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "1m00s") {
		t.Errorf("ended call's age is not its duration:\n%s", s)
	}
	clk.Add(2 * time.Second)
	m.Update(tickMsg(clk.Now()))
	s = plain(m)
	if strings.Contains(s, "rtc_u1_ETYJ") || !strings.Contains(s, "1 live  0 ended") {
		t.Errorf("ended call still shown after Retain:\n%s", s)
	}
	press(m, "h")
	s = plain(m)
	row := rowOf(s, "rtc_u1_ETYJ")
	for _, want := range []string{"12:00:00", "operator", "abusive caller", "maria@oncall-3", "1m00s", "$0.42"} {
		if !strings.Contains(row, want) {
			t.Errorf("history row lacks %q: %q", want, row)
		}
	}
	press(m, "enter") // the detail of a call only the history still has
	if s := plain(m); !strings.Contains(s, "Call "+alice.id) || !strings.Contains(s, "abusive caller (maria@oncall-3)") {
		t.Errorf("detail from history:\n%s", s)
	}
	press(m, "esc")
	if m.view != viewHistory {
		t.Errorf("esc from a history detail went to view %d", m.view)
	}
}

func TestHistorySelectionStartsAtTheTop(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 120, 24)
	var calls []call
	for i := range 4 {
		c := call{id: fmt.Sprintf("rtc_%d", i), user: "u", started: clk.Now().Add(-time.Hour)}
		calls = append(calls, c)
		m.Update(events(clk.Now(), c))
	}
	for i, c := range calls {
		m.Update(ended(c, feed.ReasonHangup, clk.Now().Add(time.Duration(i)*time.Second)))
	}
	press(m, "h")
	if m.histCur.id != "rtc_3" {
		t.Fatalf("history selects %q, want the newest ending", m.histCur.id)
	}
	m.Update(ended(call{id: "rtc_9", user: "u", started: clk.Now()}, feed.ReasonHangup, clk.Now().Add(time.Minute)))
	if m.histCur.id != "rtc_3" {
		t.Errorf("history selection moved to %q when a call ended", m.histCur.id)
	}
}

func TestFeedErrorsShowAndRetry(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 80, 24)
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
	if cmd = press(m, "q"); cmd == nil {
		t.Fatal("q did not quit")
	}
	if msg := cmd(); !isQuit(msg) {
		t.Fatalf("q returned %T", msg)
	}
	if _, cmd = m.Update(eventsMsg{err: m.ctx.Err()}); cmd != nil {
		t.Error("the feed re-armed after quitting")
	}
}

func isQuit(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if c != nil && isQuit(c()) {
				return true
			}
		}
	}
	return false
}

func TestNilSourceDoesNotPanic(t *testing.T) {
	m := New(nil, Options{})
	if cmd := m.Init(); cmd == nil {
		t.Fatal("no init command")
	}
	msg := waitEvents(m.ctx, m.src, 0, time.Time{})()
	m.Update(msg)
	if s := plain(m); !strings.Contains(s, "no event source") || !strings.Contains(s, "NATS down") {
		t.Errorf("nil source:\n%s", s)
	}
	press(m, "ctrl+k")
	if s := plain(m); !strings.Contains(s, "no call selected") {
		t.Errorf("hang-up with no calls:\n%s", s)
	}
}

func TestStaleWhenNATSIsDown(t *testing.T) {
	clk := newClock()
	m, src := newUnitModel(t, clk, 80, 24)
	a := alice.at(clk.Now())
	a.agent = "api-1"
	m.Update(eventsMsg{events: append(callEvents(a), beat("api-1", clk.Now(), 1))})
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); !strings.Contains(s, "NATS connected") || strings.Contains(s, "STALE") {
		t.Fatalf("connected header:\n%s", s)
	}
	src.setState(feed.ConnReconnecting)
	clk.Add(12 * time.Second)
	m.Update(tickMsg(clk.Now()))
	clk.Add(5 * time.Second)
	m.Update(tickMsg(clk.Now()))
	s := plain(m)
	for _, want := range []string{"NATS reconnecting · STALE 5s", "NATS reconnecting: showing the last known state, last event 17s ago", "rtc_u1_ETYJ"} {
		if !strings.Contains(s, want) {
			t.Errorf("stale screen lacks %q:\n%s", want, s)
		}
	}
	for i, l := range strings.Split(s, "\n") {
		if lipgloss.Width(l) > 80 {
			t.Errorf("line %d wider than 80: %q", i, l)
		}
	}
	// Heartbeats it cannot hear say nothing about the agent: 17 s without
	// one, but deaf for 5 of them, is not silent.
	if strings.Contains(s, "SILENT") || strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "agent silent") {
		t.Errorf("a stale dashboard calls the agent silent:\n%s", s)
	}
	src.setState(feed.ConnDown)
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); !strings.Contains(s, "NATS down · STALE 0s") {
		t.Errorf("down:\n%s", s)
	}
	src.setState(feed.ConnConnected)
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); !strings.Contains(s, "NATS connected") || strings.Contains(s, "STALE") || strings.Contains(s, "last known state") {
		t.Errorf("reconnected, still stale:\n%s", s)
	}
	// Reading again and still no heartbeat: now it is silent.
	if s := plain(m); !strings.Contains(s, "1 SILENT") || !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "agent silent") {
		t.Errorf("reconnected, the agent's silence not shown:\n%s", s)
	}
}

// TestStaleWhileConnected: the connection is up but the Source cannot
// read (the stream is unreachable, NATS came back without it): the header
// says STALE, since when and why, and clears when reading works again.
func TestStaleWhileConnected(t *testing.T) {
	clk := newClock()
	m, src := newUnitModel(t, clk, 120, 24)
	m.Update(events(clk.Now(), alice.at(clk.Now())))
	src.setStale(time.Now().Add(-4*time.Second), "stream: context deadline exceeded\x1b[2J")
	m.Update(tickMsg(clk.Now()))
	s := plain(m)
	for _, want := range []string{"NATS connected · STALE 4s",
		"showing the last known state, last event 0s ago; cannot read: stream: context deadline exceeded?[2J"} {
		if !strings.Contains(s, want) {
			t.Errorf("stale screen lacks %q:\n%s", want, s)
		}
	}
	if lineWith(m.View().Content, "STALE") == "" || !sgrParams(lineWith(m.View().Content, "STALE"))["33"] {
		t.Errorf("STALE not in the warning colour: %q", lineWith(m.View().Content, "STALE"))
	}
	clk.Add(8 * time.Second)
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); !strings.Contains(s, "NATS connected · STALE 12s") || !strings.Contains(s, "last event 8s ago") {
		t.Errorf("stale spell does not age with the clock:\n%s", s)
	}
	// NATS then drops too: one STALE, since the earlier of the two.
	src.setState(feed.ConnReconnecting)
	clk.Add(time.Second)
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); !strings.Contains(s, "NATS reconnecting · STALE 13s") || strings.Count(s, "STALE") != 1 {
		t.Errorf("stale and reconnecting:\n%s", s)
	}
	src.setState(feed.ConnConnected)
	src.setStale(time.Time{}, "")
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); strings.Contains(s, "STALE") || strings.Contains(s, "last known state") || !strings.Contains(s, "NATS connected") {
		t.Errorf("reading again, still stale:\n%s", s)
	}
	// A read-only dashboard's wrapper passes it through.
	src.setStale(time.Now(), "consumer: gone")
	if _, reason, ok := ReadOnlySource(src).(staler).Stale(); !ok || reason != "consumer: gone" {
		t.Errorf("read-only source hides Stale: %q %v", reason, ok)
	}
}

func TestTinyTerminalsDoNotPanic(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 80, 24)
	m.Update(eventsMsg{events: richEvents(richCall(clk.Now()), clk.Now())})
	m.Update(events(clk.Now(), bob.at(clk.Now())))
	for _, size := range [][2]int{{1, 1}, {2, 2}, {10, 3}, {20, 5}, {44, 8}, {0, 0}, {80, 24}, {300, 100}} {
		for _, keys := range [][]string{nil, {"?"}, {"x"}, {"enter"}, {"u"}, {"h"}, {"a"}, {"/", "z"}, {"u", "x"}} {
			m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			press(m, keys...)
			s := plain(m)
			w, h := max(size[0], 1), max(size[1], 1)
			if size[0] == 0 {
				w, h = defaultWidth, defaultHeight
			}
			if n := len(strings.Split(s, "\n")); n > h {
				t.Errorf("%v %v: %d lines", size, keys, n)
			}
			for _, l := range strings.Split(s, "\n") {
				if lipgloss.Width(l) > w {
					t.Errorf("%v %v: line wider than %d: %q", size, keys, w, l)
				}
			}
			press(m, "esc")
			press(m, "esc")
			press(m, "c")
		}
	}
}

func TestReplayedOldEndingsGoStraightToHistory(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 120, 30)
	old := call{id: "rtc_old", user: "u", started: clk.Now().Add(-3 * time.Hour)}
	m.Update(eventsMsg{events: append(callEvents(old), endedEvent(old, feed.ReasonHangup, "", "", clk.Now().Add(-2*time.Hour))),
		replaying: true})
	if s := plain(m); strings.Contains(s, "rtc_old") || !strings.Contains(s, "0/0 shown") {
		t.Errorf("a call that ended 2 h ago is in the table:\n%s", s)
	}
	press(m, "h")
	if s := plain(m); !strings.Contains(s, "rtc_old") {
		t.Errorf("nor in the history:\n%s", s)
	}
}

// TestAppHangUpShowsLikeAnyOther: a call the app hung up by ID (the
// sidecar's POST /v1/calls/{id}/hangup) reads ended app, with the app's
// reason and token name, in the table and in the History view.
func TestAppHangUpShowsLikeAnyOther(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 160, 30)
	a := alice.at(clk.Now().Add(-time.Minute))
	m.Update(events(clk.Now(), a))
	m.Update(eventsMsg{events: []feed.Event{endedEvent(a, feed.ReasonApp, "billing", "out of minutes", clk.Now())}})
	row := squash(lineWith(plain(m), "rtc_u1_ET"))
	if !strings.Contains(row, "ended app") || !strings.Contains(row, "out of minutes (billing)") {
		t.Fatalf("table row: %q", row)
	}
	press(m, "h")
	hist := squash(lineWith(plain(m), "out of minutes"))
	if !strings.Contains(hist, "app") || !strings.Contains(hist, "billing") {
		t.Fatalf("history row: %q", hist)
	}
}
