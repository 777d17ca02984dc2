package tui

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/calltop/calltop/feed"
)

// userRow is one user in the Users view.
type userRow struct {
	name            string
	live, calls     int     // live calls, calls on the board
	cost            float64 // cost of the calls on the board
	costUnknown     bool
	spend5, spend60 float64
	credit          *float64 // credit left, estimated; nil when unknown
	creditApprox    bool
	flags           []string // flag codes on the user's calls and on the user
	refused         int      // refusals on the user (Board.Signals)
}

// userList is the Users view's rows, busiest first: most spent in the
// last five minutes, then in the hour, then by name.
type userList struct {
	gen  uint64
	rows []userRow
	pos  map[string]int
}

func (l *userList) Len() int         { return len(l.rows) }
func (l *userList) Key(i int) string { return l.rows[i].name }
func (l *userList) Index(k string) (int, bool) {
	i, ok := l.pos[k]
	return i, ok
}

// userList groups the board's calls by user, once per data generation.
func (m *Model) userList() *userList {
	if m.usersCache != nil && m.usersCache.gen == m.gen {
		return m.usersCache
	}
	by := map[string]*userRow{}
	get := func(name string) *userRow {
		u := by[name]
		if u == nil {
			u = &userRow{name: name}
			by[name] = u
		}
		return u
	}
	calls := map[string][]*feed.Call{}
	for _, x := range m.rows.order {
		c := &x.call
		u := get(c.User)
		u.calls++
		u.cost += c.Usage.CostUSD
		u.costUnknown = u.costUnknown || c.Usage.CostUnknown
		if c.Live() {
			u.live++
		}
		for _, f := range c.Flags {
			u.addFlag(flagCode(f.Kind))
		}
		calls[c.User] = append(calls[c.User], c)
	}
	for _, e := range m.board.Signals() {
		u := get(e.User)
		switch {
		case e.Flag != nil:
			u.addFlag(flagCode(e.Flag.Kind))
		case e.Refusal != nil:
			u.refused++
		}
	}
	l := &userList{gen: m.gen, pos: make(map[string]int, len(by))}
	for name, u := range by {
		u.spend5, u.spend60 = m.meter.userSpend(name, m.now)
		u.credit, u.creditApprox = creditLeft(calls[name], m.now)
		l.rows = append(l.rows, *u)
	}
	slices.SortFunc(l.rows, func(a, b userRow) int {
		return cmp.Or(cmp.Compare(b.spend5, a.spend5), cmp.Compare(b.spend60, a.spend60),
			cmp.Compare(b.live, a.live), strings.Compare(a.name, b.name))
	})
	for i, u := range l.rows {
		l.pos[u.name] = i
	}
	m.usersCache = l
	return l
}

func (u *userRow) addFlag(code string) {
	if !slices.Contains(u.flags, code) {
		u.flags = append(u.flags, code)
	}
}

// creditLeft estimates a user's credit now. Policy.CreditsUSD is what the
// user had when a call started, so the newest call that carries it is the
// freshest figure; from it goes what the user's calls spent since that
// call began: all of that call's cost, and the share of each other call's
// cost that fell after its start (assuming an even burn, hence approx).
func creditLeft(calls []*feed.Call, now time.Time) (left *float64, approx bool) {
	var base *feed.Call
	for _, c := range calls {
		if c.Policy == nil || c.Policy.CreditsUSD == nil {
			continue
		}
		if base == nil || c.StartedAt.After(base.StartedAt) {
			base = c
		}
	}
	if base == nil {
		return nil, false
	}
	v := *base.Policy.CreditsUSD
	for _, c := range calls {
		if c == base {
			v -= c.Usage.CostUSD
			continue
		}
		end := now
		if !c.Live() && !c.EndedAt.IsZero() {
			end = c.EndedAt
		}
		life := end.Sub(c.StartedAt)
		after := end.Sub(base.StartedAt)
		if after <= 0 || c.Usage.CostUSD == 0 {
			continue
		}
		approx = true
		if life <= 0 || after >= life {
			v -= c.Usage.CostUSD
			continue
		}
		v -= c.Usage.CostUSD * after.Seconds() / life.Seconds()
	}
	return &v, approx
}

// agentRow is one agent in the Agents view.
type agentRow struct {
	feed.AgentInfo
	state string // feed.AgentInfo.State at now; "" for an agent that never beat
	live  int    // its live calls on the board
	cost  float64
}

// agentList is the Agents view's rows, by name.
type agentList struct {
	gen  uint64
	rows []agentRow
}

func (l *agentList) Len() int         { return len(l.rows) }
func (l *agentList) Key(i int) string { return l.rows[i].Name }
func (l *agentList) Index(k string) (int, bool) {
	for i, a := range l.rows {
		if a.Name == k {
			return i, true
		}
	}
	return 0, false
}

// agentList lists the agents the Board has heard, with the calls each owns
// on the board, once per data generation. Agents that own calls but never
// sent a heartbeat (older agents) are listed too.
func (m *Model) agentList() *agentList {
	if m.agentCache != nil && m.agentCache.gen == m.gen {
		return m.agentCache
	}
	live := map[string]int{}
	cost := map[string]float64{}
	for _, x := range m.rows.order {
		if x.call.Live() {
			live[x.call.Agent]++
			cost[x.call.Agent] += x.call.Usage.CostUSD
		}
	}
	l := &agentList{gen: m.gen}
	known := map[string]bool{}
	at := m.agentsAt()
	for _, a := range m.board.Agents() {
		known[a.Name] = true
		l.rows = append(l.rows, agentRow{AgentInfo: a, state: a.State(at), live: live[a.Name], cost: cost[a.Name]})
	}
	for name, n := range live {
		if !known[name] && name != "" {
			l.rows = append(l.rows, agentRow{AgentInfo: feed.AgentInfo{Name: name}, live: n, cost: cost[name]})
		}
	}
	slices.SortFunc(l.rows, func(a, b agentRow) int { return strings.Compare(a.Name, b.Name) })
	m.agentCache = l
	return l
}
