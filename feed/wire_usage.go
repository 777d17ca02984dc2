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
		bit, known := topKeys[string(key)]
		if !known || seen&bit != 0 {
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

var topKeys = map[string]uint32{"v": topV, "term": topTerm, "seq": topSeq, "at": topAt, "usage": topUsage}

// usageField is where a key of the usage object goes: an int64, an int,
// or neither (nil, nil) for the others.
func usageField(u *wireUsage, k string) (*int64, *int) {
	switch k {
	case "tr_tok":
		return &u.TrTok, nil
	case "tr_ms":
		return &u.TrMs, nil
	case "tr_cost":
		return &u.TrCost, nil
	case "ms":
		return &u.Ms, nil
	case "user_ms":
		return &u.UserMs, nil
	case "agent_ms":
		return &u.AgentMs, nil
	case "cost":
		return &u.Cost, nil
	case "gap_ms":
		return &u.GapMs, nil
	case "resp":
		return nil, &u.Resp
	case "errors":
		return nil, &u.Errors
	case "skipped":
		return nil, &u.Skipped
	case "unknown":
		return nil, &u.Unknown
	case "gaps":
		return nil, &u.Gaps
	}
	return nil, nil
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

// key reads a string without escapes or control characters.
func (p *usageParser) key() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	n := bytes.IndexByte(p.b[p.i:], '"')
	if n < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+n]
	for _, c := range s {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	p.i += n + 1
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
	var seen [17]string // keys so far: a repeated one gives up
	n := 0
	mark := func(k string) { seen[n], n = k, n+1 }
	return p.object(func(key []byte) bool {
		for _, k := range seen[:n] {
			if k == string(key) {
				return false
			}
		}
		if n == len(seen) {
			return false
		}
		if i64, i := usageField(u, string(key)); i64 != nil || i != nil {
			v, ok := p.int()
			if i64 != nil {
				*i64 = v
			} else {
				*i = int(v)
			}
			mark(usageKeyName(key))
			return ok
		}
		switch string(key) {
		case "tok":
			*hasTok = true
			mark("tok")
			return p.tokens(t)
		case "status":
			u.Status = map[string]int{}
			mark("status")
			return p.counts(u.Status)
		case "reason":
			u.Reason = map[string]int{}
			mark("reason")
			return p.counts(u.Reason)
		case "cost_unknown":
			mark("cost_unknown")
			return p.bool(&u.CostUnknown)
		}
		return false
	})
}

// usageKeyName is a known usage key as a constant string (no allocation).
func usageKeyName(key []byte) string {
	for _, k := range usageKeyNames {
		if k == string(key) {
			return k
		}
	}
	return string(key)
}

var usageKeyNames = [...]string{"tr_tok", "tr_ms", "tr_cost", "ms", "user_ms", "agent_ms", "cost", "gap_ms",
	"resp", "errors", "skipped", "unknown", "gaps"}

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
