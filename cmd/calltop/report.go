package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/feed"
)

// reportLong is report's help, above its flags.
const reportLong = `What the calls that ended in a period cost, by user, model, agent or UTC day,
read from the final records (they outlive agents and NATS restarts). Without a
period: every stored record.

TIME is ` + whenForms + `.`

// reportFormat is how a report is written.
type reportFormat string

const (
	reportTable reportFormat = "table"
	reportJSON  reportFormat = "json" // one object per group and line
	reportCSV   reportFormat = "csv"  // a header line, then one line per group
)

// reportOptions is everything `calltop report` is asked, whichever way
// its flags are read.
type reportOptions struct {
	feed.ReportOptions
	Format  reportFormat
	Timeout time.Duration
}

func reportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report [flags]",
		Short: "what the calls cost, by user, model, agent or day (--json, --csv), from the final records",
		Long:  reportLong,
		Args:  noArgs,
	}
	fs := cmd.Flags()
	var nf natsFlags
	nf.register(fs)
	var since spanFlag
	fs.Var(&since, "since", "the calls that ended in the `DURATION` before now: 15m, 24h, 7d")
	from := fs.String("from", "", "the calls that ended at or after `TIME`")
	to := fs.String("to", "", "… and before `TIME` (default: now)")
	by := fs.String("by", string(feed.ReportByUser), "group by user, model, agent or day (UTC)")
	asJSON := fs.Bool("json", false, "one JSON object per group and line, for scripts")
	asCSV := fs.Bool("csv", false, "CSV with a header line, for spreadsheets")
	timeout := fs.Duration("timeout", time.Minute, "give up reading the records after this long")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o, err := reportFlags(time.Now(), since, *from, *to, *by, *asJSON, *asCSV)
		if err != nil {
			return &usageError{err: err}
		}
		o.Timeout = *timeout
		cl, err := nf.connect("calltop-report")
		if err != nil {
			return err
		}
		defer cl.NC.Close()
		return report(cmd.Context(), cl, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

// reportFlags checks the flags and turns them into options.
func reportFlags(now time.Time, since spanFlag, from, to, by string, asJSON, asCSV bool) (reportOptions, error) {
	o := reportOptions{ReportOptions: feed.ReportOptions{By: feed.ReportBy(by)}, Format: reportTable}
	if !slices.Contains(feed.ReportBys, o.By) {
		return o, fmt.Errorf("--by %q: want user, model, agent or day", by)
	}
	switch {
	case asJSON && asCSV:
		return o, fmt.Errorf("--json or --csv, not both")
	case asJSON:
		o.Format = reportJSON
	case asCSV:
		o.Format = reportCSV
	}
	if since.set && (from != "" || to != "") {
		return o, fmt.Errorf("--since or --from/--to, not both")
	}
	if since.set {
		o.From = now.Add(-since.d)
	}
	var err error
	if from != "" {
		if o.From, err = parseWhen(from, now); err != nil {
			return o, fmt.Errorf("--from %w", err)
		}
	}
	if to != "" {
		if o.To, err = parseWhen(to, now); err != nil {
			return o, fmt.Errorf("--to %w", err)
		}
	}
	if err := o.Check(); err != nil {
		return o, err
	}
	return o, nil
}

// report reads the report o asks for from cl and writes it.
func report(ctx context.Context, cl *feed.Client, o reportOptions, stdout, stderr io.Writer) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	r, err := cl.Report(ctx, o.ReportOptions)
	if err != nil {
		return err
	}
	if r.NoStream {
		fmt.Fprintf(stderr, "calltop report: no final records here yet (no stream %s: is --prefix right?)\n", cl.Subjects.FinalStream())
	}
	if r.Skipped > 0 {
		fmt.Fprintf(stderr, "calltop report: %d of %d records were not final records of calls, and were skipped\n", r.Skipped, r.Read)
	}
	switch o.Format {
	case reportJSON:
		return writeReportJSON(stdout, r)
	case reportCSV:
		return writeReportCSV(stdout, r)
	}
	return writeReportTable(stdout, r)
}

func writeReportJSON(w io.Writer, r *feed.Report) error {
	enc := json.NewEncoder(w)
	for i := range r.Rows {
		if err := enc.Encode(&r.Rows[i]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// reportColumns are the CSV columns, after the key: the JSON fields, with
// tokens spread out.
var reportColumns = []string{"calls", "seconds", "tokens_total", "tokens_input", "tokens_output", "tokens_input_text",
	"tokens_input_audio", "tokens_input_image", "tokens_input_cached", "tokens_output_text", "tokens_output_audio",
	"cost_usd", "ended_by_policy", "ended_by_operator", "live_sessions", "live_seconds", "standby_seconds",
	"backend_tokens_total", "cost_unknown"}

func writeReportCSV(w io.Writer, r *feed.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{string(r.By)}, reportColumns...))
	i := strconv.FormatInt
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, row := range r.Rows {
		t := row.Tokens
		var backend int64
		if row.BackendTokens != nil {
			backend = row.BackendTokens.Total
		}
		_ = cw.Write([]string{row.Key, i(row.Calls, 10), f(row.Seconds), i(t.Total, 10), i(t.Input, 10), i(t.Output, 10),
			i(t.InputText, 10), i(t.InputAudio, 10), i(t.InputImage, 10), i(t.InputCached, 10), i(t.OutputText, 10), i(t.OutputAudio, 10),
			f(row.CostUSD), i(row.EndedByPolicy, 10), i(row.EndedByOperator, 10), i(row.LiveSessions, 10), f(row.LiveSeconds),
			f(row.StandbySeconds), i(backend, 10), i(row.CostUnknown, 10)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeReportTable writes the report for people: the period, a row per
// group, a total. GPT-Live's billed seconds and the unpriced calls get a
// column when there are any.
func writeReportTable(w io.Writer, r *feed.Report) error {
	live, unpriced := r.Total.LiveSessions > 0, r.Total.CostUnknown > 0
	head := []string{strings.ToUpper(string(r.By)), "CALLS", "SECONDS", "TOKENS IN", "TOKENS OUT", "COST", "BY POLICY", "BY OPERATOR"}
	if live {
		head = append(head, "LIVE SESSIONS", "LIVE SECONDS")
	}
	if unpriced {
		head = append(head, "UNPRICED")
	}
	table := [][]string{head}
	line := func(key string, row *feed.ReportRow) {
		cells := []string{key, strconv.FormatInt(row.Calls, 10), strconv.FormatFloat(row.Seconds, 'f', 0, 64),
			strconv.FormatInt(row.Tokens.Input, 10), strconv.FormatInt(row.Tokens.Output, 10), fmt.Sprintf("$%.4f", row.CostUSD),
			strconv.FormatInt(row.EndedByPolicy, 10), strconv.FormatInt(row.EndedByOperator, 10)}
		if live {
			cells = append(cells, strconv.FormatInt(row.LiveSessions, 10), strconv.FormatFloat(row.LiveSeconds, 'f', 0, 64))
		}
		if unpriced {
			cells = append(cells, strconv.FormatInt(row.CostUnknown, 10))
		}
		table = append(table, cells)
	}
	for i := range r.Rows {
		// Keys come from outside (a user as the app gave it): no control
		// characters on the terminal. --json and --csv keep them.
		key := feed.Printable(r.Rows[i].Key)
		if key == "" {
			key = "(none)"
		}
		line(key, &r.Rows[i])
	}
	line("TOTAL", &r.Total)
	fmt.Fprintf(w, "%s, by %s\n", describePeriod(r.From, r.To), r.By)
	return writeColumns(w, table)
}

// writeColumns writes a table: the first column aligned left, the others
// (numbers) right, two spaces apart.
func writeColumns(w io.Writer, table [][]string) error {
	widths := make([]int, len(table[0]))
	for _, row := range table {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, row := range table {
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describePeriod says which calls a report covers.
func describePeriod(from, to time.Time) string {
	const layout = "2006-01-02 15:04:05 MST"
	switch {
	case from.IsZero() && to.IsZero():
		return "every call in the final records"
	case to.IsZero():
		return "calls that ended since " + from.UTC().Format(layout)
	case from.IsZero():
		return "calls that ended before " + to.UTC().Format(layout)
	}
	return "calls that ended from " + from.UTC().Format(layout) + " to " + to.UTC().Format(layout)
}
