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

func TestLayoutFitsEveryWidth(t *testing.T) {
	content := contentWidths{colCall: 39, colUser: 24, colModel: 28}
	for w := 30; w <= 250; w++ {
		l := newLayout(w, content)
		if got := lipgloss.Width(l.header()); got > w && w >= 44 {
			t.Errorf("width %d: header is %d wide: %q", w, got, l.header())
		}
	}
}

func TestLayoutColumns(t *testing.T) {
	content := contentWidths{colCall: 39, colUser: 13, colModel: 12}
	wide := newLayout(120, content)
	if got := strings.Join(titles(wide), ","); got != "CALL,USER,MODEL,STATE,AGE,TOKENS IN,TOKENS OUT,COST,$/MIN" {
		t.Errorf("120 columns: %s", got)
	}
	narrow := newLayout(80, content)
	if narrow.has(colModel) {
		t.Errorf("80 columns keep MODEL: %v", titles(narrow))
	}
	for _, id := range []colID{colCall, colUser, colState, colAge, colTokensIn, colTokensOut, colCost, colRate} {
		if !narrow.has(id) {
			t.Errorf("80 columns lack column %d: %v", id, titles(narrow))
		}
	}
	// At 160 columns the whole call ID fits, and content-sized columns
	// take no more than their content.
	roomy := newLayout(160, content)
	for _, c := range roomy.cells {
		switch c.id {
		case colCall:
			if c.width != 39 {
				t.Errorf("160 columns: CALL is %d wide, want 39", c.width)
			}
		case colUser:
			if c.width != 13 {
				t.Errorf("160 columns: USER is %d wide, want 13", c.width)
			}
		}
	}
	// Very narrow: the money stays.
	tiny := newLayout(50, content)
	if !tiny.has(colCost) || !tiny.has(colState) || tiny.has(colTokensOut) {
		t.Errorf("50 columns: %v", titles(tiny))
	}
}

func TestRowCells(t *testing.T) {
	now := t0.Add(65 * time.Second)
	c := feed.Call{
		ID: "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn", User: "alice@acme.io", Model: "gpt-realtime",
		State: feed.StateLive, StartedAt: t0,
		Usage: feed.Usage{Tokens: feed.Tokens{Input: 12345, Output: 6789}, CostUSD: 0.65},
	}
	l := newLayout(80, contentWidths{colCall: 39, colUser: 13})
	row := l.row(c, now, true, false)
	if lipgloss.Width(row) > 80 {
		t.Errorf("row wider than 80: %q", row)
	}
	want := "> rtc_u1_ETYJSp… alice@acme… live 1m05s 12,345 6,789 $0.65 $0.60"
	if got := strings.Join(strings.Fields(row), " "); got != want {
		t.Errorf("row:\n got %q\nwant %q", got, want)
	}
	if got := l.row(c, now, false, true); !strings.Contains(got, "hanging up") || strings.HasPrefix(got, ">") {
		t.Errorf("pending, unselected row: %q", got)
	}
	c.State, c.End = feed.StateEnded, feed.End{Reason: feed.ReasonOperator, EndedAt: now}
	if got := l.row(c, now, false, true); !strings.Contains(got, "ended operator") {
		t.Errorf("ended row: %q", got)
	}
	c.User, c.Model = "", ""
	c.Usage.CostUnknown = true
	if got := strings.Fields(l.row(c, now, false, false)); got[1] != "-" || got[len(got)-1] != "?" || got[len(got)-2] != "?" {
		t.Errorf("row without user or price: %q", got)
	}
}
