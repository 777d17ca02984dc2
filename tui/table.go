package tui

import (
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// wideWidth is the terminal width from which every column shows with its
// full title and roomier gaps.
const wideWidth = 120

// gutterWidth is the selection marker's column: "> " on the selected row,
// so the selection shows without colour too.
const gutterWidth = 2

// colID names a table column.
type colID int

const (
	colCall colID = iota
	colUser
	colModel
	colState
	colAge
	colTokensIn
	colTokensOut
	colCost
	colRate
)

// column describes one column and how it gives way on narrow terminals.
// Flexible columns share the room left by the fixed ones, each up to the
// widest value it has to show (at most maxW); drop orders which columns go
// first when even their minimums do not fit (0: never).
type column struct {
	id           colID
	title, short string // wide and narrow titles
	wide, narrow int    // fixed widths
	flex         bool
	minW, maxW   int // flexible columns only
	right        bool
	drop         int
}

// columns is the table, left to right.
var columns = []column{
	{id: colCall, title: "CALL", short: "CALL", flex: true, minW: 10, maxW: feed.MaxCallIDLen},
	{id: colUser, title: "USER", short: "USER", flex: true, minW: 8, maxW: 40},
	{id: colModel, title: "MODEL", short: "MODEL", flex: true, minW: 10, maxW: 40, drop: 5},
	{id: colState, title: "STATE", short: "STATE", wide: 14, narrow: 14},
	{id: colAge, title: "AGE", short: "AGE", wide: 6, narrow: 6, right: true, drop: 1},
	{id: colTokensIn, title: "TOKENS IN", short: "TOK IN", wide: 9, narrow: 6, right: true, drop: 3},
	{id: colTokensOut, title: "TOKENS OUT", short: "TOK OUT", wide: 10, narrow: 7, right: true, drop: 4},
	{id: colCost, title: "COST", short: "COST", wide: 9, narrow: 7, right: true},
	{id: colRate, title: "$/MIN", short: "$/MIN", wide: 7, narrow: 6, right: true, drop: 2},
}

// cell is one placed column of a layout.
type cell struct {
	column
	title string
	width int
}

// layout is the table's columns for one terminal width.
type layout struct {
	cells []cell
	gap   int
}

// contentWidths is the widest value each flexible column has to show, so
// that room goes where it is needed (a long model name) and not where it
// is not (short user names).
type contentWidths map[colID]int

// newLayout fits the columns into width: it drops columns in their drop
// order until the minimums fit, then shares what is left between the
// flexible columns round by round (so no column starves), each up to the
// width of its content. On a wide terminal CALL takes two cells a round:
// it is what an operator acts on, and real IDs differ only after their
// "rtc_u1_" prefix; on a narrow one the user gets an equal share.
func newLayout(width int, content contentWidths) layout {
	wide := width >= wideWidth
	l := layout{gap: 1}
	if wide {
		l.gap = 2
	}
	active := make([]column, len(columns))
	copy(active, columns)
	need := func() int {
		n := gutterWidth + l.gap*(len(active)-1)
		for _, c := range active {
			n += c.fixedOrMin(wide)
		}
		return n
	}
	for need() > width {
		worst := -1
		for i, c := range active {
			if c.drop > 0 && (worst < 0 || c.drop > active[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		active = append(active[:worst], active[worst+1:]...)
	}
	extra := width - need()
	l.cells = make([]cell, len(active))
	for i, c := range active {
		title := c.short
		if wide {
			title = c.title
		}
		l.cells[i] = cell{column: c, title: title, width: c.fixedOrMin(wide)}
	}
	for extra > 0 {
		grew := false
		for i := range l.cells {
			c := &l.cells[i]
			if !c.flex {
				continue
			}
			want := min(c.maxW, max(content[c.id], lipgloss.Width(c.title)))
			for range c.weight(wide) {
				if c.width < want && extra > 0 {
					c.width++
					extra--
					grew = true
				}
			}
		}
		if !grew {
			break
		}
	}
	return l
}

func (c column) weight(wide bool) int {
	if wide && c.id == colCall {
		return 2
	}
	return 1
}

func (c column) fixedOrMin(wide bool) int {
	switch {
	case c.flex:
		return c.minW
	case wide:
		return c.wide
	default:
		return c.narrow
	}
}

// has reports whether the layout shows a column.
func (l layout) has(id colID) bool {
	for _, c := range l.cells {
		if c.id == id {
			return true
		}
	}
	return false
}

// header renders the column titles.
func (l layout) header() string {
	vals := make([]string, len(l.cells))
	for i, c := range l.cells {
		vals[i] = c.title
	}
	return l.join("", vals)
}

// row renders one call as plain text; styling is applied to the whole line
// by the caller, so cells never carry half-closed escape sequences. pending
// marks a live call whose hang-up was sent.
func (l layout) row(c feed.Call, now time.Time, selected, pending bool) string {
	marker := ""
	if selected {
		marker = ">"
	}
	vals := make([]string, len(l.cells))
	for i, cl := range l.cells {
		vals[i] = cellValue(cl.id, c, now, cl.width)
		if cl.id == colState && pending && c.Live() {
			vals[i] = "hanging up"
		}
	}
	return l.join(marker, vals)
}

func (l layout) join(marker string, vals []string) string {
	var b strings.Builder
	b.WriteString(pad(marker, gutterWidth, false))
	for i, cl := range l.cells {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", l.gap))
		}
		b.WriteString(pad(vals[i], cl.width, cl.right))
	}
	return b.String()
}

// cellValue is the text of one cell of a call.
func cellValue(id colID, c feed.Call, now time.Time, width int) string {
	u := c.Usage
	switch id {
	case colCall:
		return truncate(c.ID, width)
	case colUser:
		if c.User == "" {
			return "-"
		}
		return truncate(sanitize(c.User), width)
	case colModel:
		if c.Model == "" {
			return "-"
		}
		return truncate(sanitize(c.Model), width)
	case colState:
		return stateText(c)
	case colAge:
		return formatAge(c.Seconds(now))
	case colTokensIn:
		return formatTokens(u.Tokens.Input)
	case colTokensOut:
		return formatTokens(u.Tokens.Output)
	case colCost:
		return formatCost(u.CostUSD, u.CostUnknown)
	case colRate:
		return formatRate(c.PerMinute(now), u.CostUnknown)
	}
	return ""
}

// stateText is the STATE cell: "live", or "ended" and why ("ended
// operator"), so an ended row reads as ended without its dimming.
func stateText(c feed.Call) string {
	if c.Live() {
		return "live"
	}
	if c.End.Reason == "" {
		return "ended"
	}
	return "ended " + sanitize(string(c.End.Reason))
}

// measure returns the widest call ID, user and model among the rows.
func measure(r *rows) contentWidths {
	w := contentWidths{}
	for _, c := range r.calls {
		w[colCall] = max(w[colCall], len(c.ID))
		w[colUser] = max(w[colUser], lipgloss.Width(c.User))
		w[colModel] = max(w[colModel], lipgloss.Width(c.Model))
	}
	return w
}
