package tui

import (
	"fmt"
	"strings"
)

// callsView renders the column titles and the visible rows of the calls
// table, padded to height rows so the footer stays put.
func (m *Model) callsView(w, height int) []string {
	l := newLayout(w, m.widths, m.rows.sort)
	lines := make([]string, 0, height+1)
	fits := l.width() <= w
	title := m.styles.Header.Render(l.header())
	if !fits {
		title = clip(title, w)
	}
	lines = append(lines, title)
	switch {
	case m.rows.Total() == 0:
		lines = append(lines, clip(m.styles.Dim.Render("  no calls yet: waiting for agents to publish on NATS"), w))
	case m.rows.Len() == 0:
		lines = append(lines, clip(m.styles.Dim.Render(fmt.Sprintf("  no call matches the filter %q (esc clears it)", m.rows.filter.text)), w))
	}
	end := min(m.cur.top+height, m.rows.Len())
	for i := m.cur.top; i < end; i++ {
		line := m.renderRow(l, m.rows.At(i), i == m.cur.idx)
		if !fits {
			line = clip(line, w)
		}
		lines = append(lines, line)
	}
	return padLines(lines, height+1)
}

// width is how many cells a row of the layout takes.
func (l layout) width() int {
	n := gutterWidth + l.gap*max(0, len(l.cells)-1)
	for _, c := range l.cells {
		n += c.width
	}
	return n
}

// renderRow draws one call. Cells are styled by tone and the row by its
// variant (faint when ended, reversed when selected); neighbouring cells of
// the same style are rendered together, so a row costs a handful of style
// renders, not one per cell, built in buffers the model reuses.
func (m *Model) renderRow(l layout, x *row, sel bool) string {
	c := &x.call
	rc := m.rowCtx(c)
	variant := 0
	if !c.Live() {
		variant |= variantEnded
	}
	if sel {
		variant |= variantSelected
	}
	out, run := m.lineBuf[:0], m.runBuf[:0]
	runTone := tonePlain
	flush := func() {
		if len(run) == 0 {
			return
		}
		if variant == 0 && runTone == tonePlain {
			out = append(out, run...)
		} else {
			out = m.styles.appendCell(out, runTone, variant, run)
		}
		run = run[:0]
	}
	add := func(s string, t tone) {
		if t != runTone {
			flush()
			runTone = t
		}
		run = append(run, s...)
	}
	if sel {
		add("> ", tonePlain)
	} else {
		add("  ", tonePlain)
	}
	gap := spaces(l.gap)
	for i, cl := range l.cells {
		if i > 0 {
			add(gap, tonePlain)
		}
		text, t := cellText(cl.id, x, rc, cl.width)
		if !cl.mark {
			text = pad(text, cl.width, cl.right)
		}
		add(text, t)
	}
	flush()
	m.lineBuf, m.runBuf = out, run
	return string(out)
}

// spaces is n spaces, without allocating for the usual widths.
func spaces(n int) string {
	const blank = "                                "
	if n <= len(blank) {
		return blank[:max(0, n)]
	}
	return strings.Repeat(" ", n)
}
