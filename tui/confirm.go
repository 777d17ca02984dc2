package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// confirm is an open hang-up dialog. It holds the call IDs captured when
// the key was pressed: whatever the table does meanwhile (calls sorting
// above, rows leaving), confirming hangs up the calls the operator saw.
//
// It asks for a reason, which travels to the agent and ends up on the
// ended event (End.Detail) next to the operator (End.By). The highlighted
// choice starts on Cancel, so enter pressed by reflex never hangs up.
type confirm struct {
	ids     []string
	title   string
	facts   [][2]string // label, value
	reasons []string
	choice  int // 0: cancel; 1..len(reasons): a preset; len+1: other
	other   lineInput
	err     string
	// warn is said above the choices: a hang-up by this user was
	// refused before (Model.refused).
	warn string
}

// otherChoice is the index of the free-text choice.
func (cf *confirm) otherChoice() int { return len(cf.reasons) + 1 }

// typing reports whether keys go to the free-text reason.
func (cf *confirm) typing() bool { return cf.choice == cf.otherChoice() }

// reason is the chosen reason ("" for cancel or an empty free text).
func (cf *confirm) reason() string {
	switch {
	case cf.choice == 0:
		return ""
	case cf.typing():
		return strings.TrimSpace(cf.other.String())
	}
	return cf.reasons[cf.choice-1]
}

// openHangUp opens the dialog for what the view has selected: the
// selected or detailed call, or every live call of the selected user.
func (m *Model) openHangUp() {
	switch m.view {
	case viewCalls:
		m.openHangUpCall(m.cur.id)
	case viewDetail:
		m.openHangUpCall(m.detail.id)
	case viewUsers:
		m.openHangUpUser(m.userCur.id)
	default:
		m.status.set(statusInfo, "select a call or a user to hang up", m.now)
	}
}

func (m *Model) openHangUpCall(id string) {
	c, ok := m.rows.Get(id)
	switch {
	case id == "" || !ok:
		m.status.set(statusInfo, "no call selected", m.now)
	case !c.Live():
		m.status.set(statusInfo, alreadyEnded(c), m.now)
	case m.pending[id]:
		m.status.set(statusInfo, "hang-up of "+shortID(id)+" already sent, waiting for its agent", m.now)
	default:
		facts := [][2]string{
			{"call", id},
			{"user", sanitize(orDash(c.User))},
			{"cost", costSoFar(&c, m.now)},
		}
		// A detached call or one whose agent is gone is hung up all the
		// same; the operator should know which it is.
		if s := stateText(&c, m.rowCtx(&c)); s != "live" {
			facts = append(facts, [2]string{"state", s})
		}
		m.confirm = &confirm{
			ids:     []string{id},
			title:   "Hang up call",
			facts:   facts,
			reasons: m.opts.Reasons,
			other:   lineInput{max: 200},
			warn:    m.refused,
		}
	}
}

func (m *Model) openHangUpUser(user string) {
	var ids []string
	var cost float64
	unknown := false
	for _, x := range m.rows.order {
		c := &x.call
		if c.User == user && c.Live() && !m.pending[c.ID] {
			ids = append(ids, c.ID)
			cost += c.Usage.CostUSD
			unknown = unknown || c.Usage.CostUnknown
		}
	}
	if len(ids) == 0 {
		m.status.set(statusInfo, "no live call of "+sanitize(orDash(user))+" to hang up", m.now)
		return
	}
	calls := fmt.Sprintf("%d live call", len(ids))
	if len(ids) > 1 {
		calls += "s"
	}
	m.confirm = &confirm{
		ids:   ids,
		title: "Hang up every call of a user",
		facts: [][2]string{
			{"user", sanitize(orDash(user))},
			{"calls", calls + ": " + strings.Join(shortIDs(ids, 3), ", ")},
			{"cost", formatCost(cost, unknown) + " so far"},
		},
		reasons: m.opts.Reasons,
		other:   lineInput{max: 200},
		warn:    m.refused,
	}
}

// costSoFar is a call's cost, age and burn rate in one line.
func costSoFar(c *feed.Call, now time.Time) string {
	s := formatCost(c.Usage.CostUSD, c.Usage.CostUnknown) + " so far, " + formatAge(c.Seconds(now))
	if r := formatRate(c.PerMinute(now), c.Usage.CostUnknown); r != "-" {
		s += ", " + r + "/min"
	}
	return s
}

func shortIDs(ids []string, n int) []string {
	out := make([]string, 0, n+1)
	for i, id := range ids {
		if i == n {
			out = append(out, fmt.Sprintf("+%d more", len(ids)-n))
			break
		}
		out = append(out, shortID(id))
	}
	return out
}

// onConfirmKey drives the dialog: ↑/↓ (or tab) choose, digits pick a
// preset, enter confirms the highlighted choice, esc cancels. Letters go to
// the free-text reason only once "other" is highlighted, so a stray key
// never starts a hang-up.
func (m *Model) onConfirmKey(msg tea.KeyPressMsg) tea.Cmd {
	cf := m.confirm
	s := msg.String()
	switch {
	case s == "esc" || m.keys.is(msg, ActBack):
		m.confirm = nil
		m.status.set(statusInfo, "hang-up cancelled", m.now)
		return nil
	case m.keys.is(msg, ActConfirm):
		return m.confirmChoice()
	case s == "up" || s == "shift+tab" || (!cf.typing() && m.keys.is(msg, ActUp)):
		cf.choice = max(0, cf.choice-1)
	case s == "down" || s == "tab" || (!cf.typing() && m.keys.is(msg, ActDown)):
		cf.choice = min(cf.otherChoice(), cf.choice+1)
	case cf.typing():
		cf.other.key(msg)
	case len(s) == 1 && s[0] >= '1' && s[0] <= '9':
		if n := int(s[0] - '0'); n <= cf.otherChoice() {
			cf.choice = n
		}
	}
	cf.err = ""
	return nil
}

// confirmChoice acts on the highlighted choice.
func (m *Model) confirmChoice() tea.Cmd {
	cf := m.confirm
	if cf.choice == 0 {
		m.confirm = nil
		m.status.set(statusInfo, "hang-up cancelled", m.now)
		return nil
	}
	reason := cf.reason()
	if reason == "" {
		cf.err = "type a reason, or choose a preset"
		return nil
	}
	m.confirm = nil
	return m.hangUp(cf.ids, reason)
}

// hangUp sends one terminate request per call, each with the operator and
// the reason. A read-only dashboard refuses here too, whatever asked.
func (m *Model) hangUp(ids []string, reason string) tea.Cmd {
	if m.opts.ReadOnly {
		m.status.set(statusErr, errReadOnly.Error(), m.now)
		return nil
	}
	var cmds []tea.Cmd
	var sent []string
	for _, id := range ids {
		if c, ok := m.rows.Get(id); ok && !c.Live() {
			continue // ended meanwhile
		}
		m.pending[id] = true
		sent = append(sent, id)
		cmds = append(cmds, terminate(m.ctx, m.src, feed.TerminateRequest{
			CallID:   id,
			Operator: m.opts.Operator,
			Reason:   reason,
		}))
	}
	switch len(sent) {
	case 0:
		m.status.set(statusInfo, "nothing to hang up: the calls have ended", m.now)
	case 1:
		m.status.set(statusInfo, "hang-up sent for "+shortID(sent[0])+": "+reason, m.now)
	default:
		m.status.set(statusInfo, fmt.Sprintf("hang-up sent for %d calls: %s", len(sent), reason), m.now)
	}
	if len(sent) > 0 && m.rows.sort.by == sortState {
		m.rows.Rekey(m.keyCtx())
	}
	m.refresh()
	return tea.Batch(cmds...)
}

// onTerminateDone reports the agent's answer. Success does not mark the
// call ended: the agent's ended event does, so the table only ever shows
// what the agents say.
func (m *Model) onTerminateDone(msg terminateDoneMsg) {
	short := shortID(msg.callID)
	if msg.err == nil {
		m.refused = ""
		m.status.set(statusOK, short+" hung up by you", m.opts.Now())
		return
	}
	delete(m.pending, msg.callID)
	var text string
	switch {
	case errors.Is(msg.err, errReadOnly):
		text = errReadOnly.Error()
	case errors.Is(msg.err, feed.ErrPermissionDenied):
		// The server's refusal names the subject and repeats the call
		// ID, past the width of a status line: the line says what it
		// means, the next hang-up dialog says it in full.
		text = hangUpRefused
		m.refused = refusedDetail(msg.err)
	case errors.Is(msg.err, feed.ErrNoOwner):
		text = fmt.Sprintf("hang up %s: no agent owns the call (ended, or its agent is gone)", short)
	case errors.Is(msg.err, context.DeadlineExceeded):
		text = fmt.Sprintf("hang up %s: no answer from its agent within %s", short, terminateTimeout)
	default:
		text = fmt.Sprintf("hang up %s: %s", short, sanitize(msg.err.Error()))
	}
	m.status.set(statusErr, text, m.opts.Now())
	m.refresh()
}

// hangUpRefused is the status line when the NATS server refuses a
// hang-up: short enough for 80 columns.
const hangUpRefused = "hang-up refused: this NATS user lacks the operator role"

// refusedDetail is a refused hang-up in full, for the dialog: what the
// server refused and what it takes (docs/SECURITY.md).
func refusedDetail(err error) string {
	what := err.Error()
	if pe, ok := feed.AsPermissionError(err); ok {
		what = pe.Error()
	}
	return "An earlier hang-up was refused: " + sanitize(what) +
		". Hanging up takes a NATS user with the operator role (docs/SECURITY.md)."
}

// alreadyEnded says that a call needs no hang-up, and why it ended.
func alreadyEnded(c feed.Call) string {
	s := shortID(c.ID) + " has already ended"
	if c.End.Reason != "" {
		s += " (" + joinNonEmpty(": ", sanitize(string(c.End.Reason)), reasonNote(c.End.Reason)) + ")"
	}
	return s
}

// shortID is a call ID short enough for a footer message.
func shortID(id string) string { return truncate(id, 20) }
