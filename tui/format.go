package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// formatCost renders a cost in US dollars: "$0.42", "$12.30", "$1,234".
// Cents stop mattering above a thousand dollars, so they are dropped to keep
// the column narrow. unknown (no price for the model) reads "?", because
// a cost that is not known is not zero.
func formatCost(usd float64, unknown bool) string {
	if unknown {
		return "?"
	}
	if math.IsNaN(usd) || math.IsInf(usd, 0) {
		return "?"
	}
	if usd < 0 {
		usd = 0
	}
	if usd < 1000 {
		return "$" + strconv.FormatFloat(usd, 'f', 2, 64)
	}
	return "$" + groupThousands(int64(math.Round(usd)))
}

// formatRate renders a burn rate in dollars per minute. A zero rate means
// the call is too young to have a meaningful one (see feed.Call.PerMinute),
// so it reads "-" rather than a misleading "$0.00".
func formatRate(perMin float64, unknown bool) string {
	if unknown {
		return "?"
	}
	if perMin <= 0 || math.IsNaN(perMin) || math.IsInf(perMin, 0) {
		return "-"
	}
	return formatCost(perMin, false)
}

// formatAge renders a duration in seconds the way an operator reads it at a
// glance: "45s", "1m05s", "2h03m", "3d04h". It never shows a negative age,
// which a skewed clock could otherwise produce.
func formatAge(seconds float64) string {
	if seconds < 0 || math.IsNaN(seconds) {
		seconds = 0
	}
	s := int64(seconds)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 100*3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

// formatTokens renders a token count in at most six characters: thousands
// separators below 100,000 ("12,345"), then a k, M or B suffix ("123.4k",
// "12.3M"), so the token columns keep their width at 80 columns.
func formatTokens(n int64) string {
	if n < 0 {
		n = 0
	}
	switch {
	case n < 100_000:
		return groupThousands(n)
	case n < 1_000_000:
		return suffixed(float64(n)/1e3, "k")
	case n < 1_000_000_000:
		return suffixed(float64(n)/1e6, "M")
	default:
		return suffixed(float64(n)/1e9, "B")
	}
}

// suffixed keeps one decimal while it fits in six characters.
func suffixed(v float64, unit string) string {
	if v < 100 {
		return strconv.FormatFloat(math.Floor(v*10)/10, 'f', 1, 64) + unit
	}
	return strconv.FormatFloat(math.Floor(v), 'f', 0, 64) + unit
}

// groupThousands writes n with commas between groups of three digits.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ellipsis is what a shortened cell ends with.
const ellipsis = "…"

// truncate shortens s to at most width terminal cells, ending it with an
// ellipsis when something was cut, so a shortened call ID or user never
// passes for a whole one.
func truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if isASCII(s) {
		if len(s) <= width {
			return s
		}
		if width == 1 {
			return ellipsis
		}
		return s[:width-1] + ellipsis
	}
	if lipgloss.Width(s) <= width {
		return s
	}
	if width == 1 {
		return ellipsis
	}
	var b strings.Builder
	w := 0
	for _, r := range s {
		rw := lipgloss.Width(string(r))
		if w+rw > width-1 {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	return b.String() + ellipsis
}

// pad truncates s to width cells and fills it with spaces on the right (or
// on the left when right is set, for numbers), so columns line up.
func pad(s string, width int, right bool) string {
	s = truncate(s, width)
	gap := width - textWidth(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// isASCII reports whether s is printable ASCII only, where a byte is a
// cell: the common case (IDs, emails, numbers), measured without the
// grapheme segmentation lipgloss.Width needs for the rest.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// textWidth is the cells s takes on a terminal.
func textWidth(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return lipgloss.Width(s)
}

// sanitize makes text that came off the network (users, models, agents'
// error strings) safe to draw. It is feed.Printable, the one definition
// calltop's terminal output shares: control characters (an OSC that
// retitles the terminal, a CSI that clears it), bidi overrides (a name
// that reads as another's) and invalid UTF-8 (a lone 0x9b is an 8-bit CSI
// on some terminals) become '?', one cell each, so widths are measured on
// what is drawn (truncate, textWidth).
func sanitize(s string) string { return feed.Printable(s) }

func itoa(n int) string { return strconv.Itoa(n) }
