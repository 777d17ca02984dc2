package agent

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
)

// benchEnv gates measurements that are benchmarks in spirit but run as
// tests (for their own output): they never run in `make test`.
const benchEnv = "CALLTOP_BENCH"

// TestDecodeRatios runs BenchmarkDecode's implementations paired and
// interleaved: each round measures, frame by frame, lean, encoding-json
// and openai-go one right after the other (testing.Benchmark, honouring
// -benchtime), and the ratios are taken within a round, so a shared
// machine's drift between rounds does not bias them. It prints per frame
// the range of ns/op and of the ratios over the rounds.
//
//	CALLTOP_BENCH=1 go test -run TestDecodeRatios -v -benchtime 300ms ./agent
//
// CALLTOP_BENCH_ROUNDS sets the number of rounds (default 6).
func TestDecodeRatios(t *testing.T) {
	if os.Getenv(benchEnv) == "" {
		t.Skip("a measurement: set " + benchEnv + "=1 to run it")
	}
	rounds := 6
	if n, err := strconv.Atoi(os.Getenv(benchEnv + "_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	type sample struct{ ns, allocs, bytes []float64 }
	results := make([][]sample, len(decodeFrames)) // [frame][impl]
	for i := range results {
		results[i] = make([]sample, len(decodeImpls))
	}
	for range rounds {
		for fi, f := range decodeFrames {
			frame := []byte(f.frame)
			for ii, im := range decodeImpls {
				r := testing.Benchmark(func(b *testing.B) { im.bench(b, frame) })
				if r.N == 0 {
					t.Fatalf("%s/%s failed", f.name, im.name)
				}
				s := &results[fi][ii]
				s.ns = append(s.ns, float64(r.T.Nanoseconds())/float64(r.N))
				s.allocs = append(s.allocs, float64(r.AllocsPerOp()))
				s.bytes = append(s.bytes, float64(r.AllocedBytesPerOp()))
			}
		}
	}
	t.Logf("%d rounds, ratios paired within each round (min–max; median)", rounds)
	for fi, f := range decodeFrames {
		lean := results[fi][0].ns
		t.Logf("%s (%d bytes)", f.name, len(f.frame))
		for ii, im := range decodeImpls {
			s := results[fi][ii]
			line := fmt.Sprintf("  %-13s %s per frame, %.0f allocs (%.0f B)", im.name, spread(s.ns, fmtNs), s.allocs[0], s.bytes[0])
			if ii > 0 {
				ratio := make([]float64, rounds)
				for r := range ratio {
					ratio[r] = s.ns[r] / lean[r]
				}
				line += fmt.Sprintf(" = %s× lean", spread(ratio, fmtRatio))
			}
			t.Log(line)
		}
	}
}

// spread formats min–max; median of xs.
func spread(xs []float64, f func(float64) string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return f(s[0]) + "–" + f(s[len(s)-1]) + "; " + f(med)
}

// fmtNs formats nanoseconds in a readable unit.
func fmtNs(x float64) string {
	switch {
	case x >= 1e6:
		return strconv.FormatFloat(x/1e6, 'f', 2, 64) + " ms"
	case x >= 1e3:
		return strconv.FormatFloat(x/1e3, 'f', 1, 64) + " µs"
	}
	return strconv.FormatFloat(x, 'f', 0, 64) + " ns"
}

func fmtRatio(x float64) string {
	if x >= 100 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}
