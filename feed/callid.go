package feed

import (
	"errors"
	"fmt"
)

// MaxCallIDLen bounds a call ID. Real IDs ("rtc_u1_" + 32 characters) are far
// shorter; the bound keeps subjects, URLs and logs small.
const MaxCallIDLen = 128

// ErrInvalidCallID is returned (wrapped) by ValidateCallID.
var ErrInvalidCallID = errors.New("invalid call id")

// ValidateCallID accepts letters, digits, '_' and '-', at most MaxCallIDLen
// bytes. Every call ID is checked before it is put into a NATS subject, a URL
// or a WebSocket dial, because it usually comes from a browser: a '.', '*' or
// '>' would change the subject's meaning, a '/' or '?' the URL's.
func ValidateCallID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidCallID)
	}
	if len(id) > MaxCallIDLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidCallID, len(id), MaxCallIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q: byte %d (%q) is not a letter, digit, '_' or '-'", ErrInvalidCallID, truncate(id, 40), i, c)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
