package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/realtime"
)

// The decode benchmarks run three ways of reading the same realistic
// frames side by side:
//
//   - lean: the agent's own path (account.apply: peek at the type, decode
//     only what counts, account it);
//   - encoding-json: one json.Unmarshal into a minimal struct holding
//     exactly what the agent extracts from that frame (stdjson_test.go),
//     the honest baseline without a custom scanner;
//   - openai-go: json.Unmarshal into openai-go's typed event union and
//     AsAny, what an agent built on the SDK's types would do.
//
// `go test -bench Decode` runs them as Decode/<frame>/<impl>; -count
// repeats each leaf in a row, so for ratios TestDecodeRatios (decode_
// ratios_test.go) runs them interleaved. docs/BENCHMARKS.md reports both.

// decodeFrames are the frames compared: the one that carries usage, the
// most frequent (ignored) ones, the big one every attach gets, and the
// transcription usage.
var decodeFrames = []struct {
	name  string
	frame string
}{
	{"response.done", frameResponseDone},
	{"transcript.delta", frameTranscriptDelta},
	{"rate_limits", frameRateLimits},
	{"session.updated-120KB", bigSessionUpdated()},
	{"transcription.completed", frameTranscriptionTokens},
}

// decodeImpl is one way of reading a frame, as a benchmark body.
type decodeImpl struct {
	name  string
	bench func(b *testing.B, frame []byte)
}

var decodeImpls = []decodeImpl{
	{"lean", benchLean},
	{"encoding-json", benchStdJSON},
	{"openai-go", benchOpenAIGo},
}

func BenchmarkDecode(b *testing.B) {
	for _, f := range decodeFrames {
		frame := []byte(f.frame)
		b.Run(f.name, func(b *testing.B) {
			for _, im := range decodeImpls {
				b.Run(im.name, func(b *testing.B) { im.bench(b, frame) })
			}
		})
	}
}

func benchLean(b *testing.B, frame []byte) {
	a := newAccount(DefaultPrices())
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := a.apply(frame, now); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStdJSON(b *testing.B, frame []byte) {
	typ, err := peekType(frame) // outside the loop: the baseline's best case
	if err != nil {
		b.Fatal(err)
	}
	decode := stdDecoder(string(typ))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func benchOpenAIGo(b *testing.B, frame []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var ev realtime.RealtimeServerEventUnion
		if err := json.Unmarshal(frame, &ev); err != nil {
			b.Fatal(err)
		}
		_ = ev.AsAny()
	}
}
