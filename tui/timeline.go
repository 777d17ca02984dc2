package tui

import (
	"fmt"
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
	note   string // for the rare kinds: who started, why it ended, …
}

// timeline is a call's last events, a fixed ring. 10,000 calls keep a
// dozen each, so it is laid out for the garbage collector: its only
// pointers (notes, kinds) come first and the rest holds none, so the
// collector reads 24 words of it, not 140; kinds are the feed's constants
// and times are kept as numbers, so a usage moment allocates nothing.
type timeline struct {
	notes  [timelineLen]string
	kinds  [timelineLen]feed.Kind
	sec    [timelineLen]int64 // at, as Unix seconds and nanoseconds
	nsec   [timelineLen]int32
	seq    [timelineLen]uint64
	cost   [timelineLen]float64
	tokens [timelineLen]int64
	next   int
	n      int
}

// add records one event.
func (t *timeline) add(e *feed.Event) {
	i := t.next
	t.notes[i] = momentNote(e)
	t.kinds[i] = internKind(e.Kind)
	t.sec[i], t.nsec[i] = e.At.Unix(), int32(e.At.Nanosecond())
	t.seq[i] = e.Seq
	t.cost[i], t.tokens[i] = 0, 0
	if e.Usage != nil {
		t.cost[i], t.tokens[i] = e.Usage.CostUSD, e.Usage.Tokens.Total
	}
	t.next = (t.next + 1) % timelineLen
	t.n = min(t.n+1, timelineLen)
}

// list returns the moments oldest first. Their times are in the local
// zone; the view shows them in its clock's.
func (t *timeline) list() []moment {
	out := make([]moment, 0, t.n)
	for k := range t.n {
		i := (t.next - t.n + k + timelineLen) % timelineLen
		out = append(out, moment{at: time.Unix(t.sec[i], int64(t.nsec[i])), seq: t.seq[i], kind: t.kinds[i],
			cost: t.cost[i], tokens: t.tokens[i], note: t.notes[i]})
	}
	return out
}

// internKind returns the feed's constant for a known kind, so that a
// moment does not keep the decoder's copy of the string alive.
func internKind(k feed.Kind) feed.Kind {
	for _, known := range feed.Kinds {
		if k == known {
			return known
		}
	}
	return k
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
