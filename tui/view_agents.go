package tui

// agentsView lists the agents: online or SILENT (three heartbeats
// missed: its calls' numbers may be stale, and its calls are marked in
// the calls table), the calls it reports and the live calls it owns on the
// board, the last heartbeat and its uptime.
func (m *Model) agentsView(w, height int) []string {
	l := m.agentList()
	cols := []lcol{
		{title: "AGENT", flex: true, minW: 12, maxW: 40},
		{title: "STATE"},
		{title: "REPORTS", right: true, drop: 1},
		{title: "LIVE", right: true},
		{title: "COST", right: true},
		{title: "LAST BEAT", right: true},
		{title: "UP", right: true},
		{title: "VERSION", maxW: 16, drop: 2},
	}
	return m.renderList(w, height, cols, l.Len(), &m.agentCur, nil, func(i int) []lcell {
		a := l.rows[i]
		state := lcell{text: "online", tone: toneLive}
		last, up, reports := "-", "-", "-"
		switch {
		case a.LastSeen.IsZero():
			state = lcell{text: "no beats", tone: toneWarn}
		case a.silent:
			state = lcell{text: "SILENT", tone: toneSilent}
		}
		if !a.LastSeen.IsZero() {
			last = formatAge(m.now.Sub(a.LastSeen).Seconds()) + " ago"
			reports = itoa(a.Calls)
		}
		if !a.StartedAt.IsZero() {
			up = formatAge(m.now.Sub(a.StartedAt).Seconds())
		}
		return []lcell{
			{text: a.Name}, state, {text: reports}, {text: itoa(a.live)},
			{text: formatCost(a.cost, false)}, {text: last}, {text: up}, {text: orDash(a.Version)},
		}
	}, "no agent heard from yet (agents beat every 5s)")
}
