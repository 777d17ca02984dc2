package feed

import (
	"bytes"
	"unicode/utf8"
)

// billLine is what a report takes from one final record. Its strings are
// bytes: on the fast path they point into the record, so reading a record
// allocates nothing.
type billLine struct {
	user, model, agent, reason []byte
	live                       bool
	// Times are unix milliseconds, as on the wire.
	at, startedAt, endedAt, expiresAt int64
	// ms is the call's wall time as its agent counted it, cost its cost in
	// micro-dollars; liveMs and standbyMs a GPT-Live session's billed
	// seconds.
	ms, cost, liveMs, standbyMs int64
	costUnknown                 bool
	tokens, backend             Tokens
}

// A report reads every final record in its period: at 100,000 records,
// Decode took 11–13 µs a record and most of the time; this takes 1.4–2.2 µs.
// readBillLine reads what a report needs from a record in the shape
// agents write, {"v":2,"kind":"ended",…} in compact JSON, in one pass and
// without allocating, skipping the fields it does not need. It gives up
// (false) on anything else: whitespace, escapes in the strings it keeps,
// a repeated key, a value of the wrong type among those it reads, other
// kinds or versions. billLineOf then reads the record through Decode, so
// both read a record the same way (FuzzBillLineFastPath checks that). The
// fields it skips are checked for syntax, not type: a record with a
// malformed flag, which Decode refuses, still counts.
func readBillLine(data []byte, l *billLine) bool {
	*l = billLine{}
	p := usageParser{b: data}
	var seen uint32
	var callID, api, startModel, sessionModel []byte
	version, kind := int64(0), false
	ok := p.object(func(key []byte) bool {
		if hasUpper(key) {
			return false
		}
		bit := recordKey(string(key))
		if bit != 0 {
			if seen&bit != 0 {
				return false
			}
			seen |= bit
		}
		var ok bool
		switch bit {
		case recV:
			version, ok = p.int()
		case recKind:
			var k []byte
			k, ok = p.str()
			kind = string(k) == string(KindEnded)
		case recAt:
			l.at, ok = p.int()
		case recAgent:
			l.agent, ok = p.str()
		case recCallID:
			callID, ok = p.str()
		case recStart:
			ok = p.billStart(l, &startModel, &api)
		case recSession:
			ok = p.billSession(l, &sessionModel)
		case recUsage:
			ok = p.billUsage(l)
		case recEnd:
			ok = p.billEnd(l)
		default:
			ok = p.skip(0)
		}
		return ok
	})
	if !ok || p.i != len(p.b) || version != VersionCompact || !kind || seen&recEnd == 0 || !validCallID(callID) {
		return false
	}
	// As the Board folds a call: the model its session reports over the
	// one the app asked for; the API its start says, else its id's.
	l.model = startModel
	if len(api) > 0 {
		l.live = string(api) == string(APILive)
	} else {
		l.live = bytes.HasPrefix(callID, []byte(LivePrefix))
	}
	if len(sessionModel) > 0 {
		l.model = sessionModel
	}
	return true
}

// hasUpper reports a key encoding/json would match to a field of another
// case ("At" sets "at"): the fast path leaves those to it.
func hasUpper(key []byte) bool {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// validCallID is ValidateCallID without an error to build.
func validCallID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxCallIDLen {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// The top-level keys readBillLine reads; 0 for those it skips.
const (
	recV uint32 = 1 << iota
	recKind
	recAt
	recAgent
	recCallID
	recStart
	recSession
	recUsage
	recEnd
)

func recordKey(k string) uint32 {
	switch k {
	case "v":
		return recV
	case "kind":
		return recKind
	case "at":
		return recAt
	case "agent":
		return recAgent
	case "call_id":
		return recCallID
	case "start":
		return recStart
	case "session":
		return recSession
	case "usage":
		return recUsage
	case "end":
		return recEnd
	}
	return 0
}

// fields reads an object whose keys are among names (each at most once),
// handing each to field with its index; other keys are skipped.
func (p *usageParser) fields(names []string, field func(i int) bool) bool {
	var seen uint32
	return p.object(func(key []byte) bool {
		if hasUpper(key) {
			return false
		}
		for i, n := range names {
			if string(key) == n {
				if seen&(1<<i) != 0 {
					return false
				}
				seen |= 1 << i
				return field(i)
			}
		}
		return p.skip(1)
	})
}

var startKeys = []string{"user", "model", "started_at", "api"}

func (p *usageParser) billStart(l *billLine, model, api *[]byte) bool {
	return p.fields(startKeys, func(i int) (ok bool) {
		switch i {
		case 0:
			l.user, ok = p.str()
		case 1:
			*model, ok = p.str()
		case 2:
			l.startedAt, ok = p.int()
		default:
			*api, ok = p.str()
		}
		return ok
	})
}

var sessionKeys = []string{"model", "expires_at"}

func (p *usageParser) billSession(l *billLine, model *[]byte) bool {
	return p.fields(sessionKeys, func(i int) (ok bool) {
		if i == 0 {
			*model, ok = p.str()
		} else {
			l.expiresAt, ok = p.int()
		}
		return ok
	})
}

var endKeys = []string{"reason", "ended_at"}

func (p *usageParser) billEnd(l *billLine) bool {
	return p.fields(endKeys, func(i int) (ok bool) {
		if i == 0 {
			l.reason, ok = p.str()
		} else {
			l.endedAt, ok = p.int()
		}
		return ok
	})
}

var billUsageKeys = []string{"tok", "ms", "cost", "cost_unknown", "live_ms", "standby_ms", "be_tok"}

func (p *usageParser) billUsage(l *billLine) bool {
	return p.fields(billUsageKeys, func(i int) (ok bool) {
		switch i {
		case 0, 6:
			var t wireTokens
			if !p.tokens(&t) {
				return false
			}
			if i == 0 {
				l.tokens = t.tokens()
			} else {
				l.backend = t.tokens()
			}
			return true
		case 1:
			l.ms, ok = p.int()
		case 2:
			l.cost, ok = p.int()
		case 3:
			ok = p.bool(&l.costUnknown)
		case 4:
			l.liveMs, ok = p.int()
		default:
			l.standbyMs, ok = p.int()
		}
		return ok
	})
}

// str reads a string without escapes or control characters, as valid
// UTF-8, and returns its bytes (pointing into the record).
func (p *usageParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	n := bytes.IndexByte(p.b[p.i:], '"')
	if n < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+n]
	ascii := true
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		ascii = ascii && c < 0x80
	}
	if !ascii && !utf8.Valid(s) {
		return nil, false
	}
	p.i += n + 1
	return s, true
}

// maxSkipDepth bounds the nesting skip follows; deeper records take the
// general path.
const maxSkipDepth = 32

// skip reads past one JSON value of any type, checking its syntax.
func (p *usageParser) skip(depth int) bool {
	if p.i >= len(p.b) || depth > maxSkipDepth {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(func([]byte) bool { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		if p.byte(']') {
			return true
		}
		for {
			if !p.skip(depth + 1) {
				return false
			}
			if p.byte(']') {
				return true
			}
			if !p.byte(',') {
				return false
			}
		}
	case c == '"':
		return p.skipString()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

func (p *usageParser) literal(s string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return false
	}
	p.i += len(s)
	return true
}

// skipString reads past a string, escapes included.
func (p *usageParser) skipString() bool {
	p.i++ // the opening quote
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return true
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return false
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.b) {
					return false
				}
				for _, h := range p.b[p.i+2 : p.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				p.i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			p.i++
		}
	}
	return false
}

// number reads past a JSON number: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
func (p *usageParser) number() bool {
	p.byte('-')
	switch {
	case p.byte('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.byte('.') && p.digits() == 0 {
		return false
	}
	if p.byte('e') || p.byte('E') {
		if !p.byte('+') {
			p.byte('-')
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

func (p *usageParser) digits() int {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

// billLineOf is the general path: any record Decode reads (either schema,
// any spacing or escape), as the Board would fold it. ok is false for what
// is not a call's final record.
func billLineOf(data []byte, l *billLine) bool {
	e, err := Decode(data)
	if err != nil || e.Kind != KindEnded || e.End == nil {
		return false
	}
	*l = billLine{agent: []byte(e.Agent), reason: []byte(e.End.Reason), at: ms(e.At), endedAt: ms(e.End.EndedAt),
		live: APIOf(e.CallID) == APILive}
	if s := e.Start; s != nil {
		l.user, l.model, l.startedAt = []byte(s.User), []byte(s.Model), ms(s.StartedAt)
		if s.API != "" {
			l.live = s.API == APILive
		}
	}
	if s := e.Session; s != nil {
		if s.Model != "" {
			l.model = []byte(s.Model)
		}
		l.expiresAt = ms(s.ExpiresAt)
	}
	if u := e.Usage; u != nil {
		l.ms, l.cost, l.costUnknown = durMs(u.Seconds), Micro(u.CostUSD), u.CostUnknown
		l.liveMs, l.standbyMs = durMs(u.LiveSeconds), durMs(u.StandbySeconds)
		l.tokens, l.backend = u.Tokens, u.BackendTokens
	}
	return true
}
