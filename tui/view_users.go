package tui

import (
	"strings"
)

// usersView lists users busiest first: live calls, what they spent in the
// last 5 and 60 minutes (from usage deltas), the cost of their calls on
// the board, the credit they have left when their policy says, and the
// abuse signals on them and their calls.
func (m *Model) usersView(w, height int) []string {
	l := m.userList()
	cols := []lcol{
		{title: "USER", flex: true, minW: 16, maxW: 40},
		{title: "LIVE", right: true},
		{title: "CALLS", right: true, drop: 2},
		{title: "$ 5M", right: true},
		{title: "$ 60M", right: true},
		{title: "$ BOARD", right: true, drop: 1},
		{title: "CREDIT", right: true},
		{title: "FLAGS", flex: true, minW: 10, maxW: 40},
	}
	return m.renderList(w, height, cols, l.Len(), &m.userCur, func(i int) bool { return l.rows[i].live == 0 },
		func(i int) []lcell {
			u := l.rows[i]
			live := lcell{text: itoa(u.live), tone: toneLive}
			if u.live == 0 {
				live.tone = tonePlain
			}
			credit := lcell{text: "-"}
			if u.credit != nil {
				credit.text = formatCost(*u.credit, false)
				if *u.credit <= 0 {
					credit = lcell{text: "none", tone: toneFlag}
				}
				if u.creditApprox {
					credit.text = "≈" + credit.text
				}
			}
			flags := make([]string, 0, len(u.flags)+1)
			for _, f := range u.flags {
				flags = append(flags, "!"+f)
			}
			if u.refused > 0 {
				flags = append(flags, "refused×"+itoa(u.refused))
			}
			ft := tonePlain
			if len(flags) > 0 {
				ft = toneFlag
			}
			return []lcell{
				{text: orDash(u.name)}, live, {text: itoa(u.calls)},
				{text: formatCost(u.spend5, false)}, {text: formatCost(u.spend60, false)},
				{text: formatCost(u.cost, u.costUnknown)}, credit,
				{text: strings.Join(flags, " "), tone: ft},
			}
		}, "no users yet")
}
