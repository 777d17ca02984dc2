package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/feed"
)

// creditsCmd manages the built-in per-user credit store on NATS JetStream
// KV, which the sidecar agent reads when it admits a call and charges with
// each call's cost.
func creditsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credits set|add|ls",
		Short: "set, add and list users' credits in USD (the sidecar's built-in credit store)",
		Long: `Set, add and list users' credits in USD: the sidecar's built-in credit store.

USD is a plain decimal with an optional sign and $: 5, 0.25, $1.50, -2, -$0.000001.
At most 6 decimals (balances are whole micro-dollars); no exponents or separators.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{err: errors.New("want an action: set, add or ls"), showUsage: true}
			}
			return usagef("unknown action %q (set, add or ls)", args[0])
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args refuses all
		// The actions' flags may come first (credits --nats URL ls): the
		// action is found among them, and what is not one is named.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
	}
	for _, a := range []struct{ name, short string }{
		{"set", "make USER's balance USD (a user without an entry has no credit limit)"},
		{"add", "add USD to USER's balance; a negative USD deducts (add bob -2.50)"},
	} {
		sub := &cobra.Command{Use: a.name + " USER USD [flags]", Short: a.short, Args: exactArgs(2, "USER USD")}
		var nf natsFlags
		nf.register(sub.Flags())
		timeout := creditsTimeout(sub.Flags())
		op := a.name
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			return creditsChange(cmd.Context(), &nf, *timeout, op, args[0], args[1], cmd.OutOrStdout())
		}
		negativeNumbers(sub)
		cmd.AddCommand(sub)
	}
	ls := &cobra.Command{Use: "ls [flags]", Short: "every user's balance, their live calls' spend (settled into the balance when they end) and what is left; --json: one object per line", Args: noArgs}
	var nf natsFlags
	nf.register(ls.Flags())
	timeout := creditsTimeout(ls.Flags())
	asJSON := ls.Flags().Bool("json", false, "one JSON object per user and line, for scripts")
	ls.RunE = func(cmd *cobra.Command, _ []string) error {
		return creditsList(cmd.Context(), &nf, *timeout, *asJSON, cmd.OutOrStdout())
	}
	cmd.AddCommand(ls)
	return cmd
}

func creditsTimeout(fs *pflag.FlagSet) *time.Duration {
	return fs.Duration("timeout", 10*time.Second, "give up after this long")
}

// creditsChange is credits set and add: the amount and user are checked
// before NATS is dialled.
func creditsChange(ctx context.Context, nf *natsFlags, timeout time.Duration, op, user, usd string, stdout io.Writer) error {
	if strings.TrimSpace(user) == "" {
		return usagef("empty user")
	}
	amount, err := feed.ParseMicros(usd)
	if err != nil {
		return &usageError{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, store, done, err := creditStore(ctx, nf)
	if err != nil {
		return denied(ctx, err, creditsTake(op))
	}
	defer done()
	change := store.Set
	if op == "add" {
		change = store.Add
	}
	e, err := change(ctx, user, amount)
	if err != nil {
		return denied(ctx, err, creditsTake(op))
	}
	if err := store.AuditChange(ctx, operator(), "calltop credits", op, amount, e); err != nil {
		return fmt.Errorf("%s's balance is %s, but %w", feed.Printable(e.User), e.Balance, err)
	}
	fmt.Fprintf(stdout, "%s: %s\n", feed.Printable(e.User), e.Balance)
	return nil
}

// creditStore opens the credit store; done closes its connection. The
// context it returns ends at once, with the refusal as its cause, when
// the server refuses a write (a viewer): NATS says so only to the
// connection's error handler, and the write would wait for its timeout.
func creditStore(ctx context.Context, nf *natsFlags) (context.Context, *feed.CreditStore, func(), error) {
	cl, err := nf.connect("calltop-credits")
	if err != nil {
		return ctx, nil, nil, err
	}
	ctx, undeny := feed.CancelOnDenied(ctx, cl.NC)
	done := func() {
		undeny()
		cl.NC.Close()
	}
	store, err := cl.Credits(ctx)
	if err != nil {
		done()
		return ctx, nil, nil, err
	}
	return ctx, store, done, nil
}

// creditsList is credits ls.
func creditsList(ctx context.Context, nf *natsFlags, timeout time.Duration, asJSON bool, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, store, done, err := creditStore(ctx, nf)
	if err != nil {
		return denied(ctx, err, creditsTake("ls"))
	}
	defer done()
	list, err := store.List(ctx)
	if err != nil {
		return denied(ctx, err, creditsTake("ls"))
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range list {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tBALANCE\tLIVE SPEND\tLEFT\tUPDATED")
	for _, e := range list {
		left, err := feed.AddMicros(e.Balance, -e.LiveSpend)
		if err != nil {
			left = e.Balance
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", feed.Printable(e.User), e.Balance, e.LiveSpend, left, e.UpdatedAt.Local().Format(time.DateTime))
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
