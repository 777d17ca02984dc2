package tui

import "github.com/calltop/calltop/feed"

// agentsView lists the agents: online, SILENT (three heartbeats missed:
// its calls' numbers may be stale until another agent adopts them) or
// LEFT (it said goodbye: its calls were handed over, or left detached for
// the next agent to adopt), dimmed for the minute the Board keeps it. Per
// agent: the calls it reports and the live ones it owns on the board,
// those whose sideband is detached, final records waiting in its outbox
// for NATS, whether it can read credits, the last heartbeat, its uptime.
func (m *Model) agentsView(w, height int) []string {
	l := m.agentList()
	cols := []lcol{
		{title: "AGENT", flex: true, minW: 12, maxW: 40},
		{title: "STATE"},
		{title: "REPORTS", right: true, drop: 7},
		{title: "LIVE", right: true},
		{title: "DETACHED", right: true, drop: 3},
		{title: "OUTBOX", right: true, drop: 4},
		{title: "CREDITS", drop: 2},
		{title: "COST", right: true, drop: 6},
		{title: "LAST BEAT", right: true, drop: 5},
		{title: "UP", right: true, drop: 8},
		{title: "VERSION", maxW: 16, drop: 9},
	}
	left := func(i int) bool { return l.rows[i].state == feed.AgentLeft }
	return m.renderList(w, height, cols, l.Len(), &m.agentCur, left, func(i int) []lcell {
		a := &l.rows[i]
		last, up, reports, detached, outbox, credits := "-", "-", "-", lcell{text: "-"}, lcell{text: "-"}, lcell{text: "-"}
		if !a.LastSeen.IsZero() {
			last = formatAge(m.now.Sub(a.LastSeen).Seconds()) + " ago"
			reports = itoa(a.Calls)
			detached, outbox = count(a.Detached), count(a.Outbox)
		}
		if !a.StartedAt.IsZero() {
			up = formatAge(m.now.Sub(a.StartedAt).Seconds())
		}
		if a.state == feed.AgentOnline {
			credits = lcell{text: "ok"}
			if since := a.CreditsUnavailableSince; !since.IsZero() {
				credits = lcell{text: "UNREADABLE " + formatAge(m.now.Sub(since).Seconds()), tone: toneFlag}
			}
		}
		return []lcell{
			{text: a.Name}, agentState(a), {text: reports}, {text: itoa(a.live)}, detached, outbox, credits,
			{text: formatCost(a.cost, false)}, {text: last}, {text: up}, {text: orDash(a.Version)},
		}
	}, "no agent heard from yet (agents beat every 5s)")
}

// agentState is the STATE cell of an agent.
func agentState(a *agentRow) lcell {
	switch {
	case a.LastSeen.IsZero():
		return lcell{text: "no beats", tone: toneWarn}
	case a.state == feed.AgentSilent:
		return lcell{text: "SILENT", tone: toneSilent}
	case a.state == feed.AgentLeft && a.Handoff:
		return lcell{text: "LEFT: handed over"}
	case a.state == feed.AgentLeft && a.Calls > 0:
		return lcell{text: "LEFT: calls left detached", tone: toneSilent}
	case a.state == feed.AgentLeft:
		return lcell{text: "LEFT"}
	}
	return lcell{text: "online", tone: toneLive}
}

// count is a number that needs a look when it is not zero.
func count(n int) lcell {
	if n > 0 {
		return lcell{text: itoa(n), tone: toneWarn}
	}
	return lcell{text: "0"}
}
