package tui

import (
	"strings"
	"testing"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

func titles(l layout) []string {
	var out []string
	for _, c := range l.cells {
		out = append(out, c.title)
	}
	return out
}

func widthOf(l layout, id colID) int {
	for _, c := range l.cells {
		if c.id == id {
			return c.width
		}
	}
	return 0
}

var demoContent = contentWidths{colCall: 39, colUser: 24, colModel: 17, colState: 4, colAgent: 10}

func TestLayoutFitsEveryWidth(t *testing.T) {
	content := contentWidths{colCall: 39, colUser: 24, colModel: 28, colState: 14, colNotes: 30, colAgent: 12}
	for w := 30; w <= 250; w++ {
		l := newLayout(w, content, sortSpec{by: sortCost, desc: true})
		if got := lipgloss.Width(l.header()); got > w && w >= 60 {
			t.Errorf("width %d: header is %d wide: %q", w, got, l.header())
		}
		if got := l.width(); got > w && w >= 60 {
			t.Errorf("width %d: rows are %d wide", w, got)
		}
	}
}

func TestLayoutColumns(t *testing.T) {
	s := sortSpec{by: sortAge}
	// 80 columns: no MODEL, the room goes to CALL and USER.
	narrow := newLayout(80, demoContent, s)
	if got := strings.Join(titles(narrow), ","); got != "CALL,USER,STATE,AGE,TOKENS,COST,$/MIN" {
		t.Errorf("80 columns: %s", got)
	}
	if widthOf(narrow, colCall) < 18 || widthOf(narrow, colUser) < 17 {
		t.Errorf("80 columns: CALL %d, USER %d wide", widthOf(narrow, colCall), widthOf(narrow, colUser))
	}
	// 120 columns: MODEL whole, STATE no wider than it needs.
	mid := newLayout(120, demoContent, s)
	if widthOf(mid, colModel) != 17 {
		t.Errorf("120 columns: MODEL %d wide, want its 17", widthOf(mid, colModel))
	}
	if w := widthOf(mid, colState); w != len("STATE")+1 {
		t.Errorf("120 columns: STATE %d wide for \"live\"", w)
	}
	if widthOf(mid, colUser) != 24 {
		t.Errorf("120 columns: USER %d wide, want its 24", widthOf(mid, colUser))
	}
	// API (rt or live) from 120 columns; below, a Live row's "-" tokens
	// and live_ id tell it apart.
	if !mid.has(colAPI) || widthOf(mid, colAPI) != len("live") {
		t.Errorf("120 columns: %v, API %d wide", titles(mid), widthOf(mid, colAPI))
	}
	if below := newLayout(119, demoContent, s); below.has(colAPI) || !below.has(colModel) {
		t.Errorf("119 columns: %v", titles(below))
	}
	// 200 columns: everything, the whole call ID, and no column wider than
	// its content.
	roomy := newLayout(200, demoContent, s)
	if got := strings.Join(titles(roomy), ","); got != "CALL,USER,API,MODEL,STATE,AGE,IN,OUT,TOKENS,COST,$/MIN,AGENT" {
		t.Errorf("200 columns: %s", got)
	}
	if widthOf(roomy, colCall) != 39 || widthOf(roomy, colUser) != 24 {
		t.Errorf("200 columns: CALL %d, USER %d", widthOf(roomy, colCall), widthOf(roomy, colUser))
	}
	// NOTES appears once a call has flags, and ended states widen STATE.
	flagged := newLayout(120, contentWidths{colCall: 39, colUser: 24, colModel: 17, colState: 14, colNotes: 12}, s)
	if !flagged.has(colNotes) || widthOf(flagged, colState) != 14 {
		t.Errorf("with notes: %v, STATE %d", titles(flagged), widthOf(flagged, colState))
	}
	// Very narrow: the money stays.
	tiny := newLayout(50, demoContent, s)
	if !tiny.has(colCost) || !tiny.has(colState) || !tiny.has(colCall) {
		t.Errorf("50 columns: %v", titles(tiny))
	}
}

func TestHeaderMarksTheSort(t *testing.T) {
	l := newLayout(120, demoContent, sortSpec{by: sortCost, desc: true})
	if h := l.header(); !strings.Contains(h, "COST↓") || strings.Count(h, "↓")+strings.Count(h, "↑") != 1 {
		t.Errorf("header: %q", h)
	}
	l = newLayout(120, demoContent, sortSpec{by: sortUser})
	if h := l.header(); !strings.Contains(h, "USER↑") {
		t.Errorf("header: %q", h)
	}
}

func TestCells(t *testing.T) {
	now := t0.Add(65 * time.Second)
	x := &row{call: feed.Call{
		ID: "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn", User: "alice@acme.io", Model: "gpt-realtime",
		State: feed.StateLive, StartedAt: t0,
		Usage: feed.Usage{Tokens: feed.Tokens{Input: 12345, Output: 6789, Total: 19134}, CostUSD: 0.65},
	}}
	rc := rowCtx{now: now}
	for _, tc := range []struct {
		id   colID
		want string
	}{
		{colCall, "rtc_u1_ETYJ…"}, {colUser, "alice@acme.io"}, {colState, "live"}, {colAge, "1m05s"},
		{colTokens, " 19,134 "}, {colCost, "   $0.65 "}, {colRate, "  $0.60 "},
	} {
		got, _ := cellText(tc.id, x, rc, map[colID]int{colCall: 12, colTokens: 8, colCost: 9, colRate: 8}[tc.id]+20*boolInt(tc.id == colUser || tc.id == colState))
		if got != tc.want {
			t.Errorf("cell %d = %q, want %q", tc.id, got, tc.want)
		}
	}
	// A recent change is marked with an arrow, for flashFor.
	x.flash.cost, x.flash.rate, x.flash.rateDown = now.Add(-time.Second), now, true
	if got, tone := cellText(colCost, x, rc, 9); got != "   $0.65↑" || tone != toneFlash {
		t.Errorf("flashing cost = %q (%d)", got, tone)
	}
	if got, _ := cellText(colRate, x, rc, 8); got != "  $0.60↓" {
		t.Errorf("falling rate = %q", got)
	}
	if got, _ := cellText(colCost, x, rowCtx{now: now.Add(flashFor)}, 9); got != "   $0.65 " {
		t.Errorf("cost after the flash = %q", got)
	}
	// States: hanging up, agent silent or left, detached with its age,
	// ended with its reason.
	if got, tone := cellText(colState, x, rowCtx{now: now, pending: true}, 20); got != "hanging up" || tone != toneBusy {
		t.Errorf("pending = %q", got)
	}
	if got, tone := cellText(colState, x, rowCtx{now: now, gone: feed.AgentSilent}, 20); got != "agent silent" || tone != toneSilent {
		t.Errorf("silent = %q", got)
	}
	if got, tone := cellText(colState, x, rowCtx{now: now, gone: feed.AgentLeft}, 20); got != "agent left" || tone != toneSilent {
		t.Errorf("left = %q", got)
	}
	x.call.State, x.call.DetachedSince = feed.StateDetached, now.Add(-65*time.Second)
	if got, tone := cellText(colState, x, rc, 20); got != "detached 1m05s" || tone != toneWarn || len(got) > detachedWidth {
		t.Errorf("detached = %q (%d)", got, tone)
	}
	if got, _ := cellText(colState, x, rowCtx{now: now, gone: feed.AgentSilent}, 20); got != "agent silent" {
		t.Errorf("detached, agent silent = %q: the agent's silence says more", got)
	}
	if got := stateText(&x.call, rowCtx{}); got != "detached" {
		t.Errorf("detached without a clock (the filter's) = %q", got)
	}
	x.call.State, x.call.DetachedSince = feed.StateLive, time.Time{}
	x.call.Flags = []feed.Flag{{Kind: feed.FlagBurnRate}}
	x.call.Warnings = []feed.Warning{{Limit: feed.LimitCost, Used: 2.12, Max: 2.5}}
	if got, tone := cellText(colNotes, x, rc, 30); got != "!BURN cost 85%" || tone != toneFlag {
		t.Errorf("notes = %q (%d)", got, tone)
	}
	x.call.State, x.call.End = feed.StateEnded, feed.End{Reason: feed.ReasonOperator, Detail: "abusive caller", By: "maria@oncall-3"}
	if got, _ := cellText(colState, x, rc, 20); got != "ended operator" {
		t.Errorf("ended = %q", got)
	}
	if got, _ := cellText(colNotes, x, rc, 40); got != "abusive caller (maria@oncall-3)" {
		t.Errorf("ended notes = %q", got)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
