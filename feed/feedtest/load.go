package feedtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/calltop/calltop/feed"
)

// The load, per second of its clock, at n live calls: calls live 5
// minutes on average, so n/300 start and as many end (an ended call stays
// on a dashboard for Retain, then is pruned); n/2000 sidebands drop and
// come back 5–30 s later; n/2000 flags and n/1000 warnings are raised;
// Agents agents beat every feed.HeartbeatInterval; usage events make up
// the rest of PerSecond. At 10,000 calls that is 33 starts (and their
// session events), 33 ends, 5 detaches, 5 flags, 10 warnings and 1.6
// heartbeats a second among 20,000 events.
const (
	PerSecond = 20_000
	FPS       = 60
	CallLife  = 300 * time.Second
	Agents    = 8
	// Retain is how long the dashboard keeps an ended call
	// (tui.DefaultRetain): Initial includes the calls that ended within
	// it, as the live-state stream does.
	Retain = 2 * time.Minute
)

// simCall is one call as its agent sees it: what it has published so far.
type simCall struct {
	id, user, model, agent string
	started                time.Time
	seq                    uint64
	usage                  feed.Usage
	policy                 *feed.EffectivePolicy
	flags                  []feed.Flag
	warnings               []feed.Warning
	detached               bool
	pos                    int // index in Load.live
}

// simKind is a kind of event the load makes at a rate.
type simKind int

const (
	simStart simKind = iota
	simEnd
	simDetach
	simFlag
	simWarning
	numSimKinds
)

// Load makes the events, deterministically for a seed and a start: the
// same frames for every implementation a benchmark compares.
type Load struct {
	rng   *rand.Rand
	now   time.Time
	live  []*simCall
	seq   int // calls issued, for IDs and users
	rates [numSimKinds]float64
	acc   [numSimKinds]float64
	accN  float64 // events owed this second, for exact totals

	sessions []*simCall   // started in the last frame: session next
	reattach []reattachAt // detached calls and when they come back
	agents   []simAgent
	n        int // live calls in the steady state
}

type reattachAt struct {
	c  *simCall
	at time.Time
}

type simAgent struct {
	name, instance string
	started, next  time.Time
}

var models = []string{"gpt-realtime", "gpt-realtime-mini", "gpt-realtime-2", "gpt-realtime-1.5"}

func NewLoad(n int, start time.Time) *Load {
	g := &Load{
		rng: rand.New(rand.NewPCG(7, 8)),
		now: start,
		n:   n,
	}
	perSec := float64(n) / CallLife.Seconds()
	g.rates = [numSimKinds]float64{
		simStart:   perSec,
		simEnd:     perSec,
		simDetach:  float64(n) / 2000,
		simFlag:    float64(n) / 2000,
		simWarning: float64(n) / 1000,
	}
	for i := range Agents {
		g.agents = append(g.agents, simAgent{
			name:     fmt.Sprintf("api-%d", i+1),
			instance: fmt.Sprintf("inst-%016x", g.rng.Uint64()),
			started:  g.now.Add(-6 * time.Hour),
			next:     g.now.Add(time.Duration(i) * feed.HeartbeatInterval / Agents),
		})
	}
	return g
}

// Initial is the state a dashboard replays when it starts: every agent's
// heartbeat, then for each of n live calls its started, session and
// newest usage events (with the flags, warnings and detached sidebands of
// a steady state), then the ended events of the calls that ended within
// the retention, as the live-state stream keeps them.
func (g *Load) Initial() []feed.Event {
	n := g.n
	var evs []feed.Event
	for i := range g.agents {
		evs = append(evs, g.heartbeat(&g.agents[i]))
	}
	for range n {
		life := time.Duration(g.rng.ExpFloat64() * float64(CallLife))
		life = min(life, 50*time.Minute)
		c := g.newCall(g.now.Add(-life))
		evs = append(evs, g.startEvent(c), g.sessionEvent(c), g.usageEvent(c, g.now))
		switch x := g.rng.IntN(1000); {
		case x < 10:
			evs = append(evs, g.flagEvent(c))
		case x < 30:
			evs = append(evs, g.warningEvent(c))
		case x < 35:
			evs = append(evs, g.detachEvent(c))
		}
	}
	ended := int(g.rates[simEnd] * Retain.Seconds())
	for range ended {
		life := time.Duration(g.rng.ExpFloat64() * float64(CallLife))
		endAt := g.now.Add(-time.Duration(g.rng.Int64N(int64(Retain))))
		c := g.newCall(endAt.Add(-life))
		g.usageEvent(c, endAt) // its final usage
		if g.rng.IntN(20) == 0 {
			g.flagEvent(c)
		}
		evs = append(evs, g.endEvent(c, endAt))
	}
	return evs
}

// Now is the load's clock: the start, plus a frame per Frame.
func (g *Load) Now() time.Time { return g.now }

// newCall adds a live call that started at started.
func (g *Load) newCall(started time.Time) *simCall {
	g.seq++
	c := &simCall{
		id:      fmt.Sprintf("rtc_u1_%016x%016x", g.rng.Uint64(), g.rng.Uint64()),
		user:    fmt.Sprintf("user%04d@example.com", g.seq%3000),
		model:   models[g.seq%len(models)],
		agent:   g.agents[g.seq%len(g.agents)].name,
		started: started,
		pos:     len(g.live),
	}
	if g.seq%2 == 0 {
		credits := 5 + float64(g.seq%50)
		c.policy = &feed.EffectivePolicy{MaxSeconds: 1800, MaxCostUSD: 5, CreditsUSD: &credits, WarnAt: 0.8}
	}
	g.live = append(g.live, c)
	return c
}

// Frame advances the clock by one frame (1/FPS s) and returns its events:
// PerSecond/FPS of them.
func (g *Load) Frame() []feed.Event {
	g.now = g.now.Add(time.Second / FPS)
	g.accN += float64(PerSecond) / FPS
	total := int(g.accN)
	g.accN -= float64(total)
	evs := make([]feed.Event, 0, total)
	for _, c := range g.sessions {
		if c.pos >= 0 {
			evs = append(evs, g.sessionEvent(c))
		}
	}
	g.sessions = g.sessions[:0]
	for i := range g.agents {
		if a := &g.agents[i]; !g.now.Before(a.next) {
			evs = append(evs, g.heartbeat(a))
			a.next = a.next.Add(feed.HeartbeatInterval)
		}
	}
	kept := g.reattach[:0]
	for _, r := range g.reattach {
		switch {
		case r.c.pos < 0: // ended meanwhile
		case g.now.Before(r.at):
			kept = append(kept, r)
		default:
			evs = append(evs, g.attachEvent(r.c))
		}
	}
	g.reattach = kept
	for k := range numSimKinds {
		g.acc[k] += g.rates[k] / FPS
		for ; g.acc[k] >= 1; g.acc[k]-- {
			switch k {
			case simStart:
				c := g.newCall(g.now)
				evs = append(evs, g.startEvent(c))
				g.sessions = append(g.sessions, c)
			case simEnd:
				evs = append(evs, g.endEvent(g.pick(), g.now))
			case simDetach:
				if c := g.pick(); !c.detached {
					evs = append(evs, g.detachEvent(c))
				}
			case simFlag:
				evs = append(evs, g.flagEvent(g.pick()))
			case simWarning:
				evs = append(evs, g.warningEvent(g.pick()))
			}
		}
	}
	for len(evs) < total {
		evs = append(evs, g.usageEvent(g.pick(), g.now))
	}
	return evs
}

// pick is a random live call.
func (g *Load) pick() *simCall { return g.live[g.rng.IntN(len(g.live))] }

func (g *Load) event(c *simCall, kind feed.Kind, at time.Time) feed.Event {
	c.seq++
	return feed.Event{V: feed.Version, Kind: kind, CallID: c.id, Term: 1, Seq: c.seq, At: at, Agent: c.agent}
}

func (g *Load) startEvent(c *simCall) feed.Event {
	e := g.event(c, feed.KindStarted, c.started)
	e.Start = &feed.Start{User: c.user, Model: c.model, StartedAt: c.started}
	e.Policy = c.policy
	return e
}

func (g *Load) sessionEvent(c *simCall) feed.Event {
	e := g.event(c, feed.KindSession, c.started.Add(300*time.Millisecond))
	e.Session = &feed.Session{SessionID: "sess_" + c.id[7:], Model: c.model, ExpiresAt: c.started.Add(time.Hour)}
	return e
}

// usageEvent is the call's usage after one more response, as of at.
func (g *Load) usageEvent(c *simCall, at time.Time) feed.Event {
	in, out := int64(20+g.rng.IntN(400)), int64(10+g.rng.IntN(200))
	u := &c.usage
	u.Tokens.Input += in
	u.Tokens.InputAudio += in * 9 / 10
	u.Tokens.InputText += in - in*9/10
	u.Tokens.InputCached += in / 4
	u.Tokens.CachedAudio += in / 4
	u.Tokens.Output += out
	u.Tokens.OutputAudio += out
	u.Tokens.Total += in + out
	u.Responses++
	if u.ByStatus == nil {
		u.ByStatus = map[string]int{}
	}
	u.ByStatus["completed"]++
	u.Seconds = math.Round(at.Sub(c.started).Seconds()*10) / 10
	u.UserSpeechSeconds = u.Seconds * 0.4
	u.AgentSpeechSeconds = u.Seconds * 0.35
	u.CostUSD += float64(in)*32e-6 + float64(out)*64e-6
	e := g.event(c, feed.KindUsage, at)
	cp := *u
	cp.ByStatus = map[string]int{"completed": u.ByStatus["completed"]}
	e.Usage = &cp
	if c.policy != nil && g.rng.IntN(100) == 0 {
		e.Policy = c.policy // as the agent: only when it moved (a credits top-up)
	}
	return e
}

func (g *Load) endEvent(c *simCall, at time.Time) feed.Event {
	g.remove(c)
	e := g.event(c, feed.KindEnded, at)
	reason, detail, by := feed.ReasonHangup, "", ""
	switch g.rng.IntN(20) {
	case 0:
		reason, detail = feed.ReasonPolicy, "policy:max_cost"
	case 1:
		reason, detail, by = feed.ReasonOperator, "abusive or fraudulent caller", "maria@oncall-3"
	}
	e.End = &feed.End{Reason: reason, Detail: detail, By: by, EndedAt: at}
	e.Start = &feed.Start{User: c.user, Model: c.model, StartedAt: c.started}
	e.Session = &feed.Session{SessionID: "sess_" + c.id[7:], Model: c.model, ExpiresAt: c.started.Add(time.Hour)}
	u := c.usage
	e.Usage = &u
	e.Policy = c.policy
	e.Flags, e.Warnings = c.flags, c.warnings
	return e
}

// remove takes a call off the live list.
func (g *Load) remove(c *simCall) {
	last := g.live[len(g.live)-1]
	g.live[c.pos], last.pos = last, c.pos
	g.live = g.live[:len(g.live)-1]
	c.pos = -1
}

var flagKinds = []feed.FlagKind{feed.FlagBurnRate, feed.FlagConcurrency, feed.FlagSilence, feed.FlagNearCap, feed.FlagKeyReused}

func (g *Load) flagEvent(c *simCall) feed.Event {
	f := feed.Flag{
		Kind:    flagKinds[g.rng.IntN(len(flagKinds))],
		Message: "above the threshold for 60s",
		Evidence: map[string]string{
			"per_minute": fmt.Sprintf("%.2f", 0.5+g.rng.Float64()),
			"threshold":  "0.50",
		},
	}
	e := g.event(c, feed.KindFlag, g.now)
	e.Flag = &f
	if !hasFlag(c.flags, f.Kind) {
		c.flags = append(c.flags, f)
	}
	return e
}

func hasFlag(fs []feed.Flag, k feed.FlagKind) bool {
	for _, f := range fs {
		if f.Kind == k {
			return true
		}
	}
	return false
}

func (g *Load) warningEvent(c *simCall) feed.Event {
	w := feed.Warning{Limit: feed.LimitCost, Used: 4 + g.rng.Float64(), Max: 5, Message: "cost at 80% of max_cost"}
	e := g.event(c, feed.KindWarning, g.now)
	e.Warning = &w
	c.warnings = []feed.Warning{w}
	return e
}

func (g *Load) detachEvent(c *simCall) feed.Event {
	c.detached = true
	g.reattach = append(g.reattach, reattachAt{c: c, at: g.now.Add(5*time.Second + time.Duration(g.rng.Int64N(int64(25*time.Second))))})
	e := g.event(c, feed.KindSideband, g.now)
	e.Sideband = &feed.Sideband{State: feed.SidebandDetached, Since: g.now, Detail: "websocket: close 1006 (abnormal closure)"}
	return e
}

func (g *Load) attachEvent(c *simCall) feed.Event {
	c.detached = false
	e := g.event(c, feed.KindSideband, g.now)
	e.Sideband = &feed.Sideband{State: feed.SidebandAttached, Since: g.now}
	return e
}

func (g *Load) heartbeat(a *simAgent) feed.Event {
	n := 0
	for _, c := range g.live {
		if c.agent == a.name {
			n++
		}
	}
	return feed.Event{V: feed.Version, Kind: feed.KindHeartbeat, At: g.now, Agent: a.name,
		Heartbeat: &feed.Heartbeat{Calls: n, StartedAt: a.started, Version: "v1.4.0", Instance: a.instance}}
}
