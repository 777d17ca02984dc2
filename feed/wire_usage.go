package feed

import (
	"bytes"
	"fmt"
	"strconv"
)

// decodeUsageMsg is DecodeMsg's fast path for a usage event in the shape
// the agent writes; ok is false when the message is not in that shape.
func (s Subjects) decodeUsageMsg(subject string, data []byte) (e Event, ok bool, err error) {
	w, u, t, hasTok, ok := decodeUsage(data)
	if !ok {
		return Event{}, false, nil
	}
	if e, err = s.fromSubject(subject); err != nil {
		return Event{}, true, fmt.Errorf("decode event on %q: %w", subject, err)
	}
	tok := &t
	if !hasTok {
		tok = nil
	}
	e.Usage = u.usage(tok) // w has no usage: event leaves this one
	e, err = w.event(e)
	return e, true, err
}

// Usage events are nine in ten of the live messages a dashboard reads (at
// 20,000 a second, encoding/json's reflection took a fifth of a core and
// sixteen allocations each). decodeUsage reads the one shape the agent
// writes for them, {"v":2,…,"usage":{…}} with integers, the token object
// and the two count maps, in one pass and without reflection. It gives up
// (ok false) on anything else, whitespace, escapes, floats, unknown or
// repeated keys, null, and DecodeMsg then takes the general path, so both
// read the same bytes the same way (FuzzUsageFastPath checks that).
//
// The results are values, not pointers, so they stay on the stack; t
// counts only when hasTok (u.Tok stays nil).
func decodeUsage(data []byte) (w wireEvent, u wireUsage, t wireTokens, hasTok, ok bool) {
	p := usageParser{b: data}
	var seen uint32
	ok = p.object(func(key []byte) bool {
		bit := topKey(string(key))
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch bit {
		case topV:
			v, ok := p.int()
			w.V = int(v)
			return ok
		case topTerm:
			v, ok := p.uint()
			w.Term = uint64(v)
			return ok
		case topSeq:
			v, ok := p.uint()
			w.Seq = uint64(v)
			return ok
		case topAt:
			w.At, ok = p.int()
			return ok
		default:
			return p.usage(&u, &t, &hasTok)
		}
	})
	if !ok || p.i != len(p.b) || seen&topUsage == 0 {
		return wireEvent{}, wireUsage{}, wireTokens{}, false, false
	}
	return w, u, t, hasTok, true
}

const (
	topV uint32 = 1 << iota
	topTerm
	topSeq
	topAt
	topUsage
)

// topKey is the bit of a top-level key, 0 for any other.
func topKey(k string) uint32 {
	switch k {
	case "v":
		return topV
	case "term":
		return topTerm
	case "seq":
		return topSeq
	case "at":
		return topAt
	case "usage":
		return topUsage
	}
	return 0
}

// Keys of the usage object that are not numbers; usageField numbers the
// others 0–12.
const (
	usageTok uint = 13 + iota
	usageStatus
	usageReason
	usageCostUnknown
)

// usageField is where a key of the usage object goes (an int64, an int,
// or neither for the four that are not numbers) and its bit; ok is false
// for a key the usage object does not have.
func usageField(u *wireUsage, k string) (i64 *int64, i *int, bit uint, ok bool) {
	switch k {
	case "tr_tok":
		return &u.TrTok, nil, 0, true
	case "tr_ms":
		return &u.TrMs, nil, 1, true
	case "tr_cost":
		return &u.TrCost, nil, 2, true
	case "ms":
		return &u.Ms, nil, 3, true
	case "user_ms":
		return &u.UserMs, nil, 4, true
	case "agent_ms":
		return &u.AgentMs, nil, 5, true
	case "cost":
		return &u.Cost, nil, 6, true
	case "gap_ms":
		return &u.GapMs, nil, 7, true
	case "resp":
		return nil, &u.Resp, 8, true
	case "errors":
		return nil, &u.Errors, 9, true
	case "skipped":
		return nil, &u.Skipped, 10, true
	case "unknown":
		return nil, &u.Unknown, 11, true
	case "gaps":
		return nil, &u.Gaps, 12, true
	case "tok":
		return nil, nil, usageTok, true
	case "status":
		return nil, nil, usageStatus, true
	case "reason":
		return nil, nil, usageReason, true
	case "cost_unknown":
		return nil, nil, usageCostUnknown, true
	}
	return nil, nil, 0, false
}

// tokenField is the wireTokens field of a key and its index, or nil.
func tokenField(t *wireTokens, k string) (*int64, uint) {
	switch k {
	case "it":
		return &t.IT, 0
	case "ia":
		return &t.IA, 1
	case "ii":
		return &t.II, 2
	case "ct":
		return &t.CT, 3
	case "ca":
		return &t.CA, 4
	case "ci":
		return &t.CI, 5
	case "ot":
		return &t.OT, 6
	case "oa":
		return &t.OA, 7
	case "in":
		return &t.In, 8
	case "out":
		return &t.Out, 9
	case "cached":
		return &t.Cached, 10
	case "total":
		return &t.Total, 11
	}
	return nil, 0
}

// countNames are the response statuses and reasons OpenAI sends, so a map
// key read from the wire need not allocate its string.
var countNames = map[string]string{}

func init() {
	for _, s := range []string{"completed", "cancelled", "failed", "incomplete", "in_progress",
		"turn_detected", "client_cancelled", "max_output_tokens", "content_filter"} {
		countNames[s] = s
	}
}

type usageParser struct {
	b []byte
	i int
}

// object reads {"key":value,…}, handing each key to field, which reads
// the value. Keys are plain: a backslash gives up.
func (p *usageParser) object(field func(key []byte) bool) bool {
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return true
	}
	for {
		key, ok := p.key()
		if !ok || !p.byte(':') || !field(key) {
			return false
		}
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

func (p *usageParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// key reads a string without escapes or control characters, ASCII only
// (the keys of a usage event are).
func (p *usageParser) key() ([]byte, bool) {
	start := p.i
	s, ok := p.str()
	if !ok {
		return nil, false
	}
	for _, c := range s {
		if c >= 0x80 {
			p.i = start
			return nil, false
		}
	}
	return s, true
}

// int reads an integer as encoding/json writes one: -?(0|[1-9][0-9]*),
// at most 18 digits so it cannot overflow.
func (p *usageParser) int() (int64, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 18 || (n > 1 && p.b[digits] == '0') {
		return 0, false
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return v, err == nil
}

// uint reads an integer without a sign, as an unsigned field takes it
// (encoding/json refuses even -0 there).
func (p *usageParser) uint() (int64, bool) {
	if p.i < len(p.b) && p.b[p.i] == '-' {
		return 0, false
	}
	return p.int()
}

func (p *usageParser) usage(u *wireUsage, t *wireTokens, hasTok *bool) bool {
	var seen uint32 // keys so far: a repeated one gives up
	return p.object(func(key []byte) bool {
		i64, i, bit, ok := usageField(u, string(key))
		if !ok || seen&(1<<bit) != 0 {
			return false
		}
		seen |= 1 << bit
		switch {
		case i64 != nil:
			*i64, ok = p.int()
			return ok
		case i != nil:
			v, ok := p.int()
			*i = int(v)
			return ok
		}
		switch bit {
		case usageTok:
			*hasTok = true
			return p.tokens(t)
		case usageStatus:
			u.Status = map[string]int{}
			return p.counts(u.Status)
		case usageReason:
			u.Reason = map[string]int{}
			return p.counts(u.Reason)
		default: // usageCostUnknown
			return p.bool(&u.CostUnknown)
		}
	})
}

func (p *usageParser) tokens(t *wireTokens) bool {
	var seen uint16
	return p.object(func(key []byte) bool {
		dst, bit := tokenField(t, string(key))
		if dst == nil || seen&(1<<bit) != 0 {
			return false
		}
		seen |= 1 << bit
		v, ok := p.int()
		*dst = v
		return ok
	})
}

func (p *usageParser) counts(m map[string]int) bool {
	return p.object(func(key []byte) bool {
		name, ok := countNames[string(key)]
		if !ok {
			name = string(key)
		}
		if _, dup := m[name]; dup {
			return false
		}
		v, ok := p.int()
		m[name] = int(v)
		return ok && int64(int(v)) == v
	})
}

func (p *usageParser) bool(dst *bool) bool {
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		*dst, p.i = true, p.i+4
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		*dst, p.i = false, p.i+5
	default:
		return false
	}
	return true
}
