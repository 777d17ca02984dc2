package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// part is one piece of a header line; when the line is too narrow, the
// parts with the highest drop go first.
type part struct {
	text string // styled
	drop int    // 0: never dropped
}

// fit joins parts with two spaces, dropping parts (highest drop first)
// until the line fits in w cells.
func fit(parts []part, w int) string {
	for {
		var kept []string
		total, worst := 0, -1
		for i, p := range parts {
			if p.text == "" {
				continue
			}
			kept = append(kept, p.text)
			total += lipgloss.Width(p.text)
			if p.drop > 0 && (worst < 0 || p.drop > parts[worst].drop) {
				worst = i
			}
		}
		total += 2 * max(0, len(kept)-1)
		if total <= w || worst < 0 {
			return strings.Join(kept, "  ")
		}
		parts = append(parts[:worst:worst], parts[worst+1:]...)
	}
}

// headerHeight is two lines, plus one while NATS is not connected.
func (m *Model) headerHeight() int {
	if m.stale() {
		return 3
	}
	return 2
}

func (m *Model) stale() bool { return m.conn != feed.ConnConnected }

// headerView is two lines: the money (live calls, total $/min with its
// sparkline, cost on the board) and the NATS state; then what is shown
// (view, shown/total, sort, filter), the token rate and the agents. While
// NATS is not connected a third line says the data is stale and since
// when.
func (m *Model) headerView(w int) []string {
	st := m.styles
	t := m.totals
	cost := formatCost(t.cost, false) + " total"
	rate := formatCost(t.perMin, false) + "/min"
	if t.costUnknown {
		cost = formatCost(t.cost, false) + "+? total"
		rate = "≥" + rate
	}
	var nats string
	switch m.conn {
	case feed.ConnConnected:
		nats = st.OK.Render("NATS connected")
	case feed.ConnReconnecting:
		nats = st.Warn.Render("NATS reconnecting · STALE")
	default:
		nats = st.Err.Render("NATS " + connName(m.conn) + " · STALE")
	}
	left := fit([]part{
		{text: st.Title.Render("calltop")},
		{text: fmt.Sprintf("%d live", t.live)},
		{text: st.Dim.Render(fmt.Sprintf("%d ended", t.ended)), drop: 3},
		{text: rate},
		{text: m.spark(w), drop: 2},
		{text: cost, drop: 4},
	}, max(0, w-lipgloss.Width(nats)-1))
	lines := []string{spread(left, nats, w)}

	var right []part
	right = append(right, part{text: formatTokRate(m.meter.tokensPerSecond(m.now)) + " tok/s", drop: 3})
	right = append(right, m.agentsPart())
	if m.opts.ReadOnly {
		right = append(right, part{text: st.Warn.Render("READ-ONLY")})
	}
	rightText := fit(right, w/2)
	lines = append(lines, spread(fit(m.viewParts(), max(0, w-lipgloss.Width(rightText)-1)), rightText, w))

	if m.stale() {
		down := formatAge(m.now.Sub(m.connSince).Seconds())
		warn := fmt.Sprintf("NATS %s for %s: showing the last known state", connName(m.conn), down)
		if !m.lastEvent.IsZero() {
			warn += fmt.Sprintf(", last event %s ago", formatAge(m.now.Sub(m.lastEvent).Seconds()))
		}
		lines = append(lines, clip(st.Warn.Render(warn), w))
	}
	return lines
}

// viewParts names the view and what it shows.
func (m *Model) viewParts() []part {
	st := m.styles
	if m.showHelp {
		return []part{{text: st.Bold.Render("HELP")}, {text: st.Dim.Render("keys from the key map · esc closes"), drop: 1}}
	}
	switch m.view {
	case viewUsers:
		return []part{{text: st.Bold.Render("USERS")}, {text: itoa(m.userList().Len()) + " users"},
			{text: st.Dim.Render("spend from usage deltas · enter: their calls"), drop: 1}}
	case viewHistory:
		return []part{{text: st.Bold.Render("HISTORY")}, {text: itoa(m.hist.Len()) + " ended calls"},
			{text: st.Dim.Render("newest first · enter: detail"), drop: 1}}
	case viewAgents:
		return []part{{text: st.Bold.Render("AGENTS")}, {text: st.Dim.Render("silent: 3 heartbeats missed · enter: its calls"), drop: 1}}
	case viewDetail:
		return []part{{text: st.Bold.Render("DETAIL")}, {text: st.Dim.Render("live · esc back · ↑/↓ scroll"), drop: 1}}
	}
	ps := []part{
		{text: st.Bold.Render("CALLS")},
		{text: fmt.Sprintf("%d/%d shown", m.rows.Len(), m.rows.Total())},
		{text: "sort " + m.rows.sort.by.name() + arrowOf(m.rows.sort.desc), drop: 2},
	}
	if m.rows.filter.active() {
		ps = append(ps, part{text: st.Warn.Render("filter " + truncate(m.rows.filter.text, 30))})
	}
	return ps
}

func arrowOf(desc bool) string {
	if desc {
		return "↓"
	}
	return "↑"
}

// agentsPart is "agents 2/3" (online of known), with the silent ones
// called out.
func (m *Model) agentsPart() part {
	n, silent := len(m.board.Agents()), len(m.silent)
	if n == 0 {
		return part{text: m.styles.Dim.Render("no agent heartbeats"), drop: 2}
	}
	s := fmt.Sprintf("agents %d/%d", n-silent, n)
	if silent > 0 {
		return part{text: m.styles.Warn.Render(fmt.Sprintf("%s · %d SILENT", s, silent))}
	}
	return part{text: s, drop: 2}
}

// spark is the sparkline of total $/min, one cell per sparkBucket: more
// minutes on a wider terminal.
func (m *Model) spark(w int) string {
	n := 8
	switch {
	case w >= 160:
		n = 30
	case w >= 120:
		n = 18
	}
	return m.styles.Spark.Render(sparkline(m.meter.sparkValues(m.now, n)))
}

// sparkTicks are the eight heights of a sparkline cell.
var sparkTicks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values as bars scaled to the largest; a negative value
// (no sample) is a blank.
func sparkline(vals []float64) string {
	top := 0.0
	for _, v := range vals {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range vals {
		switch {
		case v < 0:
			b.WriteByte(' ')
		case top <= 0:
			b.WriteRune(sparkTicks[0])
		default:
			i := int(v / top * float64(len(sparkTicks)-1))
			b.WriteRune(sparkTicks[clamp(i, 0, len(sparkTicks)-1)])
		}
	}
	return b.String()
}

// formatTokRate is a token rate in at most six characters.
func formatTokRate(v float64) string {
	if v < 0 {
		v = 0
	}
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return formatTokens(int64(v + 0.5))
}

func connName(s feed.ConnState) string {
	if s == "" {
		return string(feed.ConnDown)
	}
	return sanitize(string(s))
}

// clock formats a time of day in the dashboard clock's zone.
func (m *Model) clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(m.now.Location()).Format("15:04:05")
}
