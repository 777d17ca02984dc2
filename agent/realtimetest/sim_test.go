package realtimetest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestSimulateKeepsCallsAlive(t *testing.T) {
	s := NewServer(Options{Seed: 3})
	const target = 4
	var (
		mu      sync.Mutex
		started []string
		agents  sync.WaitGroup
	)
	onCall := func(id, user, model string) {
		mu.Lock()
		started = append(started, id)
		mu.Unlock()
		if !slices.Contains(defaultSimUsers, user) || !slices.Contains(defaultSimModels, model) {
			t.Errorf("user %q model %q", user, model)
		}
		// Play the agent: attach, configure, read until the call ends.
		agents.Add(1)
		go func() {
			defer agents.Done()
			c, _, err := dial(s, id, authHeader(s.APIKey()))
			if err != nil {
				return // the call may already be over
			}
			defer c.CloseNow()
			if c.Write(context.Background(), 1, []byte(`{"type":"session.update","session":{"type":"realtime"}}`)) != nil {
				return
			}
			for {
				if _, err := readEvent(c, 10*time.Second); err != nil {
					return
				}
			}
		}()
	}

	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		s.Simulate(ctx, SimConfig{Calls: target, MinLife: 150 * time.Millisecond, MaxLife: 300 * time.Millisecond, TurnGap: time.Millisecond, OnCall: onCall})
	}()

	time.Sleep(300 * time.Millisecond) // ramp up
	var samples []int
	for range 20 {
		samples = append(samples, len(s.Live()))
		time.Sleep(40 * time.Millisecond)
	}
	cancel()
	<-simDone
	s.Close()
	agents.Wait()

	sum := 0
	for _, n := range samples {
		if n > target {
			t.Errorf("more than %d live calls: %v", target, samples)
		}
		sum += n
	}
	if avg := float64(sum) / float64(len(samples)); avg < target-1.5 {
		t.Errorf("average %.1f live calls, want about %d: %v", avg, target, samples)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(started) < 2*target {
		t.Errorf("only %d calls started; ended calls should be replaced", len(started))
	}
	talked := 0
	for _, id := range started {
		if s.Emitted(id).Responses > 0 {
			talked++
		}
	}
	if talked == 0 {
		t.Errorf("no simulated call talked")
	}
	if live := s.Live(); len(live) != 0 {
		t.Errorf("live after Simulate returned and Close: %v", live)
	}
	t.Logf("%d calls started, %d talked, live samples %v", len(started), talked, samples)
}

// TestSimulateLiveShare: with LiveShare the population mixes GPT-Live
// sessions (reported through OnCall with live_ ids and gpt-live models)
// with Realtime calls; both talk once an agent attaches.
func TestSimulateLiveShare(t *testing.T) {
	s := NewServer(Options{Seed: 5})
	var (
		mu          sync.Mutex
		liveIDs     []string
		realtimeIDs []string
		agents      sync.WaitGroup
	)
	onCall := func(id, user, model string) {
		isLive := strings.HasPrefix(id, "live_")
		mu.Lock()
		if isLive {
			liveIDs = append(liveIDs, id)
		} else {
			realtimeIDs = append(realtimeIDs, id)
		}
		mu.Unlock()
		if isLive != strings.HasPrefix(model, "gpt-live") || !slices.Contains(defaultSimUsers, user) {
			t.Errorf("id %s model %q user %q", id, model, user)
		}
		agents.Add(1)
		go func() { // play the agent until the session ends
			defer agents.Done()
			var c *websocket.Conn
			var err error
			if isLive {
				c, _, err = liveDial(s, id, "", authHeader(s.APIKey()))
			} else {
				c, _, err = dial(s, id, authHeader(s.APIKey()))
			}
			if err != nil {
				return // already over
			}
			defer c.CloseNow()
			if !isLive && c.Write(context.Background(), 1, []byte(`{"type":"session.update","session":{"type":"realtime"}}`)) != nil {
				return
			}
			for {
				if _, err := readEvent(c, 10*time.Second); err != nil {
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		s.Simulate(ctx, SimConfig{Calls: 6, MinLife: 150 * time.Millisecond, MaxLife: 300 * time.Millisecond,
			TurnGap: 3 * time.Millisecond, LiveShare: 0.5, OnCall: onCall})
	}()
	waitFor(t, "Live sessions to bill and calls to talk", func() bool {
		mu.Lock()
		defer mu.Unlock()
		billed, talked := 0, 0
		for _, id := range liveIDs {
			if s.LiveSeconds(id) > 0 {
				billed++
			}
		}
		for _, id := range realtimeIDs {
			if s.Emitted(id).Responses > 0 {
				talked++
			}
		}
		return billed >= 2 && talked >= 2
	})
	cancel()
	<-simDone
	s.Close()
	agents.Wait()
	mu.Lock()
	defer mu.Unlock()
	ended := 0
	for _, id := range liveIDs {
		if _, ok := s.LiveEnded(id); ok {
			ended++
		}
	}
	if ended != len(liveIDs) || len(s.Live()) != 0 {
		t.Errorf("%d of %d Live sessions ended; live %v", ended, len(liveIDs), s.Live())
	}
	t.Logf("%d Live sessions, %d Realtime calls", len(liveIDs), len(realtimeIDs))
}
