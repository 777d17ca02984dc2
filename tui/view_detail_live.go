package tui

import (
	"fmt"

	"github.com/calltop/calltop/feed"
)

// liveMinimumBilled is what OpenAI bills a GPT-Live session created over
// WebRTC before it runs: 15 s at creation, credited once it runs.
const liveMinimumBilled = "15 s minimum billed"

// liveUsageSection is the Usage of a GPT-Live session in place of the
// Realtime per-modality tokens, which it has none of: OpenAI's billed
// seconds (its cumulative usage.seconds, which may differ from the wall
// clock), the standby seconds, the delegated Responses backend's tokens
// and their part of the cost; then, as for a Realtime call,
// transcription, cost, gaps and errors.
func (m *Model) liveUsageSection(c *feed.Call) []string {
	st := m.styles
	u := c.Usage
	billed := billedSeconds(u.LiveSeconds)
	if u.LiveSeconds == 0 && c.Live() {
		billed = "not yet run (" + liveMinimumBilled + ")"
	}
	lines := []string{
		st.Bold.Render("Usage") + st.Dim.Render("  GPT-Live, billed by the second"),
		"  billed   " + billed + st.Dim.Render("  OpenAI's count"),
		"  standby  " + billedSeconds(u.StandbySeconds),
		"  backend  " + backendUsage(u.BackendTokens, u.BackendUSD),
	}
	lines = append(lines, m.costLines(c)...)
	if u.Errors > 0 || u.Skipped > 0 {
		lines = append(lines, st.cells[toneWarn][0].Render(fmt.Sprintf("  errors %d · skipped frames %d", u.Errors, u.Skipped)))
	}
	return lines
}

// billedSeconds is a count of billed seconds to the tenth, as OpenAI
// reports it, with the operator's reading from a minute on: "61.3 s
// (1m01s)".
func billedSeconds(s float64) string {
	out := fmt.Sprintf("%.1f s", max(0, s))
	if s >= 60 {
		out += " (" + formatAge(s) + ")"
	}
	return out
}

// backendUsage is a Live session's backend tokens and their cost:
// "1,500 tok: in 1,200 (cached 1,024) · out 300 · $0.01". A cost of zero
// on tokens means the backend model has no price (feed.Usage.BackendUSD).
func backendUsage(t feed.Tokens, usd float64) string {
	if t == (feed.Tokens{}) {
		return "none"
	}
	cost := formatCost(usd, false)
	switch {
	case usd == 0:
		cost = "no price for its model"
	case usd < 0.005:
		cost = "<$0.01"
	}
	return fmt.Sprintf("%s tok: in %s (cached %s) · out %s · %s",
		formatTokens(t.Total), formatTokens(t.Input), formatTokens(t.InputCached), formatTokens(t.Output), cost)
}

// liveCapLine is the time left to a Live session's cap: OpenAI's
// expires_at when the session event gave it, else ≈ two hours from the
// start (feed.MaxCallLife: observed, not documented).
func (m *Model) liveCapLine(c *feed.Call) (string, bool) {
	capAt, est := c.ExpiresAt, ""
	if capAt.IsZero() && !c.StartedAt.IsZero() {
		capAt, est = c.StartedAt.Add(feed.MaxCallLife), "≈"
	}
	if capAt.IsZero() {
		return "", false
	}
	return fmt.Sprintf("  expires in %s%s (at %s)", est, formatAge(capAt.Sub(m.now).Seconds()), m.clock(capAt)), true
}
