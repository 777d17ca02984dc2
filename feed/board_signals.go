package feed

import (
	"maps"
	"slices"
	"time"
)

// maxSignals bounds the user events a Board keeps.
const maxSignals = 500

// AgentInfo is what a Board knows of one agent from its heartbeats and
// its goodbye.
type AgentInfo struct {
	Name      string
	Instance  string
	Calls     int
	StartedAt time.Time
	LastSeen  time.Time
	Version   string
	// Detached counts its calls whose sideband is down; Outbox its final
	// records waiting for NATS.
	Detached, Outbox int
	// CreditsUnavailableSince is set while it cannot read credits.
	CreditsUnavailableSince time.Time
	// LeftAt is when it said goodbye (zero while it runs); Handoff whether
	// it handed its calls to another agent.
	LeftAt  time.Time
	Handoff bool
}

// Agent liveness, as dashboards show it.
const (
	AgentOnline = "online"
	AgentSilent = "silent" // missed three heartbeats: stopped or cut off
	AgentLeft   = "left"   // said goodbye
)

// Silent reports whether the agent missed three heartbeats by now.
func (a *AgentInfo) Silent(now time.Time) bool {
	return now.Sub(a.LastSeen) > 3*HeartbeatInterval
}

// Left reports whether the agent said goodbye after its last heartbeat.
func (a *AgentInfo) Left() bool { return !a.LeftAt.IsZero() }

// State is online, silent or left at now.
func (a *AgentInfo) State(now time.Time) string {
	switch {
	case a.Left():
		return AgentLeft
	case a.Silent(now):
		return AgentSilent
	}
	return AgentOnline
}

// How long a Board keeps an agent that left or went silent, once no live
// call on the Board names it: long enough to see what happened, short
// enough that the agents view and the header count what runs.
const (
	AgentLeftMemory   = time.Minute
	AgentSilentMemory = 10 * time.Minute
)

// applyAgent folds a heartbeat or a goodbye: the newer wins, so a
// restarted agent of the same name is online again.
func (b *Board) applyAgent(e Event) bool {
	if e.Agent == "" || (e.Heartbeat == nil && e.Goodbye == nil) {
		return false
	}
	a, ok := b.agents[e.Agent]
	if !ok {
		if e.Heartbeat == nil {
			return false // the goodbye of an agent we never saw running
		}
		a = &AgentInfo{Name: e.Agent}
		b.agents[e.Agent] = a
	}
	if g := e.Goodbye; g != nil {
		if e.At.Before(a.LastSeen) || e.At.Equal(a.LeftAt) {
			return false // a replay, or older than the newest heartbeat: a restart
		}
		a.LeftAt, a.Handoff, a.Calls, a.Instance = e.At, g.Handoff, g.Calls, g.Instance
		a.Detached = 0
		return true
	}
	if ok && (!e.At.After(a.LastSeen) || !e.At.After(a.LeftAt)) {
		return false // a replay, or a heartbeat from before the goodbye
	}
	h := e.Heartbeat
	a.Calls, a.StartedAt, a.LastSeen, a.Version = h.Calls, h.StartedAt, e.At, h.Version
	a.Instance, a.Detached, a.Outbox = h.Instance, h.Detached, h.Outbox
	a.CreditsUnavailableSince = time.Time{}
	if h.CreditsUnavailableSince != nil {
		a.CreditsUnavailableSince = *h.CreditsUnavailableSince
	}
	a.LeftAt, a.Handoff = time.Time{}, false
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
