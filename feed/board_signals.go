package feed

import (
	"maps"
	"slices"
	"time"
)

// maxSignals bounds the user events a Board keeps.
const maxSignals = 500

// AgentInfo is what a Board knows of one agent from its heartbeats.
type AgentInfo struct {
	Name      string
	Calls     int
	StartedAt time.Time
	LastSeen  time.Time
	Version   string
}

// Silent reports whether the agent missed three heartbeats by now.
func (a *AgentInfo) Silent(now time.Time) bool {
	return now.Sub(a.LastSeen) > 3*HeartbeatInterval
}

func (b *Board) applyHeartbeat(e Event) bool {
	if e.Heartbeat == nil || e.Agent == "" {
		return false
	}
	a, ok := b.agents[e.Agent]
	if !ok {
		a = &AgentInfo{Name: e.Agent}
		b.agents[e.Agent] = a
	}
	if ok && !e.At.After(a.LastSeen) {
		return false
	}
	a.Calls, a.StartedAt, a.LastSeen, a.Version = e.Heartbeat.Calls, e.Heartbeat.StartedAt, e.At, e.Heartbeat.Version
	return true
}

func (b *Board) applySignal(e Event) bool {
	for i := range b.signals {
		s := &b.signals[i]
		if s.Kind == e.Kind && s.User == e.User && s.At.Equal(e.At) {
			return false // a replay of one we have
		}
	}
	b.signals = append(b.signals, e)
	if len(b.signals) > maxSignals {
		b.signals = slices.Delete(b.signals, 0, len(b.signals)-maxSignals)
	}
	return true
}

// Agents returns the agents seen, by name.
func (b *Board) Agents() []AgentInfo {
	out := make([]AgentInfo, 0, len(b.agents))
	for _, name := range slices.Sorted(maps.Keys(b.agents)) {
		out = append(out, *b.agents[name])
	}
	return out
}

// Agent returns one agent's info.
func (b *Board) Agent(name string) (AgentInfo, bool) {
	a, ok := b.agents[name]
	if !ok {
		return AgentInfo{}, false
	}
	return *a, true
}

// Signals returns the newest user events (flags and refusals that belong
// to no call), oldest first.
func (b *Board) Signals() []Event { return slices.Clone(b.signals) }

// setWarning keeps the newest warning per limit. It never writes into
// the slice in place: copies handed out by Get and Calls share it.
func (c *Call) setWarning(w Warning) bool {
	for i := range c.Warnings {
		if c.Warnings[i].Limit == w.Limit {
			if c.Warnings[i] == w {
				return false
			}
			ws := slices.Clone(c.Warnings)
			ws[i] = w
			c.Warnings = ws
			return true
		}
	}
	c.Warnings = append(c.Warnings, w)
	return true
}

// addFlag keeps the first flag of each kind (its evidence is what raised
// it) and ignores repeats.
func (c *Call) addFlag(f Flag) bool {
	for _, have := range c.Flags {
		if have.Kind == f.Kind {
			return false
		}
	}
	c.Flags = append(c.Flags, f)
	return true
}
