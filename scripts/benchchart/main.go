// Command benchchart draws the dashboard's frame time against the number
// of live calls, from the output of tui's BenchmarkFrame run at several
// sizes: p50 and p99 of calltop, of the fair bubbles table (only the rows
// on screen) and of the naive one (every row), on log scales.
//
//	go test -run '^$' -bench 'Frame/.*/quiet' -benchtime 300x ./tui \
//	    -args -frame.calls=1000,2000,5000,10000,20000 | tee frame-scale.txt
//	go run ./scripts/benchchart -o docs/frame-time.svg frame-scale.txt
//
// It reads the files named (or stdin) and writes one SVG. Several runs of
// a size (-count) are reduced to their median.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	out := flag.String("o", "docs/frame-time.svg", "the SVG to write")
	mode := flag.String("mode", "quiet", "which sub-benchmarks to draw: quiet or busy")
	flag.Parse()
	if err := run(*out, *mode, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

func run(out, mode string, files []string) error {
	var res results
	read := func(name string, r io.Reader) error {
		if err := res.parse(r, mode); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		return nil
	}
	if len(files) == 0 {
		if err := read("stdin", os.Stdin); err != nil {
			return err
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(name, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if len(res.sizes()) == 0 {
		return fmt.Errorf("no BenchmarkFrame/calls=N/%s results in the input", mode)
	}
	svg, err := chart(&res, mode)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, svg, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}
