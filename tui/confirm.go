package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/calltop/calltop/feed"
)

// confirm is an open hang-up confirmation. It holds the call ID captured
// when the key was pressed: whatever the table does meanwhile (new calls
// sorting above, rows going away), "y" hangs up the call the operator saw.
type confirm struct {
	callID string
	user   string
	cost   string
}

// openConfirm asks to confirm hanging up the selected call, or says why
// there is nothing to hang up.
func (m *Model) openConfirm() {
	id := m.cur.id
	c, ok := m.rows.Get(id)
	switch {
	case id == "" || !ok:
		m.status.set(statusInfo, "no call selected", m.now)
	case !c.Live():
		m.status.set(statusInfo, alreadyEnded(c), m.now)
	case m.pending[id]:
		m.status.set(statusInfo, "hang-up of "+shortID(id)+" already sent, waiting for its agent", m.now)
	default:
		m.confirm = &confirm{
			callID: id,
			user:   sanitize(c.User),
			cost:   formatCost(c.Usage.CostUSD, c.Usage.CostUnknown),
		}
	}
}

// onConfirmKey answers the open confirmation: y sends the terminate
// request, ctrl+c quits, any other key cancels.
func (m *Model) onConfirmKey(msg tea.KeyPressMsg) tea.Cmd {
	cf := m.confirm
	m.confirm = nil
	short := shortID(cf.callID)
	switch {
	case key.Matches(msg, m.keys.Confirm):
		if c, ok := m.rows.Get(cf.callID); ok && !c.Live() {
			m.status.set(statusInfo, alreadyEnded(c), m.now)
			return nil
		}
		m.pending[cf.callID] = true
		m.status.set(statusInfo, "terminate sent to "+short, m.now)
		return terminate(m.ctx, m.src, feed.TerminateRequest{
			CallID:   cf.callID,
			Operator: m.opts.Operator,
			Reason:   string(feed.ReasonOperator),
		})
	case msg.String() == "ctrl+c":
		return m.quit()
	default:
		m.status.set(statusInfo, "hang-up of "+short+" cancelled", m.now)
		return nil
	}
}

// alreadyEnded says that a call needs no hang-up, and why it ended.
func alreadyEnded(c feed.Call) string {
	s := shortID(c.ID) + " has already ended"
	if c.End.Reason != "" {
		s += " (" + sanitize(string(c.End.Reason)) + ")"
	}
	return s
}

// prompt is the confirmation's question.
func (cf *confirm) prompt() string {
	who := "no user"
	if cf.user != "" {
		who = "user " + cf.user
	}
	return fmt.Sprintf("Hang up %s (%s, %s so far)? y/N", cf.callID, who, cf.cost)
}

// confirmBox renders the dialog for a screen width: at most 72 cells wide,
// the prompt wrapped inside it so the full call ID always shows.
func (m *Model) confirmBox(width int) string {
	boxW := min(72, width-2)
	body := m.styles.Err.Render("Hang up call") + "\n\n" +
		m.confirm.prompt() + "\n\n" +
		m.styles.Dim.Render("y hangs up · any other key cancels")
	return m.styles.Dialog.Width(boxW).Render(body)
}

// overlay draws box centred over base, a screen of width×height.
func overlay(base, box string, width, height int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	x, y := max(0, (width-bw)/2), max(0, (height-bh)/2)
	canvas := lipgloss.NewCanvas(width, height)
	canvas.Compose(lipgloss.NewCompositor(
		lipgloss.NewLayer(base),
		lipgloss.NewLayer(box).X(x).Y(y).Z(1),
	))
	return canvas.Render()
}
