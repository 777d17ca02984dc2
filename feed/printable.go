package feed

import (
	"strings"
	"unicode/utf8"
)

// Printable makes a string from outside (a user as the app or a SIP From
// header gave it, a model, an agent's error text) safe to print on a
// terminal: every C0 and C1 control character, DEL, invalid UTF-8 and
// every bidirectional-formatting character becomes '?'. A control
// character could retitle, clear or rewrite the operator's terminal (ESC ]
// 0 ; … BEL, ESC [2J); a bidi override could make one user's name read as
// another's. They are replaced rather than dropped, so that two names that
// differ only by them still look different. Tabs and newlines are replaced
// too: every use prints one field of one line.
func Printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unprintable) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unprintable(r) {
			return '?'
		}
		return r
	}, s)
}

// unprintable reports the characters Printable replaces.
func unprintable(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0: // C0, DEL, C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // Arabic letter mark, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}
