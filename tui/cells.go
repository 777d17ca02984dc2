package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/calltop/calltop/feed"
)

// tone is how a cell is coloured. Every tone repeats something the text
// already says (the state's words, a flag's "!", a change's ↑/↓), so
// nothing depends on colour alone.
type tone int

const (
	tonePlain tone = iota
	toneLive
	toneBusy   // a hang-up in flight
	toneSilent // the owning agent stopped beating
	toneFlag
	toneWarn
	toneFlash
	toneDim
	numTones
)

// rowCtx is what rendering a row needs beyond the call.
type rowCtx struct {
	now     time.Time
	pending bool
	// gone is the state of the call's agent when it is not online
	// (feed.AgentSilent or feed.AgentLeft), "" otherwise.
	gone string
}

// rowCtx is the context of one call's row at now.
func (m *Model) rowCtx(c *feed.Call) rowCtx {
	rc := rowCtx{now: m.now, pending: m.pending[c.ID]}
	if c.Live() {
		rc.gone = m.gone[c.Agent]
	}
	return rc
}

// cellText is the text and tone of one cell of a call.
func cellText(id colID, x *row, rc rowCtx, width int) (string, tone) {
	c := &x.call
	u := c.Usage
	switch id {
	case colCall:
		return truncate(c.ID, width), tonePlain
	case colUser:
		return truncate(sanitize(orDash(c.User)), width), tonePlain
	case colAPI:
		if liveAPI(c) {
			return "live", tonePlain
		}
		return "rt  ", tonePlain // as wide as the column: pad need not allocate, row after row
	case colModel:
		return truncate(sanitize(orDash(c.Model)), width), tonePlain
	case colAgent:
		return truncate(sanitize(orDash(c.Agent)), width), tonePlain
	case colState:
		return truncate(stateText(c, rc), width), stateTone(c, rc)
	case colAge:
		return formatAge(c.Seconds(rc.now)), tonePlain
	case colTokensIn, colTokensOut, colTokens:
		return tokenCell(id, x, rc, width)
	case colCost:
		return marked(formatCost(u.CostUSD, u.CostUnknown), x.flash.cost, false, rc.now, width)
	case colRate:
		return marked(formatRate(c.PerMinute(rc.now), u.CostUnknown), x.flash.rate, x.flash.rateDown, rc.now, width)
	case colNotes:
		s, t := notes(c)
		return truncate(s, width), t
	}
	return "", tonePlain
}

// tokenCell is a token column's cell: IN, OUT and TOKENS of a Realtime
// call; a dash for a Live session (see tableTokens), never marked.
func tokenCell(id colID, x *row, rc rowCtx, width int) (string, tone) {
	t := &x.call.Usage.Tokens
	if _, ok := tableTokens(&x.call); !ok {
		return rightDash(width, id == colTokens), tonePlain
	}
	switch id {
	case colTokensIn:
		return formatTokens(t.Input), tonePlain
	case colTokensOut:
		return formatTokens(t.Output), tonePlain
	}
	return marked(formatTokens(t.Total), x.flash.tokens, false, rc.now, width)
}

// dashCells is noTokens right-aligned in 32 cells, then one cell more.
const dashCells = "                               " + noTokens + " "

// rightDash is noTokens right-aligned in width cells, followed by one more
// when marked (TOKENS keeps a cell for ↑/↓). It is sliced from a constant,
// so a screen of Live rows allocates nothing per cell.
func rightDash(width int, marked bool) string {
	end, tail := len(dashCells), " "
	if !marked {
		end, tail = end-1, ""
	}
	if width > end || width < 0 {
		return pad(noTokens+tail, width, true)
	}
	return dashCells[end-width : end]
}

// marked right-aligns a number in width-1 cells and adds ↑ or ↓ while its
// last change is recent.
func marked(val string, changed time.Time, down bool, now time.Time, width int) (string, tone) {
	if !flashOn(changed, now) {
		return pad(val, width-1, true) + " ", tonePlain
	}
	arrow := "↑"
	if down {
		arrow = "↓"
	}
	return pad(val, width-1, true) + arrow, toneFlash
}

// stateText is the STATE cell: "live"; "hanging up" once a terminate was
// sent; "agent silent" or "agent left" when the owning agent missed its
// heartbeats or said goodbye (the numbers may be stale until another
// agent adopts the call); "detached 12s" while the agent cannot read the
// call's sideband (the call goes on, metered by the clock); or "ended" and
// why ("ended operator"). Without a clock (rc.now zero) a detached call is
// just "detached", as the filter matches it.
func stateText(c *feed.Call, rc rowCtx) string {
	switch {
	case !c.Live():
		if c.End.Reason == "" {
			return "ended"
		}
		return "ended " + sanitize(string(c.End.Reason))
	case rc.pending:
		return "hanging up"
	case rc.gone == feed.AgentLeft:
		return "agent left"
	case rc.gone != "":
		return "agent silent"
	case c.State == feed.StateDetached:
		if rc.now.IsZero() || c.DetachedSince.IsZero() {
			return "detached"
		}
		return "detached " + formatAge(rc.now.Sub(c.DetachedSince).Seconds())
	}
	return "live"
}

// stateWidths are the widest STATE texts of a live call: the table keeps
// room for them while some call is in that state, so the column does not
// jitter as a detached call's age grows.
const (
	goneWidth     = len("agent silent")
	detachedWidth = len("detached 1m05s") // and "detached 2h03m", "3d04h"
)

func stateTone(c *feed.Call, rc rowCtx) tone {
	switch {
	case !c.Live():
		return toneDim
	case rc.pending:
		return toneBusy
	case rc.gone != "":
		return toneSilent
	case c.State == feed.StateDetached:
		return toneWarn
	}
	return toneLive
}

// flagCodes are the short upper-case names of abuse signals in the table;
// the detail view shows the full kind, message and evidence.
var flagCodes = map[feed.FlagKind]string{
	feed.FlagKeyUnclaimed:       "KEY-UNCLAIMED",
	feed.FlagKeyReused:          "KEY-REUSED",
	feed.FlagKeyOtherUser:       "KEY-OTHER-USER",
	feed.FlagConcurrency:        "CONCURRENCY",
	feed.FlagBurnRate:           "BURN",
	feed.FlagNearCap:            "NEAR-CAP",
	feed.FlagSilence:            "SILENCE",
	feed.FlagZombie:             "ZOMBIE",
	feed.FlagAgentSilent:        "AGENT-SILENT",
	feed.FlagCreditsUnavailable: "CREDITS-UNREADABLE", // not "no credits": the store could not be read
	feed.FlagGap:                "GAP",
	feed.FlagAPIMismatch:        "WRONG-API",
}

func flagCode(k feed.FlagKind) string {
	if s, ok := flagCodes[k]; ok {
		return s
	}
	return strings.ToUpper(sanitize(string(k)))
}

// limitNames are the short names of limits in warnings.
var limitNames = map[feed.Limit]string{
	feed.LimitSeconds: "time",
	feed.LimitTokens:  "tokens",
	feed.LimitCost:    "cost",
	feed.LimitCredits: "credit",
}

func limitName(l feed.Limit) string {
	if s, ok := limitNames[l]; ok {
		return s
	}
	return sanitize(string(l))
}

// notes is the NOTES cell: for a live call its flags ("!BURN") and
// warnings ("cost 85%"); for an ended one why and who ("abusive caller
// (maria@oncall-3)").
//
// An ended call's reason that needs explaining leads ("OpenAI safety
// filter: …"), since STATE shows only its word ("ended content").
func notes(c *feed.Call) (string, tone) {
	if !c.Live() {
		s := endWhy(c)
		if n := reasonNote(c.End.Reason); n != "" {
			s = joinNonEmpty(": ", n, s)
		}
		return s, toneDim
	}
	if len(c.Flags) == 0 && len(c.Warnings) == 0 {
		return "", tonePlain
	}
	parts := make([]string, 0, len(c.Flags)+len(c.Warnings))
	for _, f := range c.Flags {
		parts = append(parts, "!"+flagCode(f.Kind))
	}
	for _, w := range c.Warnings {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", limitName(w.Limit), pct(w.Used, w.Max)))
	}
	t := toneWarn
	if len(c.Flags) > 0 {
		t = toneFlag
	}
	return strings.Join(parts, " "), t
}

// endWhy is why and by whom an ended call ended, as its agent said
// ("abusive caller (maria@oncall-3)", "by maria@oncall-3"), printable.
func endWhy(c *feed.Call) string {
	var s string
	switch {
	case c.End.Detail != "" && c.End.By != "":
		s = c.End.Detail + " (" + c.End.By + ")"
	case c.End.Detail != "":
		s = c.End.Detail
	case c.End.By != "":
		s = "by " + c.End.By
	}
	return sanitize(s)
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		switch {
		case p == "":
		case out == "":
			out = p
		default:
			out += sep + p
		}
	}
	return out
}

// stateWidth is the widest STATE text a call may show before the next
// measure: a live call may turn "hanging up" or "agent silent", which
// refresh makes room for.
func stateWidth(c *feed.Call) int {
	if c.Live() {
		return len("live")
	}
	return len(stateText(c, rowCtx{}))
}
