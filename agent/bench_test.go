package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/realtime"
)

// The decode benchmarks run the agent's lean path (peek at type, decode
// only what counts, account) side by side with json.Unmarshal into
// openai-go's typed event union on the same frames; docs/BENCHMARKS.md
// reports the ratio.

var benchFrames = []struct {
	name  string
	frame string
}{
	{"response.done", frameResponseDone},
	{"transcript.delta", frameTranscriptDelta},
	{"rate_limits", frameRateLimits},
}

func BenchmarkDecode(b *testing.B) {
	for _, f := range benchFrames {
		frame := []byte(f.frame)
		b.Run(f.name+"/lean", func(b *testing.B) {
			a := newAccount(DefaultPrices())
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := a.apply(frame, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.name+"/openai-go", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				var ev realtime.RealtimeServerEventUnion
				if err := json.Unmarshal(frame, &ev); err != nil {
					b.Fatal(err)
				}
				_ = ev.AsAny()
			}
		})
	}
}
