package tui

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// detailState is the open call detail: which call, where enter came
// from (esc goes back there), and how far it is scrolled.
type detailState struct {
	id     string
	from   view
	scroll int
}

// capAfter is OpenAI's cap on a Realtime session, used when the session
// event (with its exact expiry) has not arrived.
const capAfter = 60 * time.Minute

// detailCall finds the detailed call on the board, else in the history.
func (m *Model) detailCall() (feed.Call, bool) {
	if c, ok := m.rows.Get(m.detail.id); ok {
		return c, true
	}
	return m.hist.get(m.detail.id)
}

// detailView shows everything known about one call, live: identity,
// usage per modality, seconds, responses, policy and budget left with the
// projected cut-off, flags with evidence, warnings, and the last events.
// It is one column, scrolled with the movement keys, or two side by side
// on a wide terminal.
func (m *Model) detailView(w, height int) []string {
	head, body, ok := m.detailBody(w)
	if !ok {
		return padLines([]string{m.styles.Dim.Render("  call " + shortID(m.detail.id) + " is no longer on the board (esc: back)")}, height)
	}
	room := max(1, height-len(head))
	scroll := clamp(m.detail.scroll, 0, max(0, len(body)-room))
	total := len(body)
	body = body[scroll:min(total, scroll+room)]
	if hidden := total - scroll - room; hidden > 0 && len(body) > 0 {
		body[len(body)-1] = m.styles.Dim.Render(fmt.Sprintf("  ↓ %d more lines (%s)", hidden+1, helpKeys(m.keys.Keys(ActDown))))
	}
	lines := append(head, body...)
	for i := range lines {
		lines[i] = clip(lines[i], w)
	}
	return padLines(lines, height)
}

// detailMaxScroll is how far the detail can scroll at the current size.
func (m *Model) detailMaxScroll() int {
	w, _ := m.size()
	head, body, _ := m.detailBody(w)
	return max(0, len(body)-max(1, m.bodyHeight()+1-len(head)))
}

// detailBody is the detail's fixed head and its scrolling body.
func (m *Model) detailBody(w int) (head, body []string, ok bool) {
	c, ok := m.detailCall()
	if !ok {
		return nil, nil, false
	}
	head = m.detailHead(&c, w)
	usage := m.usageSection
	if liveAPI(&c) {
		usage = m.liveUsageSection
	}
	sections := [][]string{
		usage(&c),
		m.secondsSection(&c),
		m.policySection(&c),
		m.signalsSection(&c),
		m.timelineSection(&c),
	}
	if w < 120 {
		return head, joinSections(sections, w-2), true
	}
	colW := (w - 4) / 2
	left := joinSections(sections[:2], colW)
	right := joinSections(sections[2:], colW)
	n := max(len(left), len(right))
	left, right = padLines(left, n), padLines(right, n)
	for i := range n {
		body = append(body, pad2(left[i], colW)+"    "+clip(right[i], colW))
	}
	return head, body, true
}

// pad2 pads a styled line to w cells.
func pad2(s string, w int) string {
	s = clip(s, w)
	return s + strings.Repeat(" ", max(0, w-lipgloss.Width(s)))
}

func joinSections(sections [][]string, w int) []string {
	var out []string
	for _, s := range sections {
		if len(s) == 0 {
			continue
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		for _, l := range s {
			out = append(out, clip(l, w))
		}
	}
	return out
}

// detailHead is the call ID with its state, and who, what and when.
func (m *Model) detailHead(c *feed.Call, w int) []string {
	st := m.styles
	rc := m.rowCtx(c)
	state := st.cells[stateTone(c, rc)][0].Render(stateText(c, rc))
	first := st.Title.Render("Call "+c.ID) + "  " + state + "  " + formatAge(c.Seconds(m.now))
	api := ""
	if liveAPI(c) { // a Realtime call's detail says nothing new
		api = " · api live"
	}
	who := fmt.Sprintf("  user %s · model %s%s · agent %s", sanitize(orDash(c.User)), sanitize(orDash(c.Model)), api, sanitize(orDash(c.Agent)))
	when := "  started " + m.clock(c.StartedAt)
	if !c.Live() {
		when += " · ended " + m.clock(c.EndedAt)
	}
	when += " · session " + sanitize(orDash(c.SessionID))
	lines := []string{first, who, when}
	if c.Live() && c.State == feed.StateDetached {
		lines = append(lines, m.detachedLines(c)...)
	}
	if !c.Live() {
		end := "  ended: " + DescribeReason(c.End.Reason)
		if why := endWhy(c); why != "" {
			end += " · " + why
		}
		lines = append(lines, st.Warn.Render(end))
	}
	return append(lines, "")
}

// detachedLines say since when and why the call's agent cannot read its
// sideband, and what that means.
func (m *Model) detachedLines(c *feed.Call) []string {
	st := m.styles
	line := "  sideband detached since " + m.clock(c.DetachedSince)
	if !c.DetachedSince.IsZero() {
		line += " (" + formatAge(m.now.Sub(c.DetachedSince).Seconds()) + ")"
	}
	if c.DetachDetail != "" {
		line += ": " + sanitize(c.DetachDetail)
	}
	return []string{
		st.cells[toneWarn][0].Render(line),
		st.Dim.Render("  still live at OpenAI: timed by the clock, limits enforced, hang-up works"),
	}
}

// usageSection is the tokens per modality (uncached = the modality's
// input minus its cached part), transcription, cost and responses.
func (m *Model) usageSection(c *feed.Call) []string {
	st := m.styles
	t := c.Usage.Tokens
	row := func(name string, uncached, cached, out int64, hasOut bool) string {
		o := "-"
		if hasOut {
			o = formatTokens(out)
		}
		return fmt.Sprintf("  %-7s %9s %9s %9s", name, formatTokens(max(0, uncached)), formatTokens(cached), o)
	}
	lines := []string{
		st.Bold.Render("Usage") + st.Dim.Render(fmt.Sprintf("   %9s %9s %9s", "uncached", "cached", "output")),
		row("text", t.InputText-t.CachedText, t.CachedText, t.OutputText, true),
		row("audio", t.InputAudio-t.CachedAudio, t.CachedAudio, t.OutputAudio, true),
		row("image", t.InputImage-t.CachedImage, t.CachedImage, 0, false),
		row("total", t.Input-t.InputCached, t.InputCached, t.Output, true) + st.Dim.Render("  = "+formatTokens(t.Total)),
	}
	u := c.Usage
	lines = append(lines, m.costLines(c)...)
	resp := fmt.Sprintf("  responses %d", u.Responses)
	if len(u.ByStatus) > 0 {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(u.ByStatus)) {
			parts = append(parts, fmt.Sprintf("%s %d", sanitize(s), u.ByStatus[s]))
		}
		resp += ": " + strings.Join(parts, " · ")
	}
	lines = append(lines, resp)
	if u.Errors > 0 || u.Skipped > 0 {
		lines = append(lines, st.cells[toneWarn][0].Render(fmt.Sprintf("  errors %d · skipped frames %d", u.Errors, u.Skipped)))
	}
	return lines
}

// secondsSection is wall time, who spoke how long, and the time left to
// OpenAI's 60-minute cap (from the session's expiry, else estimated from
// the start); a Live session's cap is its own (liveCapLine).
func (m *Model) secondsSection(c *feed.Call) []string {
	u := c.Usage
	lines := []string{
		m.styles.Bold.Render("Seconds"),
		fmt.Sprintf("  wall %s · user speech %s · agent speech %s",
			formatAge(c.Seconds(m.now)), formatAge(u.UserSpeechSeconds), formatAge(u.AgentSpeechSeconds)),
	}
	switch {
	case !c.Live():
	case liveAPI(c):
		if line, ok := m.liveCapLine(c); ok {
			lines = append(lines, line)
		}
	default:
		capAt, est := c.ExpiresAt, ""
		if capAt.IsZero() && !c.StartedAt.IsZero() {
			capAt, est = c.StartedAt.Add(capAfter), "≈"
		}
		if !capAt.IsZero() {
			lines = append(lines, fmt.Sprintf("  60-min cap in %s%s (at %s)", est, formatAge(capAt.Sub(m.now).Seconds()), m.clock(capAt)))
		}
	}
	return lines
}

// limitRow is one limit of a policy: used, max, left, and when the call
// reaches it at its current burn.
type limitRow struct {
	name            string
	used, max, left string
	in              time.Duration // -1: never (no burn)
}

// policySection is the call's limits with what is left of each and the
// projected cut-off: the first limit the call reaches at its average rate
// so far.
func (m *Model) policySection(c *feed.Call) []string {
	st := m.styles
	if c.Policy == nil {
		return []string{st.Bold.Render("Policy"), st.Dim.Render("  none known (the agent sends it on started/usage)")}
	}
	p := c.Policy
	secs := c.Seconds(m.now)
	perSec := func(used float64) float64 {
		if secs < 10 {
			return 0
		}
		return used / secs
	}
	eta := func(used, limit float64) time.Duration {
		r := perSec(used)
		if r <= 0 {
			return -1
		}
		return time.Duration(max(0, limit-used) / r * float64(time.Second))
	}
	cost := c.Usage.CostUSD
	var rows []limitRow
	if p.MaxCostUSD > 0 {
		rows = append(rows, limitRow{"cost", formatCost(cost, c.Usage.CostUnknown), formatCost(p.MaxCostUSD, false),
			formatCost(p.MaxCostUSD-cost, false), eta(cost, p.MaxCostUSD)})
	}
	if p.CreditsUSD != nil {
		rows = append(rows, limitRow{"credits", formatCost(cost, c.Usage.CostUnknown), formatCost(*p.CreditsUSD, false),
			formatCost(*p.CreditsUSD-cost, false), eta(cost, *p.CreditsUSD)})
	}
	if p.MaxTokens > 0 {
		tok := float64(c.Usage.Tokens.Total)
		rows = append(rows, limitRow{"tokens", formatTokens(c.Usage.Tokens.Total), formatTokens(p.MaxTokens),
			formatTokens(p.MaxTokens - c.Usage.Tokens.Total), eta(tok, float64(p.MaxTokens))})
	}
	if p.MaxSeconds > 0 {
		rows = append(rows, limitRow{"time", formatAge(secs), formatAge(p.MaxSeconds), formatAge(p.MaxSeconds - secs),
			time.Duration(max(0, p.MaxSeconds-secs) * float64(time.Second))})
	}
	lines := []string{st.Bold.Render("Policy") + st.Dim.Render(fmt.Sprintf("  %9s %9s %9s  %s", "used", "limit", "left", "cut-off"))}
	if len(rows) == 0 {
		lines = append(lines, st.Dim.Render("  no limits"))
	}
	first := -1
	for i, r := range rows {
		if r.in >= 0 && (first < 0 || r.in < rows[first].in) {
			first = i
		}
	}
	for i, r := range rows {
		in := "-"
		if r.in >= 0 {
			in = "in " + formatAge(r.in.Seconds())
		}
		line := fmt.Sprintf("  %-7s %9s %9s %9s  %s", r.name, r.used, r.max, r.left, in)
		if i == first && c.Live() {
			line = st.cells[toneWarn][0].Render(line + " ← first")
		}
		lines = append(lines, line)
	}
	if first >= 0 && c.Live() {
		lines = append(lines, fmt.Sprintf("  cut off in %s by %s at %s/min", formatAge(rows[first].in.Seconds()), rows[first].name,
			formatRate(c.PerMinute(m.now), c.Usage.CostUnknown)))
	}
	if p.WarnAt > 0 {
		lines = append(lines, st.Dim.Render(fmt.Sprintf("  warns at %.0f%% of a limit", 100*p.WarnAt)))
	}
	return lines
}

// signalsSection is the call's flags with their evidence, and its
// warnings.
func (m *Model) signalsSection(c *feed.Call) []string {
	st := m.styles
	var lines []string
	if len(c.Flags) > 0 {
		lines = append(lines, st.Bold.Render("Flags"))
		for _, f := range c.Flags {
			line := "  !" + flagCode(f.Kind) + " " + sanitize(string(f.Kind))
			if f.Message != "" {
				line += ": " + sanitize(f.Message)
			}
			lines = append(lines, st.cells[toneFlag][0].Render(line))
			for _, k := range slices.Sorted(maps.Keys(f.Evidence)) {
				lines = append(lines, st.Dim.Render("      "+sanitize(k)+" = "+sanitize(f.Evidence[k])))
			}
		}
	}
	if len(c.Warnings) > 0 {
		lines = append(lines, st.Bold.Render("Warnings"))
		for _, w := range c.Warnings {
			line := fmt.Sprintf("  %s %.0f%% (%s of %s)", limitName(w.Limit), pct(w.Used, w.Max),
				formatLimit(w.Limit, w.Used), formatLimit(w.Limit, w.Max))
			if w.Message != "" {
				line += ": " + sanitize(w.Message)
			}
			lines = append(lines, st.cells[toneWarn][0].Render(line))
		}
	}
	return lines
}

// usageDelta says what one usage event added: "+$0.02 +1,074 tok",
// "+<$0.01" (transcription or rounding), or "no new tokens" (seconds
// only).
func usageDelta(cost float64, tokens int64) string {
	parts := costDelta(cost)
	if tokens > 0 {
		parts = append(parts, "+"+formatTokens(tokens)+" tok")
	}
	if len(parts) == 0 {
		return "no new tokens"
	}
	return strings.Join(parts, " ")
}

// liveUsageDelta is usageDelta for a GPT-Live session, which is billed
// by the second: "+$0.01 +12.0 s billed", or "no new seconds".
func liveUsageDelta(cost, billed float64) string {
	parts := costDelta(cost)
	if billed >= 0.05 {
		parts = append(parts, fmt.Sprintf("+%.1f s billed", billed))
	}
	if len(parts) == 0 {
		return "no new seconds"
	}
	return strings.Join(parts, " ")
}

// formatLimit formats a warning's number in the limit's unit.
func formatLimit(l feed.Limit, v float64) string {
	switch l {
	case feed.LimitCost, feed.LimitCredits:
		return formatCost(v, false)
	case feed.LimitSeconds:
		return formatAge(v)
	case feed.LimitTokens:
		return formatTokens(int64(v))
	}
	return fmt.Sprintf("%g", v)
}

// timelineSection is the call's last events, oldest first; a usage event
// shows what it added.
func (m *Model) timelineSection(c *feed.Call) []string {
	tl := m.timelines[c.ID]
	if tl == nil || tl.n == 0 {
		return nil
	}
	lines := []string{m.styles.Bold.Render("Last events")}
	live := liveAPI(c)
	var prevCost, prevBilled float64
	var prevTok int64
	havePrev := false
	for _, mo := range tl.list() {
		text := mo.note
		if mo.kind == feed.KindUsage || mo.kind == feed.KindEnded {
			switch {
			case havePrev && live:
				text = joinNonEmpty(" · ", liveUsageDelta(mo.cost-prevCost, mo.billed-prevBilled), text)
			case havePrev:
				text = joinNonEmpty(" · ", usageDelta(mo.cost-prevCost, mo.tokens-prevTok), text)
			case text == "" && live:
				text = fmt.Sprintf("%s, %.1f s billed", formatCost(mo.cost, false), mo.billed)
			case text == "":
				text = fmt.Sprintf("%s, %s tok", formatCost(mo.cost, false), formatTokens(mo.tokens))
			}
			prevCost, prevTok, prevBilled, havePrev = mo.cost, mo.tokens, mo.billed, true
		}
		lines = append(lines, fmt.Sprintf("  %s #%-4d %-9s %s", m.clock(mo.at), mo.seq, mo.kind, sanitize(text)))
	}
	return lines
}

// costLines are what both APIs' usage sections end with: input
// transcription, the cost so far, and the gaps no agent read.
func (m *Model) costLines(c *feed.Call) []string {
	st, u := m.styles, c.Usage
	var lines []string
	switch {
	case u.TranscriptionTokens > 0 && u.TranscriptionSeconds > 0:
		lines = append(lines, fmt.Sprintf("  transcription %s tokens · %.1f s", formatTokens(u.TranscriptionTokens), u.TranscriptionSeconds))
	case u.TranscriptionTokens > 0:
		lines = append(lines, "  transcription "+formatTokens(u.TranscriptionTokens)+" tokens")
	case u.TranscriptionSeconds > 0:
		lines = append(lines, fmt.Sprintf("  transcription %.1f s of audio", u.TranscriptionSeconds))
	}
	lines = append(lines, "  cost "+costSoFar(c, m.now))
	if u.Gaps > 0 {
		lines = append(lines, st.cells[toneWarn][0].Render(fmt.Sprintf("  gaps %d · %s unread: what OpenAI billed then is not in these totals",
			u.Gaps, formatAge(u.GapSeconds))))
	}
	return lines
}

// costDelta is what a usage event added to the cost: "+$0.02", "+<$0.01"
// (transcription or rounding), or nothing.
func costDelta(cost float64) []string {
	switch {
	case cost >= 0.005:
		return []string{"+" + formatCost(cost, false)}
	case cost > 0:
		return []string{"+<$0.01"}
	}
	return nil
}
