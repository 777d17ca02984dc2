package realtimetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
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
