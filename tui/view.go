package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// Size used before the terminal reports one.
const (
	defaultWidth  = 80
	defaultHeight = 24
)

// View renders the whole screen: header, table, footer, and the
// confirmation on top when one is open. Only the visible rows are
// rendered, whatever the number of calls.
func (m *Model) View() tea.View {
	w, h := m.size()
	lines := m.headerView(w)
	lines = append(lines, m.tableView(w, m.tableHeight())...)
	lines = append(lines, m.statusView(w), m.helpView(w))
	content := strings.Join(lines, "\n")
	if lines = strings.Split(content, "\n"); len(lines) > h {
		content = strings.Join(lines[:h], "\n") // a terminal too short for the chrome
	}
	if m.confirm != nil {
		content = overlay(content, m.confirmBox(w), w, h)
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

// tableHeight is how many call rows fit under the header and above the
// footer; Update uses it to scroll and page, View to render.
func (m *Model) tableHeight() int {
	_, h := m.size()
	chrome := m.headerHeight() + 1 + 1 // + column titles + status line
	if m.showHelp {
		chrome += lipgloss.Height(m.help.FullHelpView(m.keys.FullHelp()))
	} else {
		chrome++
	}
	return max(1, h-chrome)
}

func (m *Model) stale() bool { return m.conn != feed.ConnConnected }

func (m *Model) headerHeight() int {
	if m.stale() {
		return 2
	}
	return 1
}

// headerView is the title with the totals on the left and the NATS state
// on the right, plus a warning line while NATS is not connected, because
// then the table may be showing calls that have ended since.
func (m *Model) headerView(w int) []string {
	t := m.totals
	cost := formatCost(t.cost, false)
	rate := formatCost(t.perMin, false) + "/min"
	if t.costUnknown {
		cost += "+?"
		rate = "≥" + rate
	}
	title := m.styles.Title.Render("calltop")
	live := fmt.Sprintf("%d live", t.live)
	ended := m.styles.Dim.Render(fmt.Sprintf(" · %d ended", t.ended))
	money := "  " + rate + "  " + cost + " total"
	var right string
	switch m.conn {
	case feed.ConnConnected:
		right = m.styles.OK.Render("NATS connected")
	case feed.ConnReconnecting:
		right = m.styles.Warn.Render("NATS reconnecting")
	default:
		right = m.styles.Err.Render("NATS " + connName(m.conn))
	}
	// On a narrow terminal the ended count goes first, then the word
	// "total": the money and the NATS state matter more.
	left := title + "  " + live + ended + money
	if lipgloss.Width(left)+1+lipgloss.Width(right) > w {
		left = title + "  " + live + money
	}
	if lipgloss.Width(left)+1+lipgloss.Width(right) > w {
		left = strings.TrimSuffix(left, " total")
	}
	lines := []string{spread(left, right, w)}
	if m.stale() {
		warn := fmt.Sprintf("NATS %s: the data may be stale (showing the last known state)", connName(m.conn))
		lines = append(lines, clip(m.styles.Warn.Render(warn), w))
	}
	return lines
}

func connName(s feed.ConnState) string {
	if s == "" {
		return string(feed.ConnDown)
	}
	return sanitize(string(s))
}

// tableView renders the column titles and the visible rows, padded to
// height rows so the footer stays put.
func (m *Model) tableView(w, height int) []string {
	l := newLayout(w, m.widths)
	lines := make([]string, 0, height+1)
	lines = append(lines, clip(m.styles.Header.Render(l.header()), w))
	if m.rows.Len() == 0 {
		lines = append(lines, clip(m.styles.Dim.Render("  no calls yet: waiting for agents to publish on NATS"), w))
	}
	end := min(m.cur.top+height, m.rows.Len())
	for i := m.cur.top; i < end; i++ {
		c := m.rows.At(i)
		sel := i == m.cur.idx
		text := l.row(c, m.now, sel, m.pending[c.ID])
		st := lipgloss.NewStyle()
		if !c.Live() {
			st = m.styles.Ended
		}
		if sel {
			st = st.Inherit(m.styles.Selected)
		}
		lines = append(lines, clip(st.Render(text), w))
	}
	for len(lines) < height+1 {
		lines = append(lines, "")
	}
	return lines
}

// statusView is the transient message on the left and the selected row's
// position on the right.
func (m *Model) statusView(w int) string {
	var right string
	if n := m.rows.Len(); n > 0 {
		right = m.styles.Dim.Render(fmt.Sprintf("%d/%d", m.cur.idx+1, n))
	}
	text := m.status.text
	var left string
	switch m.status.kind {
	case statusErr:
		left = m.styles.Err.Render(truncate("error: "+text, max(0, w-lipgloss.Width(right)-1)))
	case statusOK:
		left = m.styles.OK.Render(truncate(text, max(0, w-lipgloss.Width(right)-1)))
	default:
		left = truncate(text, max(0, w-lipgloss.Width(right)-1))
	}
	return spread(left, right, w)
}

// helpView is the one-line key hint, or the full help after ?.
func (m *Model) helpView(w int) string {
	if m.showHelp {
		return clip(m.help.FullHelpView(m.keys.FullHelp()), w)
	}
	return clip(m.help.ShortHelpView(m.keys.ShortHelp()), w)
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
	return lipgloss.NewStyle().MaxWidth(w).Render(s)
}
