package agent

import (
	"bytes"
	"errors"
	"fmt"
)

// errNoType means a frame was a JSON object without a top-level string "type".
var errNoType = errors.New("no top-level \"type\"")

// errFrameEnd means a frame ended in the middle of a value.
var errFrameEnd = errors.New("unexpected end of frame")

// peekType returns the value of the top-level "type" key of a JSON object
// without decoding anything else and without allocating: most sideband
// frames (transcript deltas, item events) are ignored, so finding out which
// kind a frame is must cost next to nothing. It is a strict scanner: any
// malformed input is an error, never a panic.
func peekType(b []byte) ([]byte, error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	i++
	for {
		i = skipWS(b, i)
		if i < len(b) && b[i] == '}' {
			return nil, errNoType
		}
		ks, ke, err := scanString(b, i)
		if err != nil {
			return nil, err
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, fmt.Errorf("offset %d: want ':'", i)
		}
		i = skipWS(b, i+1)
		key := b[ks+1 : ke-1]
		if string(key) == "type" && i < len(b) && b[i] == '"' {
			vs, ve, err := scanString(b, i)
			if err != nil {
				return nil, err
			}
			return b[vs+1 : ve-1], nil
		}
		if i, err = skipValue(b, i); err != nil {
			return nil, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return nil, errFrameEnd
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return nil, errNoType
		default:
			return nil, fmt.Errorf("offset %d: want ',' or '}'", i)
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanString expects a string at b[i] and returns its bounds including the
// quotes. Escapes are skipped, not decoded (a key with escapes never equals
// "type" in practice, and a wrong "no" there only ignores a frame). It
// jumps from quote to quote with bytes.IndexByte (vectorised): strings are
// most of a frame's bytes (transcripts, instructions, tool schemas). A
// quote ends the string unless an odd run of backslashes precedes it.
func scanString(b []byte, i int) (start, end int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, fmt.Errorf("offset %d: want a string", i)
	}
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, 0, fmt.Errorf("offset %d: unterminated string", i)
		}
		q := j + k
		p := q - 1
		for p > i && b[p] == '\\' {
			p--
		}
		if (q-1-p)%2 == 0 {
			return i, q + 1, nil
		}
		j = q + 1
	}
}

// maxDepth bounds nesting so a hostile frame cannot recurse deeply.
const maxDepth = 64

// skipValue skips one JSON value starting at b[i] and returns the offset
// after it. It checks structure (brackets, strings), not number or literal
// syntax: the values the agent keeps are decoded strictly (extract.go).
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errFrameEnd
	}
	switch b[i] {
	case '"':
		_, e, err := scanString(b, i)
		return e, err
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				_, e, err := scanString(b, i)
				if err != nil {
					return 0, err
				}
				i = e
				continue
			case '{', '[':
				if depth++; depth > maxDepth {
					return 0, fmt.Errorf("offset %d: nested deeper than %d", i, maxDepth)
				}
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errFrameEnd
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("offset %d: want a value", i)
		}
		return j, nil
	}
}
