package tui

import (
	"fmt"
	"time"

	"github.com/calltop/calltop/feed"
)

// timelineLen is how many recent events the detail view shows per call.
const timelineLen = 12

// moment is one event as the detail view's timeline shows it. It is small
// on purpose (no copy of the event's payload): 10,000 calls keep a dozen
// each. Usage events carry only the totals; the view shows the change from
// the previous usage moment.
type moment struct {
	at     time.Time
	seq    uint64
	kind   feed.Kind
	cost   float64
	tokens int64
	note   string // for the rare kinds: who started, why it ended, …
}

// timeline is a call's last events, a fixed ring.
type timeline struct {
	buf  [timelineLen]moment
	next int
	n    int
}

// add records one event.
func (t *timeline) add(e *feed.Event) {
	m := moment{at: e.At, seq: e.Seq, kind: e.Kind}
	if e.Usage != nil {
		m.cost, m.tokens = e.Usage.CostUSD, e.Usage.Tokens.Total
	}
	m.note = momentNote(e)
	t.buf[t.next] = m
	t.next = (t.next + 1) % timelineLen
	t.n = min(t.n+1, timelineLen)
}

// list returns the moments oldest first.
func (t *timeline) list() []moment {
	out := make([]moment, 0, t.n)
	for i := range t.n {
		out = append(out, t.buf[(t.next-t.n+i+timelineLen)%timelineLen])
	}
	return out
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
