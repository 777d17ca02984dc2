package tui

import (
	"math"
	"testing"

	"charm.land/lipgloss/v2"
)

func TestFormatCost(t *testing.T) {
	for _, tc := range []struct {
		usd     float64
		unknown bool
		want    string
	}{
		{0, false, "$0.00"},
		{0.42, false, "$0.42"},
		{0.005, false, "$0.01"},
		{12.3, false, "$12.30"},
		{999.99, false, "$999.99"},
		{1234.5, false, "$1,235"},
		{1_234_567, false, "$1,234,567"},
		{-1, false, "$0.00"},
		{math.NaN(), false, "?"},
		{0.42, true, "?"},
	} {
		if got := formatCost(tc.usd, tc.unknown); got != tc.want {
			t.Errorf("formatCost(%v, %v) = %q, want %q", tc.usd, tc.unknown, got, tc.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		perMin  float64
		unknown bool
		want    string
	}{
		{0, false, "-"}, // too young for a rate
		{0.31, false, "$0.31"},
		{7, false, "$7.00"},
		{1, true, "?"},
		{math.Inf(1), false, "-"},
	} {
		if got := formatRate(tc.perMin, tc.unknown); got != tc.want {
			t.Errorf("formatRate(%v, %v) = %q, want %q", tc.perMin, tc.unknown, got, tc.want)
		}
	}
}

func TestFormatAge(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		want string
	}{
		{-3, "0s"},
		{0, "0s"},
		{5.9, "5s"},
		{59, "59s"},
		{60, "1m00s"},
		{65, "1m05s"},
		{3599, "59m59s"},
		{3600, "1h00m"},
		{3*3600 + 7*60 + 59, "3h07m"},
		{100 * 3600, "4d04h"},
	} {
		if got := formatAge(tc.s); got != tc.want {
			t.Errorf("formatAge(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestFormatTokens(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{-1, "0"},
		{0, "0"},
		{999, "999"},
		{1000, "1,000"},
		{12345, "12,345"},
		{99_999, "99,999"},
		{100_000, "100k"},
		{250_000, "250k"},
		{1_500_000, "1.5M"},
		{12_345_678, "12.3M"},
		{999_999_999, "999M"},
		{2_000_000_000, "2.0B"},
	} {
		got := formatTokens(tc.n)
		if got != tc.want {
			t.Errorf("formatTokens(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if len(got) > 6 {
			t.Errorf("formatTokens(%d) = %q: wider than 6", tc.n, got)
		}
	}
}

func TestTruncateAndPad(t *testing.T) {
	id := "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn"
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{id, 100, id},
		{id, len(id), id},
		{id, 12, "rtc_u1_ETYJ…"},
		{"alice", 1, "…"},
		{"alice", 0, ""},
		{"名前名前", 5, "名前…"}, // wide runes count two cells
	} {
		got := truncate(tc.s, tc.width)
		if got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
		if w := lipgloss.Width(got); w > max(tc.width, 0) {
			t.Errorf("truncate(%q, %d) is %d cells", tc.s, tc.width, w)
		}
	}
	if got := pad("42", 5, true); got != "   42" {
		t.Errorf("pad right = %q", got)
	}
	if got := pad("ab", 4, false); got != "ab  " {
		t.Errorf("pad left = %q", got)
	}
	if got := sanitize("bob\x1b[2J\n"); got != "bob?[2J?" {
		t.Errorf("sanitize = %q", got)
	}
}

// TestSanitize: what reaches the screen from outside is one printable
// cell per character it replaces, whatever the bytes.
func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@acme.io", "alice@acme.io"},
		{"zoë 日本", "zoë 日本"},
		{"\x1b]0;pwn\x07x", "?]0;pwn?x"},       // OSC: retitles the terminal
		{"a\u202eexe.gnp", "a?exe.gnp"},        // RLO: reverses what follows
		{"\u2066a\u2069\u200e\u061c", "?a???"}, // isolates, LRM, ALM
		{"a\x9b2Jb", "a?2Jb"},                  // a lone 0x9b: an 8-bit CSI
		{"\xc2\x9b", "?"},                      // U+009B, valid UTF-8 C1
		{"\xff\xfe", "??"},
	} {
		got := sanitize(tc.in)
		if got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if w := textWidth(got); w != lipgloss.Width(tc.want) {
			t.Errorf("sanitize(%q) is %d cells, want %d", tc.in, w, lipgloss.Width(tc.want))
		}
	}
}
