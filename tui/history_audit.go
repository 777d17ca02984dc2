package tui

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// The History view has two panes: the calls that ended (what the Board
// saw) and the audit trail (feed.AuditRecord: every terminate request,
// whoever made it and however it went, and every credits change), read
// from its stream through the Source. The history key switches between
// them.

// DefaultAuditRecords is how many of the newest audit records the History
// view keeps: enough for any incident, and a bounded read however long
// the trail is.
const DefaultAuditRecords = 1000

// auditEvery is how often the audit pane reads records newer than the
// ones it has, while it is shown, in heartbeats.
const auditEvery = 2

// auditTimeout bounds one read of the audit trail.
const auditTimeout = 5 * time.Second

// errNoAudit is what a read gets from a Source that cannot read the trail.
var errNoAudit = errors.New("this feed has no audit trail")

// auditReader is implemented by a Source that can read the audit trail,
// as *feed.Client does.
type auditReader interface {
	ReadAudit(ctx context.Context, q feed.AuditQuery) ([]feed.AuditRecord, error)
}

// auditTrail is the newest records of the audit trail, newest first,
// bounded; it is read on when the pane is opened and every auditEvery
// heartbeats while it is shown.
type auditTrail struct {
	recs    []feed.AuditRecord // newest first, by time
	index   map[uint64]int     // stream sequence → position in recs
	max     int
	lastSeq uint64 // the newest record's stream sequence
	loading bool   // a read is in flight
	loaded  bool   // a read has answered
	ticks   int    // heartbeats since the last read
	err     string // the last read's error, "" once one works
}

// auditLoadedMsg carries one read of the audit trail into Update. fresh
// says it replaces what the pane holds (a read from the newest record
// back, not on from lastSeq).
type auditLoadedMsg struct {
	recs  []feed.AuditRecord
	fresh bool
	err   error
}

// Len, Key and Index make the trail a list for a cursor.
func (a *auditTrail) Len() int         { return len(a.recs) }
func (a *auditTrail) Key(i int) string { return strconv.FormatUint(a.recs[i].Seq, 10) }
func (a *auditTrail) Index(key string) (int, bool) {
	seq, err := strconv.ParseUint(key, 10, 64)
	if err != nil {
		return 0, false
	}
	i, ok := a.index[seq]
	return i, ok
}

// add folds a read in (recs come in stream order) and keeps the newest
// max records by time: a record an agent kept in its outbox while NATS
// was away is stored late, and shows where it happened.
func (a *auditTrail) add(recs []feed.AuditRecord, fresh bool) {
	if fresh {
		a.recs, a.lastSeq = a.recs[:0], 0
	}
	n := len(a.recs)
	for _, r := range recs {
		if r.Seq > a.lastSeq {
			a.recs = append(a.recs, r)
		}
	}
	if len(a.recs) == n && !fresh {
		return
	}
	for _, r := range a.recs[n:] {
		a.lastSeq = max(a.lastSeq, r.Seq)
	}
	slices.SortStableFunc(a.recs, func(x, y feed.AuditRecord) int {
		if c := y.At.Compare(x.At); c != 0 {
			return c
		}
		return cmp.Compare(y.Seq, x.Seq)
	})
	if len(a.recs) > a.max {
		clear(a.recs[a.max:])
		a.recs = a.recs[:a.max]
	}
	if a.index == nil {
		a.index = make(map[uint64]int, len(a.recs))
	}
	clear(a.index)
	for i, r := range a.recs {
		a.index[r.Seq] = i
	}
}

// toggleAudit switches the History view between its panes, reading the
// trail afresh when the audit pane opens.
func (m *Model) toggleAudit() tea.Cmd {
	m.showAudit = !m.showAudit
	m.refresh()
	if m.showAudit {
		return m.readAudit(true)
	}
	return nil
}

// auditShown reports whether the audit pane is on screen.
func (m *Model) auditShown() bool { return m.view == viewHistory && m.showAudit }

// readAudit reads the trail off the update loop: the newest records
// (fresh), or those after the newest one held.
func (m *Model) readAudit(fresh bool) tea.Cmd {
	r, ok := m.src.(auditReader)
	a := m.audit
	if !ok || a.loading {
		return nil
	}
	a.loading, a.ticks = true, 0
	q := feed.AuditQuery{Last: a.max}
	if !fresh {
		q.After = a.lastSeq
	}
	ctx := m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, auditTimeout)
		defer cancel()
		recs, err := r.ReadAudit(ctx, q)
		return auditLoadedMsg{recs: recs, fresh: fresh, err: err}
	}
}

// onAuditLoaded folds a read into the pane.
func (m *Model) onAuditLoaded(msg auditLoadedMsg) {
	a := m.audit
	a.loading, a.loaded = false, true
	if msg.err != nil {
		a.err = msg.err.Error()
		return
	}
	a.err = ""
	a.add(msg.recs, msg.fresh)
	m.refresh()
}

// auditTick reads on every auditEvery heartbeats while the pane is shown.
func (m *Model) auditTick() tea.Cmd {
	if !m.auditShown() {
		return nil
	}
	m.audit.ticks++
	if m.audit.ticks < auditEvery {
		return nil
	}
	return m.readAudit(false)
}

// auditView lists the trail, newest first: when, who asked, on which
// call (or whose credits), why, how it went and the call's cost then.
// Which agent or command executed it is for `calltop audit`.
func (m *Model) auditView(w, height int) []string {
	a := m.audit
	cols := []lcol{
		{title: "AT"},
		{title: "WHO", flex: true, minW: 10, maxW: 32},
		{title: "CALL / USER", flex: true, minW: 14, maxW: 30},
		{title: "REASON", flex: true, minW: 9, maxW: 40},
		{title: "OUTCOME", flex: true, minW: 9, maxW: 40},
		{title: "COST", right: true, drop: 1},
	}
	empty := "no terminate request or credits change recorded yet"
	switch {
	case !m.hasAudit():
		empty = "this feed has no audit trail"
	case a.err != "" && len(a.recs) == 0:
		empty = "audit trail unreadable: " + a.err
	case !a.loaded:
		empty = "reading the audit trail…"
	}
	return m.renderList(w, height, cols, a.Len(), &m.auditCur, nil, func(i int) []lcell {
		r := &a.recs[i]
		what, why, cost := r.CallID, r.Reason, formatCost(r.CostUSD, false)
		if r.Action == feed.AuditCredits {
			what, why, cost = r.User, "credits "+r.Reason, "-"
			if r.BalanceUSD != nil {
				why += " → " + formatCost(*r.BalanceUSD, false)
			}
		}
		outcome := lcell{text: string(r.Outcome)}
		if r.Outcome != feed.OutcomeDone {
			outcome.tone = toneWarn
			if r.Error != "" && r.Outcome != feed.OutcomeAlreadyEnded && r.Outcome != feed.OutcomeNoOwner {
				outcome.text += ": " + r.Error
			}
		}
		return []lcell{
			{text: m.auditClock(r.At)},
			{text: r.Who},
			{text: orDash(what)},
			{text: orDash(why)},
			outcome,
			{text: cost},
		}
	}, empty)
}

// hasAudit reports whether the Source can read the audit trail.
func (m *Model) hasAudit() bool {
	_, ok := m.src.(auditReader)
	return ok
}

// auditClock is a record's time of day, with its date when that is not
// the dashboard's today: the trail goes back days.
func (m *Model) auditClock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t = t.In(m.now.Location())
	if y, mo, d := t.Date(); y == m.now.Year() && mo == m.now.Month() && d == m.now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("01-02 15:04:05")
}

// historyList is the History view's list and cursor for the pane shown.
func (m *Model) historyList() (list, *cursor) {
	if m.showAudit {
		return m.audit, &m.auditCur
	}
	return m.hist, &m.histCur
}

// auditCall is the call of the selected audit record, if it is one the
// dashboard can show.
func (m *Model) auditCall() (string, bool) {
	i, ok := m.audit.Index(m.auditCur.id)
	if !ok {
		return "", false
	}
	id := m.audit.recs[i].CallID
	if id == "" {
		return "", false
	}
	if _, ok := m.board.Get(id); ok {
		return id, true
	}
	_, ok = m.hist.get(id)
	return id, ok
}
