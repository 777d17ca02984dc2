package tui

import (
	"cmp"
	"slices"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// gutterWidth is the selection marker's column: "> " on the selected row,
// so the selection shows without colour too.
const gutterWidth = 2

// colID names a table column.
type colID int

const (
	colCall colID = iota
	colUser
	colAPI
	colModel
	colState
	colAge
	colTokensIn
	colTokensOut
	colTokens
	colCost
	colRate
	colNotes
	colAgent
)

// column describes one column and how it gives way on narrow terminals.
// Flexible columns share the room left by the fixed ones: first each up
// to a comfortable width, in order of importance (grow), then round by
// round up to the widest value it has to show (at most maxW). drop orders
// which columns go first when even their minimums do not fit (0: never);
// from hides a column on terminals narrower than it. A marked column keeps
// one cell after its value for the ↑/↓ of a recent change.
type column struct {
	id         colID
	title      string
	width      int // fixed columns: the width, mark included
	flex       bool
	minW, maxW int // flexible columns only
	comfy      int // flexible: grown to this first
	grow       int // flexible: the order of the first growth (lower first)
	fitContent bool
	right      bool
	mark       bool
	drop       int
	from       int
}

// columns is the calls table, left to right. STATE always gets the width
// of its widest value ("ended operator" is never cut); then the flags in
// NOTES, MODEL, USER and CALL grow in that order. On a narrow terminal
// TOKENS goes before NOTES: a flag matters more than a count. API (rt or
// live) shows from 120 columns and is the first to go when even that is
// cramped: below it a Live row still tells itself apart by its "-" tokens
// and its live_ id.
var columns = []column{
	{id: colCall, title: "CALL", flex: true, minW: 14, maxW: feed.MaxCallIDLen, comfy: 22, grow: 5},
	{id: colUser, title: "USER", flex: true, minW: 12, maxW: 40, comfy: 20, grow: 4},
	{id: colAPI, title: "API", width: len("live"), drop: 10, from: 120},
	{id: colModel, title: "MODEL", flex: true, minW: 8, maxW: 32, comfy: 20, grow: 3, drop: 6, from: 100},
	{id: colState, title: "STATE", flex: true, minW: 6, maxW: 16, grow: 1, fitContent: true},
	{id: colAge, title: "AGE", width: 6, right: true, drop: 3},
	{id: colTokensIn, title: "IN", width: 6, right: true, drop: 8, from: 150},
	{id: colTokensOut, title: "OUT", width: 6, right: true, drop: 7, from: 150},
	{id: colTokens, title: "TOKENS", width: 7, right: true, mark: true, drop: 5},
	{id: colCost, title: "COST", width: 8, right: true, mark: true},
	{id: colRate, title: "$/MIN", width: 7, right: true, mark: true, drop: 2},
	{id: colNotes, title: "NOTES", flex: true, minW: 6, maxW: 60, comfy: 12, grow: 2, drop: 4},
	{id: colAgent, title: "AGENT", flex: true, minW: 6, maxW: 24, comfy: 12, grow: 6, drop: 9, from: 180},
}

// cell is one placed column of a layout.
type cell struct {
	column
	width int
}

// layout is the table's columns for one terminal width.
type layout struct {
	cells []cell
	gap   int
	sort  sortSpec
}

// contentWidths is the widest value each flexible column has to show, so
// that room goes where it is needed (a long model name) and not where it
// is not (short user names).
type contentWidths map[colID]int

// roomyWidth is the terminal width from which columns are two cells apart.
const roomyWidth = 160

// newLayout fits the columns into width: it leaves out the columns that
// only wide terminals show and those with nothing to show, drops more in
// their drop order until the minimums fit, then gives the flexible columns
// the rest (see column).
func newLayout(width int, content contentWidths, s sortSpec) layout {
	l := layout{gap: 1, sort: s}
	if width >= roomyWidth {
		l.gap = 2
	}
	want := func(c column) int { return min(c.maxW, max(content[c.id], lipgloss.Width(c.title)+1)) }
	minOf := func(c column) int {
		switch {
		case c.fitContent:
			return max(c.minW, want(c))
		case c.flex:
			return c.minW
		}
		return c.width
	}
	active := make([]column, 0, len(columns))
	for _, c := range columns {
		if c.flex && c.drop > 0 && content[c.id] == 0 {
			continue // nothing to show: NOTES with no flags, AGENT unknown
		}
		if width < c.from {
			continue // on a narrow terminal the room goes to CALL and USER
		}
		active = append(active, c)
	}
	need := func() int {
		n := gutterWidth + l.gap*(len(active)-1)
		for _, c := range active {
			n += minOf(c)
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
	order := make([]int, 0, len(active))
	for i, c := range active {
		l.cells[i] = cell{column: c, width: minOf(c)}
		if c.flex {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(active[a].grow, active[b].grow) })
	for _, i := range order { // first, each to a comfortable width
		c := &l.cells[i]
		add := max(0, min(extra, min(c.comfy, want(c.column))-c.width))
		c.width += add
		extra -= add
	}
	for extra > 0 { // then round by round to their content
		grew := false
		for _, i := range order {
			c := &l.cells[i]
			if c.width < want(c.column) && extra > 0 {
				c.width++
				extra--
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	return l
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

// header renders the column titles; the sorted column's title carries
// the direction (↓ largest first, ↑ smallest first).
func (l layout) header() string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", gutterWidth))
	for i, c := range l.cells {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", l.gap))
		}
		title, arrow := c.title, " "
		if c.id == l.sort.by.column() {
			arrow = "↑"
			if l.sort.desc {
				arrow = "↓"
			}
		}
		switch {
		case c.mark:
			b.WriteString(pad(title, c.width-1, true) + arrow)
		case c.right:
			b.WriteString(pad(strings.TrimSpace(title+arrow), c.width, true))
		default:
			b.WriteString(pad(strings.TrimSpace(title+arrow), c.width, false))
		}
	}
	return b.String()
}
