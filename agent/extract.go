package agent

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The accountant reads a handful of values out of frames that are mostly
// something else: a response.done is its output and transcript around a
// small usage block, a session.updated is ~100 KB of instructions and tool
// schemas around an id, a model and an expiry. encoding/json would check
// and walk every byte of them twice (validation, then decoding, with a
// call per byte); the helpers below walk a frame once with the structural
// scanner of decode.go and decode only the values the agent keeps, with
// the same results as encoding/json for those values (a string, a number
// or an object of the wrong kind is an error; null is the zero value),
// which FuzzExtract checks. What they skip is checked for structure
// (brackets, strings, nesting depth) but not for number or literal syntax.
// Keys are matched exactly, not case-insensitively as encoding/json does,
// and a key repeated in one object may read differently: OpenAI's keys
// are lower case and unique.

var errNotObject = errors.New("want an object")

// eachField calls fn with every key (raw, between its quotes) and value
// (its exact bytes) of the JSON object v, in order. A v of null calls fn
// for nothing; any other non-object is errNotObject. v must be exactly one
// value, as skipValue bounds it or a whole frame, optionally surrounded by
// whitespace; anything after the object is an error.
func eachField(v []byte, fn func(key, val []byte) error) error {
	end, err := walk(v, skipWS(v, 0), func(key []byte, vs int) (int, error) {
		ve, err := skipValue(v, vs)
		if err != nil {
			return 0, err
		}
		return ve, fn(key, v[vs:ve])
	})
	if err != nil {
		return err
	}
	return trailing(v, end)
}

// walk walks the object (or null) that starts at b[i] and returns the
// offset after it. For each key it calls fn with the key and the offset of
// its value; fn returns the offset after the value, having skipped it
// (skipValue) or read it, say with a nested walk, so a value the agent
// reads inside a big frame is scanned once, not once to skip and once to
// read.
func walk(b []byte, i int, fn func(key []byte, vs int) (int, error)) (int, error) {
	if i+4 <= len(b) && string(b[i:i+4]) == "null" {
		return i + 4, nil
	}
	if i >= len(b) || b[i] != '{' {
		return 0, errNotObject
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		ks, ke, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, fmt.Errorf("offset %d: want ':'", i)
		}
		key := b[ks+1 : ke-1]
		if i, err = fn(key, skipWS(b, i+1)); err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errFrameEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, fmt.Errorf("offset %d: want ',' or '}'", i)
		}
	}
}

// walkFrame walks a whole frame's top-level object with fn (see walk) and
// checks that nothing follows it.
func walkFrame(frame []byte, fn func(key []byte, vs int) (int, error)) error {
	end, err := walk(frame, skipWS(frame, 0), fn)
	if err != nil {
		return err
	}
	return trailing(frame, end)
}

// eachMemberField walks a frame and calls fn with each key and raw value
// of its top-level member name, an object; the other members are skipped
// without being decoded. A repeated member is walked each time, as
// encoding/json fills a struct field twice.
func eachMemberField(frame []byte, name string, fn func(key, value []byte) error) error {
	return walkFrame(frame, func(k []byte, vs int) (int, error) {
		if string(k) != name {
			return skipValue(frame, vs)
		}
		return walk(frame, vs, func(k []byte, vs int) (int, error) {
			ve, err := skipValue(frame, vs)
			if err != nil {
				return 0, err
			}
			return ve, fn(k, frame[vs:ve])
		})
	})
}

// trailing checks that only whitespace follows offset i.
func trailing(v []byte, i int) error {
	if i = skipWS(v, i); i != len(v) {
		return fmt.Errorf("offset %d: data after the object", i)
	}
	return nil
}

// isNull reports whether v starts with the literal null (trailing
// whitespace allowed, anything else not).
func isNull(v []byte) bool {
	return len(v) >= 4 && string(v[:4]) == "null" && skipWS(v, 4) == len(v)
}

// jsonString decodes a string value (null is ""). Plain printable ASCII,
// what ids, statuses and model names are, is copied as is; anything with
// escapes or other bytes goes through encoding/json, so the result is
// always what encoding/json would give.
func jsonString(v []byte) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && plainASCII(v[1:len(v)-1]) {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	return s, nil
}

func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// jsonInt decodes an integer value (null is 0). Up to 18 plain digits are
// parsed here; anything else (a sign, a fraction, a string) goes through
// encoding/json, which parses or rejects it.
func jsonInt(v []byte) (int64, error) {
	if isNull(v) {
		return 0, nil
	}
	if n := len(v); n > 0 && n <= 18 && (v[0] != '0' || n == 1) {
		var x int64
		ok := true
		for _, c := range v {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			x = x*10 + int64(c-'0')
		}
		if ok {
			return x, nil
		}
	}
	var x int64
	if err := json.Unmarshal(v, &x); err != nil {
		return 0, err
	}
	return x, nil
}

// jsonFloat decodes a number value (null is 0) through encoding/json: it
// is rare (duration-billed transcription), so it need not be fast.
func jsonFloat(v []byte) (float64, error) {
	var x float64
	if err := json.Unmarshal(v, &x); err != nil {
		return 0, err
	}
	return x, nil
}

// intFields decodes the integer fields of object v named in keys into the
// matching dst pointers (keys[i] → dst[i]); other fields are skipped.
func intFields(v []byte, keys []string, dst ...*int64) error {
	return eachField(v, func(k, val []byte) error {
		for i, name := range keys {
			if string(k) == name {
				n, err := jsonInt(val)
				*dst[i] = n
				return err
			}
		}
		return nil
	})
}
