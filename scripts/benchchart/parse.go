package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results holds every metric of every run, by number of live calls.
type results struct {
	byCalls map[int]map[string][]float64
}

// benchLine matches a BenchmarkFrame result's name and the rest of its
// line ("BenchmarkFrame/calls=10000/quiet-2   600   6.8 calltop-p50-ms …").
var benchLine = regexp.MustCompile(`^BenchmarkFrame/calls=(\d+)/(\w+)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse adds the results of one mode found in r.
func (res *results) parse(r io.Reader, mode string) error {
	if res.byCalls == nil {
		res.byCalls = map[int]map[string][]float64{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil || m[2] != mode {
			continue
		}
		calls, err := strconv.Atoi(m[1])
		if err != nil {
			return fmt.Errorf("line %d: calls %q: %w", line, m[1], err)
		}
		f := strings.Fields(m[3])
		if len(f)%2 != 0 {
			return fmt.Errorf("line %d: metrics are not value-unit pairs: %q", line, m[3])
		}
		if res.byCalls[calls] == nil {
			res.byCalls[calls] = map[string][]float64{}
		}
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("line %d: value %q: %w", line, f[i], err)
			}
			res.byCalls[calls][f[i+1]] = append(res.byCalls[calls][f[i+1]], v)
		}
	}
	return sc.Err()
}

// sizes is the numbers of calls measured, smallest first.
func (res *results) sizes() []int {
	var out []int
	for n := range res.byCalls {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// median is a metric's median over the runs at n calls.
func (res *results) median(n int, metric string) (float64, bool) {
	vs := slices.Clone(res.byCalls[n][metric])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}
