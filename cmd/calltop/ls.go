package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

func lsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "list live and recently ended calls (--json for scripts)",
		Args:  noArgs,
	}
	fs := cmd.Flags()
	var nf natsFlags
	nf.register(fs)
	asJSON := fs.Bool("json", false, "one JSON object per call and line, for scripts")
	timeout := fs.Duration("timeout", 10*time.Second, "give up reading the snapshot after this long")
	atFlag := fs.String("at", "", "the calls as they were at `TIME`, replayed from the history stream: "+whenForms)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		at, err := parseAt(*atFlag, time.Now())
		if err != nil {
			return usagef("--at %w", err)
		}
		return runLs(cmd.Context(), &nf, *asJSON, *timeout, at, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

// runLs lists the calls now, or as they were at at (if not zero).
func runLs(ctx context.Context, nf *natsFlags, asJSON bool, timeout time.Duration, at time.Time, stdout, stderr io.Writer) error {
	cl, err := nf.connect("calltop-ls")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, undeny := feed.CancelOnDenied(ctx, cl.NC)
	defer undeny()
	var b *feed.Board
	now := time.Now()
	if at.IsZero() {
		b, err = cl.Snapshot(ctx, 0)
	} else {
		now = at
		b, err = boardAt(ctx, cl, at, 0, stderr)
	}
	if err != nil {
		return denied(ctx, err, "no agent has created the streams yet, and this NATS user may not: start an agent first")
	}
	b.Prune(now)
	calls := b.Calls()
	if asJSON {
		enc := json.NewEncoder(stdout)
		for i := range calls {
			if err := enc.Encode(calls[i].Summarize(now)); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		return nil
	}
	// Every string column comes from outside (a user as the app or a SIP
	// From header gave it): feed.Printable keeps its control characters
	// off the terminal. --json above keeps them, JSON-escaped.
	p := feed.Printable
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tUSER\tAPI\tMODEL\tSTATE\tAGENT\tSECONDS\tTOKENS IN\tTOKENS OUT\tCOST\tEND\tFLAGS")
	for i := range calls {
		s := calls[i].Summarize(now)
		cost := fmt.Sprintf("$%.4f", s.CostUSD)
		if s.CostUnknown {
			cost = "?"
		}
		end := tui.DescribeReason(s.EndReason) // "content (OpenAI safety filter)"
		if s.EndedBy != "" {
			end += " by " + s.EndedBy
		}
		var flags []string
		for _, f := range s.Flags {
			flags = append(flags, string(f.Kind))
		}
		for _, w := range s.Warnings {
			flags = append(flags, fmt.Sprintf("%s %.0f%%", w.Limit, 100*w.Used/w.Max))
		}
		in, out := lsTokens(s)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\n", p(s.CallID), p(s.User), s.API.Short(), p(s.Model),
			p(lsState(s, now)), p(lsAgent(b, &calls[i], now)), s.Seconds, in, out, cost, p(end), p(strings.Join(flags, ",")))
	}
	return tw.Flush()
}

// parseAt reads an --at flag: zero when unset; never in the future.
func parseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	at, err := parseWhen(s, now)
	if err != nil {
		return time.Time{}, err
	}
	if at.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the future", at.UTC().Format(time.RFC3339))
	}
	return at, nil
}

// boardAt replays the board as it was at at (keeping ended calls for
// retain), saying on stderr what it is and what it may lack.
func boardAt(ctx context.Context, cl *feed.Client, at time.Time, retain time.Duration, stderr io.Writer) (*feed.Board, error) {
	m, err := cl.MomentAt(ctx, at)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "calls at %s, replayed from %s (%d events)\n", at.UTC().Format(time.RFC3339), cl.Subjects.HistoryStream(), len(m.Events))
	if m.Partial() {
		fmt.Fprintf(stderr, "note: the history begins at %s: a call that started before may show without its start\n", m.Since.UTC().Format(time.RFC3339))
	}
	return m.Board(retain), nil
}

// lsTokens are the TOKENS IN and OUT columns: a GPT-Live session, billed
// by the second, has none ("-", as the dashboard shows; --json gives its
// live_seconds and backend_tokens).
func lsTokens(s feed.Summary) (in, out string) {
	if s.API == feed.APILive {
		return "-", "-"
	}
	return strconv.FormatInt(s.Tokens.Input, 10), strconv.FormatInt(s.Tokens.Output, 10)
}

// lsState is the STATE column: a detached call says for how long its
// agent has not read its sideband ("detached 12s").
func lsState(s feed.Summary, now time.Time) string {
	if s.State != feed.StateDetached || s.DetachedSince == nil {
		return string(s.State)
	}
	return "detached " + max(0, now.Sub(*s.DetachedSince)).Truncate(time.Second).String()
}

// lsAgent is the AGENT column: the call's owner, "(silent)" or "(left)"
// when it is not online (nobody reads the call until another agent adopts
// it). An agent that sends no heartbeats (an older one) is just named.
func lsAgent(b *feed.Board, c *feed.Call, now time.Time) string {
	if !c.Live() {
		return c.Agent
	}
	a, ok := b.Agent(c.Agent)
	if !ok {
		return c.Agent
	}
	if st := a.State(now); st != feed.AgentOnline {
		return c.Agent + " (" + st + ")"
	}
	return c.Agent
}
