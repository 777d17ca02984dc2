package tui

import (
	"testing"

	"github.com/calltop/calltop/feed"
)

// BenchmarkDecodeEvents is feed's DecodeMsg alone on the events of
// BenchmarkFrame's load, one sub-benchmark per kind plus the frame's mix:
// what feed.Watcher spends per message before the dashboard sees it. It
// reports the message size (wire-bytes) next to time and allocations.
//
//	go test -run '^$' -bench DecodeEvents -benchmem ./tui
func BenchmarkDecodeEvents(b *testing.B) {
	g := newFrameLoad(10_000)
	g.Initial()
	enc, err := feed.NewClient(nil, "")
	if err != nil {
		b.Fatal(err)
	}
	byKind := map[feed.Kind][][]byte{}
	var mix [][]byte
	for range 2 * benchFPS { // two seconds: every kind of the load occurs
		for _, m := range encodeBatch(b, enc, g.Frame()) {
			e, err := decodeWire(m)
			if err != nil {
				b.Fatal(err)
			}
			byKind[e.Kind] = append(byKind[e.Kind], m)
			mix = append(mix, m)
		}
	}
	run := func(name string, msgs [][]byte) {
		b.Run(name, func(b *testing.B) {
			size := 0
			for _, m := range msgs {
				size += len(m)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := decodeWire(msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/float64(len(msgs)), "wire-bytes")
		})
	}
	for _, k := range feed.Kinds {
		if msgs := byKind[k]; len(msgs) > 0 {
			run("kind="+string(k), msgs)
		}
	}
	run("mix", mix)
}
