package tui

import (
	"time"

	"github.com/calltop/calltop/feed"
)

// boardPruneEvery is how often the Board prunes when nothing but ended
// calls is due. feed.Board.Prune walks every call it holds, ~3 ms at
// 14,000 calls on a 2-core VM: on every one-second tick that would be
// the slowest frame of every second. The table lets go of ended calls on
// time by itself (from its dense row stats, in microseconds), so the
// Board may keep them up to this much longer, unseen.
const boardPruneEvery = 10 * time.Second

// prune drops ended calls older than Retain from the table, and from the
// Board when it is due (see boardPruneEvery and boardPruneDue).
func (m *Model) prune() {
	for _, id := range m.rows.endedBy(m.now, m.opts.Retain) {
		m.rows.Delete(id)
		delete(m.pending, id)
		m.expired[id] = struct{}{}
	}
	if !m.now.Before(m.boardPruned) && m.now.Sub(m.boardPruned) < boardPruneEvery && !m.boardPruneDue() {
		return
	}
	m.boardPruned = m.now
	n := m.board.Prune(m.now)
	if n == 0 {
		return
	}
	gone := 0
	for id := range m.expired {
		if _, ok := m.board.Get(id); !ok {
			delete(m.expired, id)
			gone++
		}
	}
	if gone == n {
		return
	}
	// The Board dropped calls the table still shows: live calls of a gone
	// agent past OpenAI's cap.
	for _, id := range m.rows.ids() {
		if _, ok := m.board.Get(id); !ok {
			m.rows.Delete(id)
			delete(m.pending, id)
		}
	}
}

// boardPruneDue reports whether the Board may drop something other than
// the ended calls the table already let go of, which must go now: a live
// call past OpenAI's cap by more than the retention (the Board drops it
// when its agent is gone), or an agent past the Board's memory of it.
// Either is rare; when one is, the Board prunes on every tick, as it did
// before boardPruneEvery.
func (m *Model) boardPruneDue() bool {
	if m.rows.pastCap(m.now, m.opts.Retain) {
		return true
	}
	for _, a := range m.board.Agents() {
		if (a.Left() && m.now.Sub(a.LeftAt) > feed.AgentLeftMemory) ||
			(!a.Left() && m.now.Sub(a.LastSeen) > feed.AgentSilentMemory) {
			return true
		}
	}
	return false
}
