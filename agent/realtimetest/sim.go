package realtimetest

import (
	"context"
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
	OnCall func(callID, user, model string)
}

var (
	defaultSimUsers = []string{
		"ana.silva@example.com", "ben.okafor@example.com", "chloe.martin@example.org",
		"dev.patel@example.com", "elena.rossi@example.net", "farid.haddad@example.com",
		"grace.kim@example.org", "hugo.dubois@example.com", "isla.murphy@example.net",
		"jonas.becker@example.com", "keiko.tanaka@example.org", "liam.walsh@example.com",
	}
	defaultSimModels = []string{"gpt-realtime", "gpt-realtime-mini", "gpt-realtime-2", "gpt-realtime-1.5"}
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
// As for every call, a script only starts once a sideband has attached and
// sent session.update: without an agent the simulated calls stay silent.
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
			model := cfg.Models[rng.IntN(len(cfg.Models))]
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
			life := cfg.MinLife + time.Duration(rng.Int64N(int64(cfg.MaxLife-cfg.MinLife)+1))
			id := s.NewCall(sc)
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
