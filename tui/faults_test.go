package tui

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// These tests are about the faults the dashboard must tell the truth
// about: detached calls, agents that went silent or left, credits that
// cannot be read, and text from outside that would attack the terminal.

func sidebandEvent(c call, seq uint64, state string, since time.Time, detail string) feed.Event {
	return feed.Event{V: feed.Version, Kind: feed.KindSideband, CallID: c.id, Seq: seq, At: since, Agent: c.agent,
		Sideband: &feed.Sideband{State: state, Since: since, Detail: detail}}
}

// agentBeat is a heartbeat with the fleet's fields.
func agentBeat(agent string, at time.Time, calls, detached, outbox int, creditsDown time.Time) feed.Event {
	e := beat(agent, at, calls)
	e.Heartbeat.Detached, e.Heartbeat.Outbox, e.Heartbeat.Instance = detached, outbox, agent+"-i1"
	if !creditsDown.IsZero() {
		e.Heartbeat.CreditsUnavailableSince = &creditsDown
	}
	return e
}

func goodbye(agent string, at time.Time, calls int, handoff bool) feed.Event {
	return feed.Event{V: feed.Version, Kind: feed.KindGoodbye, At: at, Agent: agent,
		Goodbye: &feed.Goodbye{Instance: agent + "-i1", Calls: calls, Handoff: handoff}}
}

func TestDetachedCalls(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	m, src := newUnitModel(t, clk, 160, 40)
	src.answer = func(feed.TerminateRequest) error { return nil }
	a, b := alice.at(now.Add(-3*time.Minute)), bob.at(now.Add(-2*time.Minute))
	c := carol.at(now.Add(-time.Minute))
	a.agent, b.agent, c.agent = "api-1", "api-1", "api-2"
	b.full = &feed.Usage{Tokens: feed.Tokens{Total: 100, Input: 60, Output: 40}, CostUSD: 3.5, Seconds: 60, Gaps: 2, GapSeconds: 45}
	m.Update(eventsMsg{events: append(append(append(callEvents(a), callEvents(b)...), callEvents(c)...),
		beat("api-1", now, 2), beat("api-2", now.Add(-time.Minute), 1),
		sidebandEvent(b, 4, feed.SidebandDetached, now.Add(-12*time.Second), "attach "+b.id+": HTTP 503\x1b[2J"))})

	s := plain(m)
	if row := rowOf(s, "rtc_u0_E6mH"); !strings.Contains(row, "detached 12s") {
		t.Errorf("detached call's STATE:\n%s", s)
	}
	if !strings.Contains(s, "3 live  1 detached  0 ended") {
		t.Errorf("header does not count the detached call:\n%s", s)
	}
	if line := lineWith(m.View().Content, "detached 12s"); !sgrParams(line)["33"] {
		t.Errorf("detached not in the warning colour: %q", line)
	}
	clk.Add(5 * time.Second)
	m.Update(tickMsg(clk.Now()))
	if row := rowOf(plain(m), "rtc_u0_E6mH"); !strings.Contains(row, "detached 17s") {
		t.Errorf("detached age does not follow the clock: %q", row)
	}

	// Sort by state: the silent agent's call, then the detached one,
	// then the plain live one.
	press(m, "S")
	s = plain(m)
	if i, j, k := strings.Index(s, c.id), strings.Index(s, b.id), strings.Index(s, a.id); !(i < j && j < k) {
		t.Errorf("sort by state is not agent silent, detached, live:\n%s", s)
	}
	press(m, "/")
	typeText(m, "detached")
	press(m, "enter")
	if s := plain(m); !strings.Contains(s, "1/3 shown") || !strings.Contains(s, b.id) {
		t.Errorf("filter detached:\n%s", s)
	}

	// The detail says since when, why, and what the gaps cost.
	press(m, "enter")
	s = squash(plain(m))
	for _, want := range []string{
		"Call " + b.id + " detached 17s",
		"sideband detached since 11:59:48 (17s): attach " + b.id + ": HTTP 503?[2J",
		"still live at OpenAI: timed by the clock, limits enforced, hang-up works",
		"gaps 2 · 45s unread: what OpenAI billed then is not in these totals",
		"sideband detached: attach " + b.id,
	} {
		if !strings.Contains(s, squash(want)) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}

	// Hanging it up works as for any live call: from the detail, the
	// table and the users view.
	run(m, press(m, "x", "1", "enter"))
	if reqs := src.requests(); len(reqs) != 1 || reqs[0].CallID != b.id {
		t.Fatalf("hang-up from the detail: %+v", src.requests())
	}
	delete(m.pending, b.id) // as if the request failed: try the other ways
	press(m, "esc", "esc")
	m.cur.id, m.chosen = b.id, true
	if s := flat(plain(press2(m, "x"))); !strings.Contains(s, "state detached 17s") {
		t.Errorf("the dialog does not say the call is detached:\n%s", plain(m))
	}
	run(m, press(m, "1", "enter"))
	delete(m.pending, b.id)
	press(m, "u")
	m.userCur.id = b.user
	run(m, press(m, "x", "1", "enter"))
	reqs := src.requests()
	if len(reqs) != 3 || reqs[1].CallID != b.id || reqs[2].CallID != b.id {
		t.Errorf("hang-ups of the detached call = %+v, want three", reqs)
	}

	// Attached again: live, and the header stops counting it.
	press(m, "c")
	m.Update(eventsMsg{events: []feed.Event{sidebandEvent(b, 5, feed.SidebandAttached, clk.Now(), "")}})
	delete(m.pending, b.id)
	m.Update(tickMsg(clk.Now()))
	s = plain(m)
	if strings.Contains(s, "detached") || !strings.Contains(rowOf(s, "rtc_u0_E6mH"), "live") {
		t.Errorf("re-attached call:\n%s", s)
	}
}

// press2 presses keys and returns the model, for a chained look.
func press2(m *Model, keys ...string) *Model {
	press(m, keys...)
	return m
}

func TestAgentStatesAndCredits(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	m, _ := newUnitModel(t, clk, 160, 30)
	a, b, c := alice.at(now), bob.at(now), carol.at(now)
	a.agent, b.agent, c.agent = "api-1", "api-2", "api-3"
	evs := append(append(callEvents(a), callEvents(b)...), callEvents(c)...)
	evs = append(evs,
		agentBeat("api-1", now, 1, 2, 3, now.Add(-30*time.Second)),
		agentBeat("api-2", now.Add(-time.Minute), 1, 0, 0, time.Time{}),
		agentBeat("api-3", now.Add(-20*time.Second), 4, 1, 0, time.Time{}),
		goodbye("api-3", now.Add(-10*time.Second), 4, false),
		agentBeat("api-4", now.Add(-20*time.Second), 2, 0, 0, time.Time{}),
		goodbye("api-4", now.Add(-10*time.Second), 2, true),
	)
	m.Update(eventsMsg{events: evs})
	s := plain(m)
	for _, want := range []string{
		"agents 1/4 · 1 SILENT · 2 left",
		"CREDITS UNREADABLE 30s (api-1): limits follow the credits_unavailable policy",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("header lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(rowOf(s, "rtc_u0_E6mH"), "agent silent") || !strings.Contains(rowOf(s, "rtc_u1_9c65"), "agent left") ||
		!strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "live") {
		t.Errorf("calls of agents gone:\n%s", s)
	}

	press(m, "a")
	s = squash(plain(m))
	for _, want := range []string{
		"api-1 online 1 1 2 3 UNREADABLE 30s",
		"api-2 SILENT 1 1 0 0 -",
		"api-3 LEFT: calls left detached 4 1 0 0 -",
		"api-4 LEFT: handed over 2 0 0 0 -",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("agents view lacks %q:\n%s", want, s)
		}
	}
	// The columns give way at 80, the state and credits stay.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if s := plain(m); !strings.Contains(rowOf(s, "api-1"), "UNREADABLE 30s") || !strings.Contains(rowOf(s, "api-3"), "LEFT: calls left detached") {
		t.Errorf("agents view at 80:\n%s", s)
	}

	// A second agent without credits: counted, not named. A silent one's
	// report is not counted: it is not running.
	m.Update(eventsMsg{events: []feed.Event{
		agentBeat("api-5", now, 0, 0, 0, now.Add(-10*time.Second)),
		agentBeat("api-2", now.Add(-50*time.Second), 1, 0, 0, now.Add(-50*time.Second)),
	}})
	if s := plain(m); !strings.Contains(s, "CREDITS UNREADABLE 30s (2 agents)") {
		t.Errorf("two agents without credits:\n%s", s)
	}
	// They read credits again: the warning goes.
	clk.Add(time.Second)
	m.Update(eventsMsg{events: []feed.Event{
		agentBeat("api-1", clk.Now(), 1, 0, 0, time.Time{}),
		agentBeat("api-5", clk.Now(), 0, 0, 0, time.Time{}),
	}})
	if s := plain(m); strings.Contains(s, "UNREADABLE") {
		t.Errorf("credits readable again, still warned:\n%s", s)
	}
}

// TestUntrustedTextNeverReachesTheTerminal renders every view with text
// from outside that would retitle the terminal (OSC), reverse a line
// (U+202E) or start an 8-bit CSI (a lone 0x9b byte), and checks the frame
// the terminal gets.
func TestUntrustedTextNeverReachesTheTerminal(t *testing.T) {
	const evil = "\x1b]0;pwn\x07mal\u202elory\x9b2J"
	clk := newClock()
	now := clk.Now()
	m, _ := newUnitModel(t, clk, 200, 50)
	c := call{id: "rtc_u1_evil", user: evil, model: "gpt\x9b" + "31m", agent: "api\u2066-1", started: now.Add(-time.Minute), cost: 0.2}
	b := call{id: "rtc_u1_plain", user: "bob", agent: "api\u2066-1", started: now.Add(-time.Minute)}
	evs := append(callEvents(c), callEvents(b)...)
	evs = append(evs,
		beat("api\u2066-1", now, 2),
		sidebandEvent(c, 4, feed.SidebandDetached, now.Add(-5*time.Second), evil),
		feed.Event{V: feed.Version, Kind: feed.KindFlag, CallID: c.id, Seq: 5, At: now, Agent: c.agent,
			Flag: &feed.Flag{Kind: "odd\x9b", Message: evil, Evidence: map[string]string{evil: evil}}},
		feed.Event{V: feed.Version, Kind: feed.KindRefused, User: evil, At: now, Agent: c.agent,
			Refusal: &feed.Refusal{Mode: "relay", Status: 402, Reason: "credits", Detail: evil}},
	)
	m.Update(eventsMsg{events: evs})
	b.agent = evil
	m.Update(eventsMsg{events: []feed.Event{endedEvent(b, feed.Reason(evil), evil, evil, now)}})
	for _, v := range []struct {
		name string
		keys []string
		want string
	}{
		{"calls", []string{"c"}, "?]0;pwn?mal?lory?2J"},
		{"detail", []string{"c", "g", "enter"}, "user ?]0;pwn?mal?lory?2J · model gpt?31m · agent api?-1"},
		{"confirm", []string{"x"}, "?]0;pwn?mal?lory?2J"},
		{"users", []string{"esc", "esc", "u"}, "?]0;pwn?mal?lory?2J"},
		{"history", []string{"h"}, "?]0;pwn?mal?lory?2J"},
		{"agents", []string{"a"}, "api?-1"},
		{"ended detail", []string{"h", "enter"}, "ended: ?]0;pwn"},
	} {
		press(m, v.keys...)
		frame := m.View().Content
		assertTerminalSafe(t, v.name, frame)
		if !strings.Contains(plain(m), v.want) {
			t.Errorf("%s does not show the text, replaced, %q:\n%s", v.name, v.want, plain(m))
		}
		press(m, "esc", "esc", "c")
	}
}

// assertTerminalSafe fails if a frame holds anything but text and the
// dashboard's own colour (SGR) sequences: no other escape sequence, no
// C0 or C1 control, no bidi formatting, no invalid UTF-8.
func assertTerminalSafe(t *testing.T, what, frame string) {
	t.Helper()
	if !utf8.ValidString(frame) {
		t.Errorf("%s: the frame is not valid UTF-8: %q", what, frame)
		return
	}
	for _, r := range sgr.ReplaceAllString(frame, "") {
		if r != '\n' && feed.Printable(string(r)) != string(r) {
			t.Errorf("%s: the frame holds %U:\n%q", what, r, frame)
			return
		}
	}
}

func TestWhereInTheHeader(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 160, 24, func(o *Options) { o.Where = "nats://127.0.0.1:41234\x1b[2J" })
	m.Update(events(clk.Now(), alice.at(clk.Now().Add(-time.Minute)), bob.at(clk.Now())))
	if line := strings.Split(plain(m), "\n")[0]; !strings.Contains(line, "nats://127.0.0.1:41234?[2J  NATS connected") {
		t.Errorf("where not shown at 160:\n%s", line)
	}
	// At 80 it is the first thing to go.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	line := strings.Split(plain(m), "\n")[0]
	if strings.Contains(line, "nats://") || !strings.Contains(line, "total") || !strings.Contains(line, "NATS connected") {
		t.Errorf("at 80 where is not dropped first:\n%s", line)
	}
}
