package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Size used before the terminal reports one.
const (
	defaultWidth  = 80
	defaultHeight = 24
)

// View renders the whole screen: header, the current view, footer, and
// the hang-up dialog on top when one is open. Tables render only their
// visible rows, whatever the number of calls.
func (m *Model) View() tea.View {
	w, h := m.size()
	lines := m.headerView(w)
	bh := m.bodyHeight()
	switch {
	case m.showHelp:
		lines = append(lines, m.helpScreen(w, bh+1)...)
	case m.view == viewDetail:
		lines = append(lines, m.detailView(w, bh+1)...)
	case m.view == viewUsers:
		lines = append(lines, m.usersView(w, bh)...)
	case m.auditShown():
		lines = append(lines, m.auditView(w, bh)...)
	case m.view == viewHistory:
		lines = append(lines, m.historyView(w, bh)...)
	case m.view == viewAgents:
		lines = append(lines, m.agentsView(w, bh)...)
	default:
		lines = append(lines, m.callsView(w, bh)...)
	}
	lines = append(lines, m.statusView(w), m.shortHelpView(w))
	if len(lines) > h {
		lines = lines[:h] // a terminal too short for the chrome
	}
	content := strings.Join(lines, "\n")
	if m.confirm != nil {
		content = overlay(content, m.confirmBox(w, h), w, h)
	}
	v := tea.NewView(content)
	v.AltScreen = true
	v.WindowTitle = "calltop"
	return v
}

func (m *Model) size() (int, int) {
	w, h := m.width, m.height
	if w <= 0 {
		w = defaultWidth
	}
	if h <= 0 {
		h = defaultHeight
	}
	return w, h
}

// bodyHeight is how many rows a view's list shows under its column titles,
// between the header and the two footer lines; Update uses it to scroll
// and page, View to render.
func (m *Model) bodyHeight() int {
	_, h := m.size()
	return max(1, h-m.headerHeight()-1-2)
}

// statusView is the filter being typed, or the transient message, on the
// left, and the selection's position on the right.
func (m *Model) statusView(w int) string {
	var right string
	if n, i, ok := m.position(); ok && n > 0 {
		right = m.styles.Dim.Render(itoa(i+1) + "/" + itoa(n))
	}
	room := max(0, w-lipgloss.Width(right)-1)
	var left string
	switch {
	case m.filterEdit != nil:
		fe := m.filterEdit
		left = "/" + fe.in.String() + m.styles.Selected.Render(" ")
		if fe.err != "" {
			left += "  " + m.styles.Err.Render(sanitize(fe.err))
		} else {
			left += m.styles.Dim.Render("  enter keep · esc undo · !negate · re:regexp")
		}
		left = clip(left, room)
	case m.status.kind == statusErr:
		left = m.styles.Err.Render(truncate("error: "+m.status.text, room))
	case m.status.kind == statusOK:
		left = m.styles.OK.Render(truncate(m.status.text, room))
	default:
		left = truncate(m.status.text, room)
	}
	return spread(left, right, w)
}

// position is the size of the current list and the selected row.
func (m *Model) position() (n, i int, ok bool) {
	if m.showHelp {
		return 0, 0, false
	}
	switch m.view {
	case viewCalls:
		return m.rows.Len(), m.cur.idx, true
	case viewUsers:
		return m.userList().Len(), m.userCur.idx, true
	case viewHistory:
		l, c := m.historyList()
		return l.Len(), c.idx, true
	case viewAgents:
		return m.agentList().Len(), m.agentCur.idx, true
	}
	return 0, 0, false
}

// shortHelpView is the one-line key hint for the current view, generated
// from the key map.
func (m *Model) shortHelpView(w int) string {
	return clip(m.help.ShortHelpView(m.shortHelp()), w)
}

// spread puts left and right on one line of width w, cutting left first.
func spread(left, right string, w int) string {
	lw, rw := lipgloss.Width(left), lipgloss.Width(right)
	if lw+1+rw > w {
		if rw+1 >= w {
			return clip(left, w)
		}
		left = clip(left, w-rw-1)
		lw = lipgloss.Width(left)
	}
	return left + strings.Repeat(" ", max(1, w-lw-rw)) + right
}

// clip cuts every line of a styled string to w cells.
func clip(s string, w int) string {
	return lipgloss.NewStyle().MaxWidth(max(0, w)).Render(s)
}

// padLines pads a block to exactly n lines.
func padLines(lines []string, n int) []string {
	for len(lines) < n {
		lines = append(lines, "")
	}
	return lines[:n]
}

// overlay draws box centred over base, a screen of width×height.
func overlay(base, box string, width, height int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	x, y := max(0, (width-bw)/2), max(0, (height-bh)/2)
	canvas := lipgloss.NewCanvas(width, height)
	canvas.Compose(lipgloss.NewCompositor(
		lipgloss.NewLayer(base),
		lipgloss.NewLayer(box).X(x).Y(y).Z(1),
	))
	return canvas.Render()
}
