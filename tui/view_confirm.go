package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// confirmBox renders the hang-up dialog: what will be hung up (call,
// user, cost so far), the reason choices with Cancel first and
// highlighted, and the keys. It is at most 72 cells wide; long values wrap
// so a call ID always shows whole.
func (m *Model) confirmBox(w, h int) string {
	cf := m.confirm
	st := m.styles
	boxW := max(10, min(72, w-2))
	inner := boxW - 4 // border and padding
	var lines []string
	lines = append(lines, st.Err.Render(cf.title), "")
	for _, f := range cf.facts {
		lines = append(lines, wrapFact(f[0], f[1], inner)...)
	}
	if cf.warn != "" {
		lines = append(lines, "")
		// Words wrap; a subject longer than the box breaks.
		for _, l := range strings.Split(ansi.Wrap(cf.warn, inner, ""), "\n") {
			lines = append(lines, st.Err.Render(l))
		}
	}
	lines = append(lines, "", "Reason (sent to the agent, kept on the ended call):")
	choice := func(i int, text string) string {
		marker := "  "
		if i == cf.choice {
			marker = "> "
		}
		line := marker + text
		if i == cf.choice {
			return st.Selected.Render(truncate(line, inner))
		}
		return truncate(line, inner)
	}
	lines = append(lines, choice(0, "Cancel: keep the call"))
	for i, r := range cf.reasons {
		lines = append(lines, choice(i+1, itoa(i+1)+" "+r))
	}
	other := itoa(cf.otherChoice()) + " other: "
	if cf.typing() {
		text := cf.other.String()
		room := max(1, inner-len(other)-3)
		if n := len([]rune(text)); n > room {
			text = "…" + string([]rune(text)[n-room+1:])
		}
		lines = append(lines, st.Selected.Render("> "+other)+text+st.Selected.Render(" "))
	} else {
		lines = append(lines, choice(cf.otherChoice(), other+cf.other.String()))
	}
	lines = append(lines, "")
	if cf.err != "" {
		lines = append(lines, st.Err.Render(cf.err))
	}
	lines = append(lines, st.Dim.Render("↑/↓ choose · enter confirm · esc cancel"))
	if max := h - 2; len(lines) > max && max > 0 {
		lines = lines[:max]
	}
	return st.Dialog.Width(boxW).Render(strings.Join(lines, "\n"))
}

// wrapFact renders "label  value", wrapping the value under itself.
func wrapFact(label, value string, w int) []string {
	const lw = 6
	room := max(1, w-lw)
	var out []string
	r := []rune(value)
	for first := true; first || len(r) > 0; first = false {
		n := min(len(r), room)
		prefix := strings.Repeat(" ", lw)
		if first {
			prefix = pad(label, lw, false)
		}
		out = append(out, prefix+string(r[:n]))
		r = r[n:]
	}
	return out
}
