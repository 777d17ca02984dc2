package agent_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/feed"
)

// BenchmarkLive tracks 100 GPT-Live sessions talking in real time over
// TLS (a usage report a second each), the stand-in and NATS in a child
// process, with and without reflected input audio (a
// session.input_audio.append of 20 ms of 24 kHz PCM16, 1.3 KB of base64,
// every 20 ms: 50 frames a second per session, as OpenAI reflects it).
// It reports the agent's CPU time per session-minute, so the pair says
// what reading past the audio costs, and the bytes its events cost NATS
// per session-minute (subjects, headers and payloads of the live events,
// as a subscriber to everything receives them). Run it with -benchtime 1x -count 3;
// the two variants alternate.
func BenchmarkLive(b *testing.B) {
	for _, audio := range []string{"audio", "quiet"} {
		b.Run("reflected="+audio, func(b *testing.B) {
			for b.Loop() {
				trackLive(b, 100, audio, 20*time.Second)
			}
		})
	}
}

func trackLive(b *testing.B, sessions int, live string, window time.Duration) {
	s := startStandIn(b, sessions, live)
	defer s.stop()
	nc, err := feed.Connect(s.natsURL, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: s.key, BaseURL: s.base, Prefix: "live", HTTPClient: s.client})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(context.Background())
	for _, id := range s.ids {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := a.Track(ctx, id, agent.Meta{User: "u", API: feed.APILive})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r, att, _ := s.liveStats(b)
		if att == sessions && r >= sessions {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("not talking after a minute: %d of %d attached, %d reports", att, sessions, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var bytes atomic.Int64
	sub, err := nc.Subscribe("live.v1.>", func(m *nats.Msg) {
		n := len(m.Subject) + len(m.Data)
		for k, v := range m.Header {
			n += len(k) + len(v[0]) + 4
		}
		bytes.Add(int64(n))
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	_, _, f0 := s.liveStats(b)
	bytes.Store(0)
	c0, ok := cpuTime()
	t0 := time.Now()
	time.Sleep(window)
	_, _, f1 := s.liveStats(b)
	c1, _ := cpuTime()
	elapsed := time.Since(t0)
	minutes := float64(sessions) * elapsed.Minutes()
	b.ReportMetric(float64(f1-f0)/minutes, "audio-frames/session-min")
	b.ReportMetric(float64(bytes.Load())/minutes, "NATS-B/session-min")
	if ok {
		b.ReportMetric(ms(c1-c0)/minutes, "CPU-ms/session-min")
		b.ReportMetric(float64(c1-c0)/float64(elapsed)*100, "%core")
	}
	if s := a.Calls(); len(s) != sessions {
		b.Fatal(fmt.Sprintf("%d sessions tracked, want %d", len(s), sessions))
	}
}
