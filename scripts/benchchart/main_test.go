package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkFrame/calls=1000/quiet-2   300   1.5 calltop-p50-ms   3.0 calltop-p99-ms   9 fair-p50-ms   12 fair-p99-ms   14 naive-p50-ms   20 naive-p99-ms
BenchmarkFrame/calls=1000/busy-2    300   9.9 calltop-p50-ms   99 calltop-p99-ms
BenchmarkFrame/calls=10000/quiet-2  300   4.0 calltop-p50-ms   7.0 calltop-p99-ms   70 fair-p50-ms   90 fair-p99-ms   95 naive-p50-ms   150 naive-p99-ms
BenchmarkFrame/calls=10000/quiet-2  300   6.0 calltop-p50-ms   9.0 calltop-p99-ms   72 fair-p50-ms   94 fair-p99-ms   99 naive-p50-ms   170 naive-p99-ms
PASS
`

func TestParseTakesTheModeAndMedians(t *testing.T) {
	var res results
	if err := res.parse(strings.NewReader(sample), "quiet"); err != nil {
		t.Fatal(err)
	}
	if got := res.sizes(); len(got) != 2 || got[0] != 1000 || got[1] != 10000 {
		t.Fatalf("sizes %v", got)
	}
	if v, _ := res.median(1000, "calltop-p99-ms"); v != 3.0 {
		t.Errorf("1000 calls, calltop p99 = %g: the busy line leaked in", v)
	}
	if v, _ := res.median(10000, "calltop-p50-ms"); v != 5.0 {
		t.Errorf("median of 4 and 6 = %g", v)
	}
	if err := res.parse(strings.NewReader("BenchmarkFrame/calls=5/quiet-2 1 1.0 a-ms 2.0\n"), "quiet"); err == nil {
		t.Error("an odd number of fields was accepted")
	}
}

func TestChartDrawsEverySeries(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "bench.txt"), filepath.Join(dir, "chart.svg")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(out, "quiet", []string{in}); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if n := strings.Count(s, "<polyline"); n != 6 {
		t.Errorf("%d lines, want 6 (three implementations, p50 and p99)", n)
	}
	for _, want := range []string{"calltop p99", "naive p50", "10,000", "goal: p99 ≤ 8 ms", "</svg>"} {
		if !strings.Contains(s, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	if err := run(out, "quiet", []string{filepath.Join(dir, "missing.txt")}); err == nil {
		t.Error("a missing input file was not an error")
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("PASS\n"), 0o644)
	if err := run(out, "quiet", []string{empty}); err == nil {
		t.Error("an input without results was not an error")
	}
}
