package realtimetest

import (
	"context"
	"math/rand/v2"
	"time"
)

// SimConfig configures Simulate. The zero value simulates a dozen calls.
type SimConfig struct {
	Calls            int           // target number of concurrent calls (default 12)
	Users            []string      // default a dozen realistic names/emails
	Models           []string      // default gpt-realtime, gpt-realtime-mini, gpt-realtime-2, gpt-realtime-1.5
	MinLife, MaxLife time.Duration // call lifetime range (defaults 40s..4min)
	TurnGap          time.Duration // passed to every call's Script (default 300ms: real time)

	// OnCall, if set, is called for each new call, right after it is
	// registered (the demo uses it to tell the agent to track the call).
	// GPT-Live sessions are reported here too: their ids start with
	// "live_" and their model with "gpt-live".
	OnCall func(callID, user, model string)

	// LiveShare is the share, from 0 to 1, of new sessions that are
	// GPT-Live sessions (NewLiveSession) rather than Realtime calls. At 0,
	// the default, the population and its random draws are exactly the
	// all-Realtime ones.
	LiveShare float64
	// LiveModels are the models of Live sessions (default gpt-live-1).
	LiveModels []string
	// LiveAudioEvery is the reflected-audio pace of Live sessions (real:
	// every 20 ms); default 0, none, to keep a large population light.
	LiveAudioEvery time.Duration
}

var (
	defaultSimUsers = []string{
		"ana.silva@example.com", "ben.okafor@example.com", "chloe.martin@example.org",
		"dev.patel@example.com", "elena.rossi@example.net", "farid.haddad@example.com",
		"grace.kim@example.org", "hugo.dubois@example.com", "isla.murphy@example.net",
		"jonas.becker@example.com", "keiko.tanaka@example.org", "liam.walsh@example.com",
	}
	defaultSimModels     = []string{"gpt-realtime", "gpt-realtime-mini", "gpt-realtime-2", "gpt-realtime-1.5"}
	defaultSimLiveModels = []string{defaultLiveModel}
)

func (cfg SimConfig) normalized() SimConfig {
	if cfg.Calls <= 0 {
		cfg.Calls = 12
	}
	if len(cfg.Users) == 0 {
		cfg.Users = defaultSimUsers
	}
	if len(cfg.Models) == 0 {
		cfg.Models = defaultSimModels
	}
	if cfg.MinLife <= 0 {
		cfg.MinLife = 40 * time.Second
	}
	if cfg.MaxLife < cfg.MinLife {
		cfg.MaxLife = max(cfg.MinLife, 4*time.Minute)
	}
	if cfg.TurnGap <= 0 {
		cfg.TurnGap = defaultTurnGap
	}
	cfg.LiveShare = min(max(cfg.LiveShare, 0), 1)
	if len(cfg.LiveModels) == 0 {
		cfg.LiveModels = defaultSimLiveModels
	}
	return cfg
}

// Simulate keeps about cfg.Calls calls alive until ctx is done or the
// server closes. Starts are staggered; each call gets a random user, model,
// transcription mode and talk pattern: some talk a few turns and hang up by
// themselves, some talk until their lifetime runs out (then the "browser"
// hangs up), some go quiet after a few turns. Ended calls (including those
// hung up through the API) are replaced. Calls still live when Simulate
// returns are ended.
//
// With cfg.LiveShare above 0, that share of new sessions are GPT-Live
// sessions, paced like the calls (a usage update every TurnGap/300ms
// seconds, each adding one second of usage): some end by themselves after
// a while (mostly remote_hangup, sometimes connection_lost or content),
// the others when their lifetime runs out (remote_hangup); some delegate a
// few tasks to a Responses backend.
//
// As for every call, a script only starts once a sideband has attached and
// sent session.update (a Live one once it has attached): without an agent
// the simulated calls stay silent.
func (s *Server) Simulate(ctx context.Context, cfg SimConfig) {
	cfg = cfg.normalized()
	rng := s.childRNG()
	tick := min(max(cfg.MinLife/20, 5*time.Millisecond), 250*time.Millisecond)
	spacing := min(max(cfg.MinLife/time.Duration(2*cfg.Calls), 2*time.Millisecond), 750*time.Millisecond)

	deadlines := map[string]time.Time{}
	defer func() {
		for id := range deadlines {
			s.EndCall(id)
		}
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	next := time.Now()
	for {
		now := time.Now()
		for id, dl := range deadlines {
			if s.liveCall(id) == nil {
				delete(deadlines, id)
			} else if now.After(dl) {
				s.EndCall(id)
				delete(deadlines, id)
			}
		}
		if len(deadlines) < cfg.Calls && !now.Before(next) {
			user := cfg.Users[rng.IntN(len(cfg.Users))]
			var id, model string
			var life time.Duration
			if cfg.LiveShare > 0 && rng.Float64() < cfg.LiveShare {
				id, model, life = s.simLive(cfg, rng)
			} else {
				id, model, life = s.simCall(cfg, rng)
			}
			if s.liveCall(id) == nil {
				return // the server is closed
			}
			deadlines[id] = now.Add(life)
			if cfg.OnCall != nil {
				cfg.OnCall(id, user, model)
			}
			next = now.Add(spacing/2 + time.Duration(rng.Int64N(int64(spacing))))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-t.C:
		}
	}
}

// simCall starts one simulated Realtime call and returns it with its
// model and lifetime.
func (s *Server) simCall(cfg SimConfig, rng *rand.Rand) (id, model string, life time.Duration) {
	model = cfg.Models[rng.IntN(len(cfg.Models))]
	sc := Script{Model: model, TurnGap: cfg.TurnGap, Chaos: rng.IntN(4) == 0}
	switch p := rng.IntN(20); {
	case p < 10:
		sc.Transcription = "tokens"
	case p < 15:
		sc.Transcription = "duration"
	}
	switch p := rng.IntN(10); {
	case p < 4: // says a few things and hangs up
		sc.Turns, sc.EndAfterTurns = 2+rng.IntN(10), true
	case p < 6: // goes quiet after a few turns
		sc.Turns = 1 + rng.IntN(4)
	}
	life = cfg.MinLife + time.Duration(rng.Int64N(int64(cfg.MaxLife-cfg.MinLife)+1))
	return s.NewCall(sc), model, life
}

// simLive starts one simulated GPT-Live session and returns it with its
// model and lifetime.
func (s *Server) simLive(cfg SimConfig, rng *rand.Rand) (id, model string, life time.Duration) {
	model = cfg.LiveModels[rng.IntN(len(cfg.LiveModels))]
	every := time.Duration(float64(time.Second) * float64(cfg.TurnGap) / float64(defaultTurnGap))
	sc := LiveScript{Model: model, UsageEvery: max(every, time.Millisecond), SecondsPerUpdate: 1,
		AudioEvery: cfg.LiveAudioEvery}
	life = cfg.MinLife + time.Duration(rng.Int64N(int64(cfg.MaxLife-cfg.MinLife)+1))
	if rng.IntN(3) == 0 { // delegates a few tasks to a backend
		sc.BackendResponses = 1 + rng.IntN(4)
	}
	if rng.IntN(10) < 4 { // ends by itself, within its lifetime
		sc.Updates = 1 + int(life/sc.UsageEvery)*(3+rng.IntN(7))/10
		switch p := rng.IntN(20); {
		case p < 2:
			sc.CloseReason = LiveConnectionLost
		case p < 3:
			sc.CloseReason = LiveContent
		}
	}
	return s.NewLiveSession(sc), model, life
}
