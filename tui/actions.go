package tui

import (
	"regexp"
	"slices"

	tea "charm.land/bubbletea/v2"
)

// onKey handles a key press. ctrl+c always quits, whatever the key map;
// an open dialog, then the filter being typed, then the help get keys
// before the view does.
func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if msg.String() == "ctrl+c" {
		return m.quit()
	}
	switch {
	case m.confirm != nil:
		return m.onConfirmKey(msg)
	case m.filterEdit != nil:
		m.onFilterKey(msg)
		return nil
	case m.showHelp:
		switch {
		case m.keys.is(msg, ActQuit):
			return m.quit()
		case m.keys.is(msg, ActHelp), m.keys.is(msg, ActBack), msg.String() == "esc":
			m.showHelp = false
		}
		return nil
	}
	k := m.keys
	switch {
	case k.is(msg, ActQuit):
		return m.quit()
	case k.is(msg, ActHelp):
		m.showHelp = true
	case k.is(msg, ActBack):
		m.back()
	case k.is(msg, ActCalls):
		m.setView(viewCalls)
	case k.is(msg, ActUsers):
		m.setView(viewUsers)
	case k.is(msg, ActHistory):
		// Again in the History view: the other pane (ended calls, audit).
		if m.view == viewHistory {
			return m.toggleAudit()
		}
		m.setView(viewHistory)
		if m.showAudit {
			return m.readAudit(false)
		}
	case k.is(msg, ActAgents):
		m.setView(viewAgents)
	case k.is(msg, ActUp):
		m.moveBy(-1)
	case k.is(msg, ActDown):
		m.moveBy(1)
	case k.is(msg, ActPageUp):
		m.moveBy(-m.bodyHeight())
	case k.is(msg, ActPageDown):
		m.moveBy(m.bodyHeight())
	case k.is(msg, ActTop):
		m.moveBy(-1 << 30)
	case k.is(msg, ActBottom):
		m.moveBy(1 << 30)
	case k.is(msg, ActDetail):
		m.open()
	case k.is(msg, ActFilter):
		m.startFilter()
	case k.is(msg, ActSortCost):
		m.setSort(sortCost)
	case k.is(msg, ActSortRate):
		m.setSort(sortRate)
	case k.is(msg, ActSortAge):
		m.setSort(sortAge)
	case k.is(msg, ActSortTokens):
		m.setSort(sortTokens)
	case k.is(msg, ActSortUser):
		m.setSort(sortUser)
	case k.is(msg, ActSortState):
		m.setSort(sortState)
	case k.is(msg, ActHangUp):
		m.openHangUp()
	case m.opts.ReadOnly && slices.Contains(m.hangUpKeys, msg.String()):
		m.status.set(statusInfo, errReadOnly.Error()+" ("+m.readOnlyWhy()+")", m.now)
	}
	return nil
}

// onPaste puts pasted text into the field being typed, if any.
func (m *Model) onPaste(s string) {
	switch {
	case m.filterEdit != nil:
		m.filterEdit.in.insert(s)
		m.applyFilterText()
	case m.confirm != nil && m.confirm.typing():
		m.confirm.other.insert(s)
	}
}

// setView switches to a view; the detail view is opened with open.
func (m *Model) setView(v view) {
	m.view = v
	m.refresh()
}

// back leaves the detail for where it was opened from, the other views for
// the calls table, and in the calls table clears the filter.
func (m *Model) back() {
	switch m.view {
	case viewDetail:
		m.view = m.detail.from
	case viewCalls:
		if m.rows.filter.active() {
			m.setFilter("")
		}
	default:
		m.view = viewCalls
	}
	m.refresh()
}

// moveBy moves the current view's selection (or scrolls the detail).
func (m *Model) moveBy(delta int) {
	h := m.bodyHeight()
	switch m.view {
	case viewCalls:
		m.cur.Move(m.rows, delta)
		m.cur.Scroll(m.rows.Len(), h)
		m.chosen = true
	case viewUsers:
		l := m.userList()
		m.userCur.Move(l, delta)
		m.userCur.Scroll(l.Len(), h)
	case viewHistory:
		l, c := m.historyList()
		c.Move(l, delta)
		c.Scroll(l.Len(), h)
	case viewAgents:
		l := m.agentList()
		m.agentCur.Move(l, delta)
		m.agentCur.Scroll(l.Len(), h)
	case viewDetail:
		m.detail.scroll = clamp(m.detail.scroll+delta, 0, m.detailMaxScroll())
	}
}

// open is enter: a call's detail from the calls table or the history; the
// calls of a user or an agent from their views.
func (m *Model) open() {
	switch m.view {
	case viewCalls:
		if m.cur.id != "" {
			m.openDetail(m.cur.id, viewCalls)
		}
	case viewHistory:
		if m.showAudit {
			if id, ok := m.auditCall(); ok {
				m.openDetail(id, viewHistory)
			}
		} else if m.histCur.id != "" {
			m.openDetail(m.histCur.id, viewHistory)
		}
	case viewUsers:
		if m.userCur.id != "" {
			m.showCallsOf(m.userCur.id)
		}
	case viewAgents:
		if m.agentCur.id != "" {
			m.showCallsOf(m.agentCur.id)
		}
	}
}

func (m *Model) openDetail(id string, from view) {
	m.detail = detailState{id: id, from: from}
	m.view = viewDetail
}

// showCallsOf shows the calls table filtered to one user or agent: an
// anchored regexp, so "al@x.io" does not also match "val@x.io".
func (m *Model) showCallsOf(name string) {
	m.view = viewCalls
	m.setFilter("re:^" + regexp.QuoteMeta(sanitize(name)) + "$")
	m.chosen = true
}

// setSort sorts the calls table; the same sort again reverses it. The
// selection stays on its call.
func (m *Model) setSort(by sortBy) {
	if m.view != viewCalls && m.view != viewDetail {
		m.view = viewCalls
	}
	s := sortSpec{by: by, desc: defaultDesc(by)}
	if m.rows.sort.by == by {
		s.desc = !m.rows.sort.desc
	}
	m.rows.SetSort(s, m.keyCtx())
	m.refresh()
}

// startFilter opens the filter prompt on the calls table.
func (m *Model) startFilter() {
	m.view = viewCalls
	fe := &filterEdit{prev: m.rows.filter.text}
	fe.in.insert(m.rows.filter.text)
	fe.in.max = 200
	m.filterEdit = fe
}

// onFilterKey edits the filter: the table follows each keystroke, enter
// keeps the filter, esc restores the previous one.
func (m *Model) onFilterKey(msg tea.KeyPressMsg) {
	fe := m.filterEdit
	switch {
	case msg.String() == "enter":
		if fe.err != "" {
			return // keep typing: the text is not a valid filter
		}
		m.filterEdit = nil
	case msg.String() == "esc":
		m.filterEdit = nil
		m.setFilter(fe.prev)
	case fe.in.key(msg):
		m.applyFilterText()
	}
}

// applyFilterText applies the text being typed if it is a valid filter,
// else says why not and keeps the last valid one.
func (m *Model) applyFilterText() {
	fe := m.filterEdit
	f, err := parseFilter(fe.in.String())
	if err != nil {
		fe.err = err.Error()
		return
	}
	fe.err = ""
	m.rows.SetFilter(f)
	m.refresh()
}

// setFilter replaces the filter with text (already known to be valid, or
// dropped if not).
func (m *Model) setFilter(text string) {
	f, err := parseFilter(text)
	if err != nil {
		f = filter{}
	}
	m.rows.SetFilter(f)
	m.refresh()
}

// readOnlyWhy is why hanging up is disabled, for the status line.
func (m *Model) readOnlyWhy() string {
	if m.opts.ReadOnlyWhy != "" {
		return sanitize(m.opts.ReadOnlyWhy)
	}
	return "--readonly"
}
