package tui

// historyView lists recently ended calls, most recent first: when, the
// API, the reason and the operator's words, who ended it, and its final
// seconds, tokens (a dash for a Live session, billed by the second) and
// cost.
func (m *Model) historyView(w, height int) []string {
	h := m.hist
	cols := []lcol{
		{title: "ENDED"},
		{title: "CALL", flex: true, minW: 14, maxW: 40},
		{title: "USER", flex: true, minW: 12, maxW: 30},
		{title: "API", drop: 3},
		{title: "REASON"},
		{title: "WHY", flex: true, minW: 9, maxW: 40},
		{title: "BY", flex: true, minW: 9, maxW: 24},
		{title: "TIME", right: true, drop: 2},
		{title: "TOKENS", right: true, drop: 1},
		{title: "COST", right: true},
	}
	return m.renderList(w, height, cols, h.Len(), &m.histCur, nil, func(i int) []lcell {
		c := &h.calls[i]
		reason := lcell{text: orDash(string(c.End.Reason)), tone: toneDim}
		if c.End.Reason == "operator" || c.End.Reason == "policy" || reasonNote(c.End.Reason) != "" {
			reason.tone = toneWarn
		}
		tokens := noTokens
		if n, ok := tableTokens(c); ok {
			tokens = formatTokens(n)
		}
		return []lcell{
			{text: m.clock(c.EndedAt)},
			{text: c.ID},
			{text: orDash(c.User)},
			{text: c.Kind().Short()},
			reason,
			{text: joinNonEmpty(": ", reasonNote(c.End.Reason), c.End.Detail)},
			{text: c.End.By},
			{text: formatAge(c.Seconds(m.now))},
			{text: tokens},
			{text: formatCost(c.Usage.CostUSD, c.Usage.CostUnknown)},
		}
	}, "no call has ended yet")
}
