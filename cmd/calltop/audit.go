package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/feed"
)

// auditCmd prints the audit trail, read from its append-only stream.
func auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit [flags]",
		Short: "who hung up what and who changed credits: the audit trail (--json for scripts)",
		Long: `Who hung up what and who changed whose credits, oldest first: every terminate
request (dashboards, calltop kill, the SSH dashboard, policy cuts, the app) with its
outcome and the call's cost at that moment, and every credits change.

--since takes a duration back from now (90m, 24h, 720h) or a time (2026-12-02,
"2026-12-02 14:00" local, RFC 3339).`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	var nf natsFlags
	nf.register(fs)
	since := fs.String("since", "24h", "records from this long ago (a duration) or from this time on")
	asJSON := fs.Bool("json", false, "one JSON object per record and line, for scripts")
	timeout := fs.Duration("timeout", time.Minute, "give up reading after this long")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runAudit(cmd.Context(), &nf, *since, *asJSON, *timeout, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

// runAudit is calltop audit.
func runAudit(ctx context.Context, nf *natsFlags, sinceArg string, asJSON bool, timeout time.Duration, stdout, stderr io.Writer) error {
	since, err := parseAuditSince(sinceArg, time.Now())
	if err != nil {
		return usagef("--since: %w", err)
	}
	cl, err := nf.connect("calltop-audit")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := feed.AuditQuery{Since: since}
	if asJSON {
		enc := json.NewEncoder(stdout)
		return cl.EachAudit(ctx, q, func(r feed.AuditRecord) error {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			return nil
		})
	}
	// Every string column comes from outside (an operator's words, an SSH
	// key's comment, a user, an agent's error): feed.Printable keeps
	// control characters off the terminal. --json keeps them, escaped.
	p := feed.Printable
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tWHO\tACTION\tCALL\tUSER\tREASON\tOUTCOME\tCOST\tBY\tDETAIL")
	n := 0
	err = cl.EachAudit(ctx, q, func(r feed.AuditRecord) error {
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.Local().Format(time.DateTime), p(r.Who), p(string(r.Action)),
			auditDash(p(r.CallID)), auditDash(p(r.User)), auditDash(p(auditReason(r))), p(string(r.Outcome)), auditCost(r), auditDash(p(r.By)), auditDash(p(r.Error)))
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(stderr, "calltop audit: no records since %s\n", since.Local().Format(time.DateTime))
	}
	return nil
}

// auditReason is the REASON column: a credits change with the balance it
// left.
func auditReason(r feed.AuditRecord) string {
	if r.Action == feed.AuditCredits && r.BalanceUSD != nil {
		return fmt.Sprintf("%s (balance %s)", r.Reason, auditUSD(*r.BalanceUSD))
	}
	return r.Reason
}

// auditCost is the COST column: the call's cost then; a dash for credits.
func auditCost(r feed.AuditRecord) string {
	if r.Action != feed.AuditTerminate {
		return "-"
	}
	return fmt.Sprintf("$%.4f", r.CostUSD)
}

func auditUSD(v float64) string {
	m, err := feed.MicrosFromUSD(v)
	if err != nil {
		return fmt.Sprintf("$%.2f", v)
	}
	return m.String()
}

func auditDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseAuditSince reads --since: a duration back from now ("90m", "24h"), or a
// time: RFC 3339, "2006-01-02 15:04[:05]" or a date, in local time.
func parseAuditSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now is positive", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (90m, 24h) or a time (2026-12-02, \"2026-12-02 14:00\", RFC 3339)", feed.Printable(s))
}
