package feed

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@acme.io", "alice@acme.io"},
		{"zoë 山田 😀", "zoë 山田 😀"},
		{"\x1b]0;pwned\x07bob", "?]0;pwned?bob"},
		{"\x1b[2Jx", "?[2Jx"},
		{"a\tb\nc\rd\x00e\x7f", "a?b?c?d?e?"},
		{"\u009b31mred", "?31mred"},                // C1 CSI as a rune
		{"\x9b31mred", "?31mred"},                  // a lone 0x9b byte: invalid UTF-8
		{"admin\u202egnp.exe", "admin?gnp.exe"},    // right-to-left override
		{"\u2066x\u2069 \u200ey\u200f", "?x? ?y?"}, // isolates, LRM, RLM
		{"\u202a\u202b\u202c\u202d", "????"},
		{"", ""},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPrintableLeavesNoControl(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	all.WriteString("\xff\xfe\xc3")
	for _, r := range Printable(all.String()) {
		if unprintable(r) || r == '\uFFFD' {
			t.Fatalf("Printable left %U", r)
		}
	}
}
