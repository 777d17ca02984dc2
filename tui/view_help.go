package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// shortHelp is the footer's key hint for the current view, most useful
// first (the help model cuts it with an ellipsis where the line ends).
func (m *Model) shortHelp() []key.Binding {
	k := m.keys
	sort := m.sortHint()
	switch {
	case m.confirm != nil:
		return []key.Binding{
			key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "choose")),
			k.Binding(ActConfirm),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
	case m.showHelp:
		return []key.Binding{k.Binding(ActHelp), k.Binding(ActBack), k.Binding(ActQuit)}
	}
	switch m.view {
	case viewDetail:
		return append(k.bindings(ActBack, ActUp, ActDown, ActHangUp), k.bindings(ActUsers, ActHistory, ActAgents, ActHelp, ActQuit)...)
	case viewUsers:
		open := withDesc(k.Binding(ActDetail), "their calls")
		return append([]key.Binding{open}, k.bindings(ActHangUp, ActBack, ActHistory, ActAgents, ActHelp, ActQuit)...)
	case viewHistory:
		pane := withDesc(k.Binding(ActHistory), "audit trail")
		if m.showAudit {
			pane = withDesc(k.Binding(ActHistory), "ended calls")
		}
		return append([]key.Binding{k.Binding(ActDetail), pane}, k.bindings(ActBack, ActUsers, ActAgents, ActHelp, ActQuit)...)
	case viewAgents:
		open := withDesc(k.Binding(ActDetail), "its calls")
		return append([]key.Binding{open}, k.bindings(ActBack, ActUsers, ActHistory, ActHelp, ActQuit)...)
	}
	out := k.bindings(ActDetail, ActFilter)
	out = append(out, sort)
	out = append(out, k.bindings(ActHangUp, ActUsers, ActHistory, ActAgents, ActHelp, ActQuit)...)
	if m.rows.filter.active() {
		out = append([]key.Binding{withDesc(k.Binding(ActBack), "clear filter")}, out...)
	}
	return out
}

// sortHint is one footer entry for the six sort keys: "C/R/A/T/U/S sort".
func (m *Model) sortHint() key.Binding {
	var keys []string
	for _, a := range []Action{ActSortCost, ActSortRate, ActSortAge, ActSortTokens, ActSortUser, ActSortState} {
		if ks := m.keys.Keys(a); len(ks) > 0 {
			keys = append(keys, prettyKey(ks[0]))
		}
	}
	if len(keys) == 0 {
		return key.NewBinding(key.WithDisabled())
	}
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(strings.Join(keys, "/"), "sort"))
}

func withDesc(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// helpScreen lists every binding of the key map by group, in columns
// that fit the width, then what is not a key binding: the dialog, the
// filter syntax, ctrl+c, read-only.
func (m *Model) helpScreen(w, height int) []string {
	st := m.styles
	var blocks [][]string
	for g := range groupTitles {
		var entries [][2]string
		for _, info := range actionInfos {
			if int(info.group) != g {
				continue
			}
			b := m.keys.Binding(info.act)
			if !b.Enabled() || len(b.Keys()) == 0 {
				continue
			}
			entries = append(entries, [2]string{keyList(b.Keys()), info.desc})
		}
		if len(entries) == 0 {
			continue
		}
		kw := 0
		for _, e := range entries {
			kw = max(kw, lipgloss.Width(e[0]))
		}
		block := []string{st.Bold.Render(groupTitles[g])}
		for _, e := range entries {
			block = append(block, st.Help.FullKey.Render(pad(e[0], kw, false))+"  "+e[1])
		}
		blocks = append(blocks, block)
	}
	lines := flow(blocks, w)
	notes := []string{
		"Hang up: ↑/↓ or 1-9 pick a reason, enter confirms; it opens on Cancel.",
		"Filter: call, user, model, agent, flag, state; !negates; re:regexp; api:live.",
		"ctrl+c always quits. Keys: ~/.config/calltop/keys.conf or --keys FILE.",
	}
	if m.opts.ReadOnly {
		notes = append(notes, "Read-only: hanging up is disabled (--readonly).")
	}
	lines = append(lines, "")
	for _, n := range notes {
		for _, l := range strings.Split(lipgloss.NewStyle().Width(max(10, w)).Render(n), "\n") {
			lines = append(lines, st.Dim.Render(strings.TrimRight(l, " ")))
		}
	}
	for i := range lines {
		lines[i] = clip(lines[i], w)
	}
	return padLines(lines, height)
}

// keyList shows every key of a binding, arrows as arrows.
func keyList(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prettyKey(k)
	}
	return strings.Join(out, " ")
}

// flow lays blocks out left to right in as many columns as fit in w,
// wrapping to a new band of rows when the next block does not fit.
func flow(blocks [][]string, w int) []string {
	var out []string
	var band [][]string
	bandW := 0
	emit := func() {
		if len(band) == 0 {
			return
		}
		widths := make([]int, len(band))
		n := 0
		for i, b := range band {
			n = max(n, len(b))
			for _, l := range b {
				widths[i] = max(widths[i], lipgloss.Width(l))
			}
		}
		for r := range n {
			var line strings.Builder
			for i, b := range band {
				cell := ""
				if r < len(b) {
					cell = b[r]
				}
				if i < len(band)-1 {
					cell += strings.Repeat(" ", widths[i]-lipgloss.Width(cell)+3)
				}
				line.WriteString(cell)
			}
			out = append(out, strings.TrimRight(line.String(), " "))
		}
		out = append(out, "")
		band, bandW = nil, 0
	}
	for _, b := range blocks {
		bw := 0
		for _, l := range b {
			bw = max(bw, lipgloss.Width(l))
		}
		if len(band) > 0 && bandW+3+bw > w {
			emit()
		}
		band = append(band, b)
		bandW += bw + 3
	}
	emit()
	if len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}
