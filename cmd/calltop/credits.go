package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/calltop/calltop/feed"
)

const creditsSynopsis = `credits set USER USD | add USER USD | ls [--json]   [--nats URL] [--prefix P]

  set USER USD   make USER's balance USD (a user without an entry has no credit limit)
  add USER USD   add USD to USER's balance; a negative USD deducts (add bob -2.50)
  ls             every user's balance; --json: one object per line

  USD is a plain decimal with an optional sign and $: 5, 0.25, $1.50, -2, -$0.000001.
  At most 6 decimals (balances are whole micro-dollars); no exponents or separators.`

// runCredits manages the built-in per-user credit store on NATS JetStream
// KV, which the sidecar agent reads when it admits a call and charges with
// each call's cost.
func runCredits(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("credits", creditsSynopsis, stderr)
	var nf natsFlags
	nf.register(fs)
	asJSON := fs.Bool("json", false, "ls: one JSON object per user and line, for scripts")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	op, pos := pos[0], pos[1:]
	want := map[string]int{"set": 2, "add": 2, "ls": 0}
	n, known := want[op]
	if !known {
		fmt.Fprintf(stderr, "calltop credits: unknown action %q (set, add or ls)\n", op)
		return errUsage
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "calltop credits %s: want %d arguments, got %d (%s)\n", op, n, len(pos), feed.Printable(strings.Join(pos, " ")))
		fs.Usage()
		return errUsage
	}
	if *asJSON && op != "ls" {
		fmt.Fprintf(stderr, "calltop credits %s: --json is for ls\n", op)
		return errUsage
	}
	var amount feed.Micros
	if op != "ls" {
		if strings.TrimSpace(pos[0]) == "" {
			fmt.Fprintln(stderr, "calltop credits: empty user")
			return errUsage
		}
		if amount, err = feed.ParseMicros(pos[1]); err != nil {
			fmt.Fprintf(stderr, "calltop credits %s: %v\n", op, err)
			return errUsage
		}
	}
	cl, err := nf.connect("calltop-credits")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	// A write the server refuses (a viewer) fails at once, not at the
	// timeout: NATS says so only to the connection's error handler.
	ctx, undeny := feed.CancelOnDenied(ctx, cl.NC)
	defer undeny()
	store, err := cl.Credits(ctx)
	if err != nil {
		return denied(ctx, err, creditsTake(op))
	}
	switch op {
	case "set", "add":
		change := store.Set
		if op == "add" {
			change = store.Add
		}
		e, err := change(ctx, pos[0], amount)
		if err != nil {
			return denied(ctx, err, creditsTake(op))
		}
		fmt.Fprintf(stdout, "%s: %s\n", feed.Printable(e.User), e.Balance)
		return nil
	}
	list, err := store.List(ctx)
	if err != nil {
		return denied(ctx, err, creditsTake(op))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range list {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tBALANCE\tUPDATED")
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", feed.Printable(e.User), e.Balance, e.UpdatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// creditsTake is what a credits command the server refused takes.
func creditsTake(op string) string {
	if op == "ls" {
		return "the credit store does not exist yet, and this NATS user may not create it: set a balance as the operator first"
	}
	return "changing credits takes a NATS user with the operator role"
}
