package tui

import (
	"fmt"
	"math"
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

// headerHeight is two lines, plus one per alert.
func (m *Model) headerHeight() int {
	n := 2
	if m.replay() {
		n++
	}
	if m.stale() {
		n++
	}
	if m.agents.creditsDown > 0 {
		n++
	}
	return n
}

// stale reports whether what the dashboard shows may be behind: NATS is
// not connected, or the Source says it cannot read.
func (m *Model) stale() bool {
	return m.conn != feed.ConnConnected || !m.feedStale.since.IsZero()
}

// staleSince is since when: the earlier of the connection's loss and the
// Source's own report.
func (m *Model) staleSince() time.Time {
	var t time.Time
	if m.conn != feed.ConnConnected {
		t = m.connSince
	}
	if s := m.feedStale.since; !s.IsZero() && (t.IsZero() || s.Before(t)) {
		t = s
	}
	return t
}

// headerView is two lines: the money (live calls, detached ones, total
// $/min with its sparkline, cost on the board), where NATS is and its
// state; then what is shown (view, shown/total, sort, filter), the token
// rate and the agents. Alerts follow, one line each: the data is stale
// (and why), agents cannot read credits.
func (m *Model) headerView(w int) []string {
	st := m.styles
	t := m.totals
	cost := formatCost(t.cost, false) + " total"
	rate := formatCost(t.perMin, false) + "/min"
	if t.costUnknown {
		cost = formatCost(t.cost, false) + "+? total"
		rate = "≥" + rate
	}
	nats := m.natsPart()
	parts := []part{
		{text: st.Title.Render("calltop")},
		{text: fmt.Sprintf("%d live", t.live)},
	}
	if t.detached > 0 {
		parts = append(parts, part{text: st.Warn.Render(fmt.Sprintf("%d detached", t.detached)), drop: 1})
	}
	parts = append(parts,
		part{text: st.Dim.Render(fmt.Sprintf("%d ended", t.ended)), drop: 3},
		part{text: rate},
		part{text: m.spark(w), drop: 2},
		part{text: cost, drop: 4},
	)
	right := nats
	if m.opts.Where != "" {
		// Where NATS is goes first when the line is narrow: it is set by
		// the operator, who knows it.
		where := st.Dim.Render(sanitize(m.opts.Where))
		if lipgloss.Width(fit(parts, math.MaxInt))+2+lipgloss.Width(where)+2+lipgloss.Width(nats) <= w {
			right = where + "  " + nats
		}
	}
	left := fit(parts, max(0, w-lipgloss.Width(right)-1))
	lines := []string{spread(left, right, w)}

	var rparts []part
	rparts = append(rparts, part{text: formatTokRate(m.meter.tokensPerSecond(m.now)) + " tok/s", drop: 3})
	rparts = append(rparts, m.agentsPart())
	if m.opts.ReadOnly {
		rparts = append(rparts, part{text: st.Warn.Render("READ-ONLY")})
	}
	rightText := fit(rparts, w/2)
	lines = append(lines, spread(fit(m.viewParts(), max(0, w-lipgloss.Width(rightText)-1)), rightText, w))
	for _, a := range m.alerts() {
		lines = append(lines, clip(a, w))
	}
	return lines
}

// replay reports whether the dashboard shows a past moment.
func (m *Model) replay() bool { return !m.opts.ReplayAt.IsZero() }

// natsPart is the NATS state, with STALE and for how long while the view
// may be behind.
func (m *Model) natsPart() string {
	st := m.styles
	if m.replay() {
		return st.Err.Render("REPLAY " + m.clock(m.opts.ReplayAt))
	}
	if !m.stale() {
		return st.OK.Render("NATS connected")
	}
	s := "NATS " + connName(m.conn) + " · STALE " + formatAge(m.now.Sub(m.staleSince()).Seconds())
	if m.conn == feed.ConnConnected || m.conn == feed.ConnReconnecting {
		return st.Warn.Render(s)
	}
	return st.Err.Render(s)
}

// alerts are the header's warning lines: why the view is stale and how
// old its last event is (the table keeps the last known state), and the
// agents that cannot read credits (credit limits then follow the
// credits_unavailable policy, so budgets are not what the table implies).
func (m *Model) alerts() []string {
	st := m.styles
	var out []string
	if m.replay() {
		at := m.opts.ReplayAt.In(m.now.Location()).Format("2006-01-02 15:04:05 MST")
		out = append(out, st.Err.Render("REPLAY of "+at+": the board as it was then, from the history stream; nothing here is live"))
	}
	if m.stale() {
		warn := "showing the last known state"
		if !m.lastEvent.IsZero() {
			warn += fmt.Sprintf(", last event %s ago", formatAge(m.now.Sub(m.lastEvent).Seconds()))
		}
		if m.conn != feed.ConnConnected {
			warn = "NATS " + connName(m.conn) + ": " + warn
		} else if r := m.feedStale.reason; r != "" {
			// The reason last: it can be long, and the line is clipped.
			warn += "; cannot read: " + sanitize(r)
		} else {
			warn += "; cannot read the feed"
		}
		out = append(out, st.Warn.Render(warn))
	}
	if a := m.agents; a.creditsDown > 0 {
		who := sanitize(a.creditsAgent)
		if a.creditsDown > 1 {
			who = fmt.Sprintf("%d agents", a.creditsDown)
		}
		out = append(out, st.Warn.Render(fmt.Sprintf("CREDITS UNREADABLE %s (%s): limits follow the credits_unavailable policy",
			formatAge(m.now.Sub(a.creditsSince).Seconds()), who)))
	}
	return out
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
		other := helpKeys(m.keys.Keys(ActHistory))
		if m.showAudit {
			ps := []part{{text: st.Bold.Render("HISTORY · AUDIT")}, {text: itoa(m.audit.Len()) + " newest records"},
				{text: st.Dim.Render("who hung up what, and credits changes · " + other + ": ended calls"), drop: 1}}
			if m.audit.err != "" {
				ps = append(ps, part{text: st.Warn.Render("trail unreadable: " + truncate(sanitize(m.audit.err), 40))})
			}
			return ps
		}
		return []part{{text: st.Bold.Render("HISTORY")}, {text: itoa(m.hist.Len()) + " ended calls"},
			{text: st.Dim.Render("newest first · enter: detail · " + other + ": audit trail"), drop: 1}}
	case viewAgents:
		return []part{{text: st.Bold.Render("AGENTS")}, {text: st.Dim.Render("SILENT: 3 beats missed · LEFT: said goodbye · enter: its calls"), drop: 1}}
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
// called out and the ones that left (for a minute after) counted.
func (m *Model) agentsPart() part {
	st := m.styles
	a := m.agents
	if a.known == 0 {
		return part{text: st.Dim.Render("no agent heartbeats"), drop: 2}
	}
	p := part{text: fmt.Sprintf("agents %d/%d", a.online, a.known), drop: 2}
	if a.silent > 0 {
		p = part{text: st.Warn.Render(fmt.Sprintf("%s · %d SILENT", p.text, a.silent))}
	}
	if a.left > 0 {
		p.text += st.Dim.Render(fmt.Sprintf(" · %d left", a.left))
	}
	return p
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
