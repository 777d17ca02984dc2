package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/calltop/calltop/feed"
)

// TestGolden runs the dashboard under teatest at 80×24 and 160×48 on a
// fixed set of calls and compares every view with its golden file in
// testdata/TestGolden/. The clock, the environment (no NO_COLOR) and the
// colour profile are pinned, and the events come from a memSource in two
// exact batches, so the screens are the same on every run and machine.
// Regenerate with: go test ./tui -run TestGolden -update
//
// The goldens are the screens as text (escape codes stripped, as an
// operator reads them); one more, calls_ansi16, keeps the colours as a
// 16-colour terminal gets them.
func TestGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			t.Parallel()
			goldenRun(t, size[0], size[1])
		})
	}
}

func goldenRun(t *testing.T, w, h int) {
	clk := newClock()
	src := newMemSource()
	now := clk.Now()
	src.send(fixture(now)...)
	bob := fixtureBob(now)
	bob.cost += 0.2
	bob.in += 4000
	src.send(usageAt(bob, 7, now)) // a change: bob's cells flash ↑

	m := New(src, Options{Now: clk.Now, Operator: "oncall@host", Where: "nats://127.0.0.1:4222"})
	tm := runUI(t, m, w, h,
		tea.WithColorProfile(colorprofile.ANSI),
		tea.WithEnvironment([]string{"TERM=xterm-256color"}),
	)

	waitScreen(t, tm, "bob's update", contains("$1.04↑"))
	check := func(name, marker string, keys ...string) {
		t.Helper()
		for _, k := range keys {
			tm.Send(keyMsg(k))
		}
		s := waitScreen(t, tm, name, contains(marker))
		t.Run(name, func(t *testing.T) { teatest.RequireEqualOutput(t, []byte(s)) })
	}
	check("calls", "CALLS")
	t.Run("calls_ansi16", func(t *testing.T) {
		var b bytes.Buffer
		cw := colorprofile.Writer{Forward: &b, Profile: colorprofile.ANSI}
		if _, err := cw.WriteString(rawScreen(t, tm)); err != nil {
			t.Fatal(err)
		}
		teatest.RequireEqualOutput(t, b.Bytes())
	})
	check("calls_by_cost", "sort cost↓", "C")
	check("detail", "Call rtc_u1_ETYJ", "enter")
	check("users", "USERS", "esc", "u")
	check("history", "HISTORY", "h")
	check("agents", "AGENTS", "a")
	check("help", "Find and sort", "?")
	check("filter", "filter mini", "esc", "c", "/", "m", "i", "n", "i", "enter")
	check("confirm", "Cancel: keep the call", "esc", "g", "x")
	check("confirm_other", "other: runaway tokens", "5", "r", "u", "n", "a", "w", "a", "y", " ", "t", "o", "k", "e", "n", "s")
}

// TestGoldenLive is TestGolden for Realtime calls and GPT-Live sessions
// side by side (liveFixture), at 200×50, where the API column shows, and
// 100×30, where it does not and a Live row tells itself apart by its "-"
// tokens: the table, sorted by tokens (Live rows after every count), the
// api:live filter, a Live session's detail, and the History with a
// session OpenAI closed for its content. Regenerate with:
// go test ./tui -run TestGoldenLive -update
func TestGoldenLive(t *testing.T) {
	for _, size := range [][2]int{{200, 50}, {100, 30}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			src := newMemSource()
			src.send(liveFixture(clk.Now())...)
			m := New(src, Options{Now: clk.Now, Operator: "oncall@host", Where: "nats://127.0.0.1:4222"})
			tm := runUI(t, m, size[0], size[1],
				tea.WithColorProfile(colorprofile.ANSI),
				tea.WithEnvironment([]string{"TERM=xterm-256color"}),
			)
			waitScreen(t, tm, "the fixture", contains("7/7 shown", "ended content"))
			check := func(name, marker string, keys ...string) {
				t.Helper()
				for _, k := range keys {
					tm.Send(keyMsg(k))
				}
				s := waitScreen(t, tm, name, contains(marker))
				t.Run(name, func(t *testing.T) { teatest.RequireEqualOutput(t, []byte(s)) })
			}
			check("calls", "CALLS")
			check("calls_by_tokens", "sort tokens↓", "T")
			check("filter_live", "filter api:live", "/", "a", "p", "i", ":", "l", "i", "v", "e", "enter")
			check("detail_live", "Call live_u1_Lx4", "C", "j", "enter")
			check("history", "HISTORY", "esc", "h")
		})
	}
}

// rawScreen is the screen with its escape codes.
func rawScreen(t *testing.T, tm *ui) string {
	t.Helper()
	ch := make(rawMsg, 1)
	tm.Send(ch)
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no screen within 5s")
		return ""
	}
}

// fixture is the golden screens' calls: live ones with flags, warnings and
// a policy, one detached after an earlier gap, one without a price, one
// owned by a silent agent, two ended (one by an operator, with a reason),
// signals on a user; an agent that cannot read credits and one that left.
func fixture(now time.Time) []feed.Event {
	var evs []feed.Event
	add := func(c call) { evs = append(evs, callEvents(c)...) }

	rich := richCall(now)
	rich.agent = "api-eu-1"
	evs = append(evs, richEvents(rich, now)...)
	// Its sideband dropped once for 42 s (a gap), and again 25 s ago.
	gapped := *rich.full
	gapped.Gaps, gapped.GapSeconds = 1, 42
	evs = append(evs,
		feed.Event{V: feed.Version, Kind: feed.KindFlag, CallID: rich.id, Seq: 7, At: now.Add(-40 * time.Second), Agent: rich.agent,
			Flag: &feed.Flag{Kind: feed.FlagGap, Message: "no sideband for 42s"}},
		feed.Event{V: feed.Version, Kind: feed.KindUsage, CallID: rich.id, Seq: 8, At: now.Add(-30 * time.Second), Agent: rich.agent, Usage: &gapped},
		sidebandEvent(rich, 9, feed.SidebandDetached, now.Add(-25*time.Second), "attach: HTTP 503 Service Unavailable"),
	)
	add(fixtureBob(now))
	add(call{id: "rtc_u1_9c6574da8b8a41a18da9308f4ad974ce", user: "carol@example.net", model: "gpt-4o-realtime-preview",
		agent: "api-us-2", started: now.Add(-30 * time.Second), in: 10, out: 20, unknown: true})
	dave := call{id: "rtc_u1_Dv7QmZ1xKp0aLr8sYt2wNc4bHe6fGj9i", user: "dave@example.org", model: "gpt-realtime-2",
		agent: "api-eu-1", started: now.Add(-12 * time.Minute), in: 42000, out: 9100, cost: 0.91}
	add(dave)
	evs = append(evs, feed.Event{V: feed.Version, Kind: feed.KindFlag, CallID: dave.id, Seq: 4, At: now, Agent: dave.agent,
		Flag: &feed.Flag{Kind: feed.FlagKeyReused, Message: "key claimed by 2 calls", Evidence: map[string]string{"other_call": "rtc_u1_x"}}})
	for i, u := range []string{"erin@example.com", "frank@example.com", "grace@example.org", "heidi@example.com", "ivan@example.net"} {
		add(call{id: fmt.Sprintf("rtc_u1_%s%032d", strings.ToUpper(u[:2]), i), user: u, model: []string{"gpt-realtime", "gpt-realtime-mini"}[i%2],
			agent: "api-eu-1", started: now.Add(-time.Duration(40+i*70) * time.Second), in: int64(900 + i*1300), out: int64(300 + i*420),
			cost: 0.05 + float64(i)*0.07})
	}
	// heidi's call began while the agent could not read credits.
	evs = append(evs, feed.Event{V: feed.Version, Kind: feed.KindFlag, CallID: fmt.Sprintf("rtc_u1_HE%032d", 3), Seq: 4,
		At: now.Add(-40 * time.Second), Agent: "api-eu-1",
		Flag: &feed.Flag{Kind: feed.FlagCreditsUnavailable, Message: "credit store unreadable: the call runs under the allow policy"}})
	eve := call{id: "rtc_u1_EvE0ended0by0an0operator000000000", user: "eve@example.com", model: "gpt-realtime", agent: "api-eu-1",
		started: now.Add(-3 * time.Minute), in: 8000, out: 2100, cost: 0.33}
	add(eve)
	evs = append(evs, endedEvent(eve, feed.ReasonOperator, "maria@oncall-3", "abusive caller", now.Add(-20*time.Second)))
	fin := call{id: "rtc_u1_FiN0ended0by0the0caller00000000000", user: "frank@example.com", model: "gpt-realtime-mini", agent: "api-eu-1",
		started: now.Add(-4 * time.Minute), in: 3000, out: 800, cost: 0.04}
	add(fin)
	evs = append(evs, endedEvent(fin, feed.ReasonHangup, "", "sideband closed 1000", now.Add(-90*time.Second)))
	evs = append(evs,
		agentBeat("api-eu-1", now.Add(-2*time.Second), 9, 1, 2, now.Add(-45*time.Second)),
		beat("api-us-2", now.Add(-40*time.Second), 1),
		// api-us-3 stopped with no agent to hand its calls to.
		agentBeat("api-us-3", now.Add(-30*time.Second), 3, 0, 0, time.Time{}),
		goodbye("api-us-3", now.Add(-20*time.Second), 3, false),
		feed.Event{V: feed.Version, Kind: feed.KindRefused, User: "mallory@example.com", At: now.Add(-time.Minute), Agent: "api-eu-1",
			Refusal: &feed.Refusal{Mode: "relay", Status: 402, Reason: "credits", Detail: "no credit left ($0.00)"}},
		feed.Event{V: feed.Version, Kind: feed.KindFlag, User: "mallory@example.com", At: now.Add(-50 * time.Second), Agent: "api-eu-1",
			Flag: &feed.Flag{Kind: feed.FlagKeyUnclaimed, Message: "ephemeral key expired without a call"}},
	)
	return evs
}

func fixtureBob(now time.Time) call {
	return call{id: "rtc_u0_E6mH7YwmYXwYY0iVKLojm", user: "bob@example.com", model: "gpt-realtime-mini", agent: "api-eu-1",
		started: now.Add(-5 * time.Minute), in: 250_000, out: 1_500_000, cost: 0.84}
}
