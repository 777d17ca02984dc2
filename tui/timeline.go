package tui

import (
	"fmt"
	"math"
	"time"

	"github.com/calltop/calltop/feed"
)

// timelineLen is how many recent events the detail view shows per call.
const timelineLen = 12

// moment is one event as the detail view's timeline shows it. Usage
// events carry only the totals; the view shows the change from the
// previous usage moment.
type moment struct {
	at     time.Time
	seq    uint64
	kind   feed.Kind
	cost   float64
	tokens int64
	// billed is a GPT-Live usage's billed seconds (feed.Usage.LiveSeconds):
	// a Live session's timeline shows seconds, not tokens.
	billed float64
	note   string // for the rare kinds: who started, why it ended, …
}

// timeline is a call's last events, a fixed ring. 10,000 calls keep a
// dozen each, so it is laid out for the garbage collector: its pointers
// (the notes, and the kinds the feed does not define, which never come
// from feed.Decode) come first and the records hold none, so the
// collector reads 13 words of it, not ~140; and a usage moment allocates
// nothing. Adding one touches its note and its record.
type timeline struct {
	notes [timelineLen]string
	odd   *[timelineLen]feed.Kind // kinds not in feed.Kinds, if any
	recs  [timelineLen]momentRec
	next  int
	n     int
}

// momentRec is a moment without its note: the time as Unix seconds and
// nanoseconds, the kind as its index in feed.Kinds (oddKind: see odd).
// When live is set, tokens holds a GPT-Live usage's billed milliseconds
// instead (the flag sits in what was padding: the record stays 40 bytes).
type momentRec struct {
	sec    int64
	seq    uint64
	cost   float64
	tokens int64
	nsec   int32
	kind   uint8
	live   bool
}

const oddKind = 0xff

// add records one event.
func (t *timeline) add(e *feed.Event) {
	i := t.next
	t.notes[i] = momentNote(e)
	r := momentRec{sec: e.At.Unix(), nsec: int32(e.At.Nanosecond()), seq: e.Seq, kind: kindCode(e.Kind)}
	if u := e.Usage; u != nil {
		r.cost, r.tokens = u.CostUSD, u.Tokens.Total
		if u.LiveSeconds > 0 {
			r.live, r.tokens = true, int64(math.Round(u.LiveSeconds*1000))
		}
	}
	if r.kind == oddKind {
		if t.odd == nil {
			t.odd = new([timelineLen]feed.Kind)
		}
		t.odd[i] = e.Kind
	}
	t.recs[i] = r
	t.next = (t.next + 1) % timelineLen
	t.n = min(t.n+1, timelineLen)
}

// list returns the moments oldest first. Their times are in the local
// zone; the view shows them in its clock's.
func (t *timeline) list() []moment {
	out := make([]moment, 0, t.n)
	for k := range t.n {
		i := (t.next - t.n + k + timelineLen) % timelineLen
		r := &t.recs[i]
		var kind feed.Kind
		if r.kind == oddKind {
			kind = t.odd[i]
		} else {
			kind = feed.Kinds[r.kind]
		}
		mo := moment{at: time.Unix(r.sec, int64(r.nsec)), seq: r.seq, kind: kind, cost: r.cost, tokens: r.tokens, note: t.notes[i]}
		if r.live {
			mo.tokens, mo.billed = 0, float64(r.tokens)/1000
		}
		out = append(out, mo)
	}
	return out
}

// kindCode is a kind's index in feed.Kinds, or oddKind.
func kindCode(k feed.Kind) uint8 {
	for i, known := range feed.Kinds {
		if k == known && i < oddKind {
			return uint8(i)
		}
	}
	return oddKind
}

// momentNote says what a non-usage event was about.
func momentNote(e *feed.Event) string {
	switch {
	case e.Start != nil:
		s := "user " + orDash(e.Start.User)
		if e.Start.Model != "" {
			s += ", model " + e.Start.Model
		}
		return s
	case e.Session != nil:
		return "session " + orDash(e.Session.SessionID) + ", model " + orDash(e.Session.Model)
	case e.End != nil:
		s := string(e.End.Reason)
		if n := reasonNote(e.End.Reason); n != "" {
			s += " (" + n + ")"
		}
		if e.End.Detail != "" {
			s += ": " + e.End.Detail
		}
		if e.End.By != "" {
			s += " (by " + e.End.By + ")"
		}
		return s
	case e.Warning != nil:
		if e.Warning.Message != "" {
			return e.Warning.Message
		}
		return fmt.Sprintf("%s at %.0f%%", e.Warning.Limit, pct(e.Warning.Used, e.Warning.Max))
	case e.Flag != nil:
		s := string(e.Flag.Kind)
		if e.Flag.Message != "" {
			s += ": " + e.Flag.Message
		}
		return s
	case e.Sideband != nil:
		s := e.Sideband.State
		if e.Sideband.Detail != "" {
			s += ": " + e.Sideband.Detail
		}
		return s
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pct(used, limit float64) float64 {
	if limit <= 0 {
		return 0
	}
	return 100 * used / limit
}
