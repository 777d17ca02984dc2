package feed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReportBy is how a report groups calls.
type ReportBy string

// The groupings of a report.
const (
	ReportByUser  ReportBy = "user"
	ReportByModel ReportBy = "model" // the model the session reported, else the one the app asked for
	ReportByAgent ReportBy = "agent" // the agent that wrote the final record (the call's last owner)
	ReportByDay   ReportBy = "day"   // the UTC day the call ended, 2026-12-02
)

// ReportBys lists every grouping, for flags and messages.
var ReportBys = []ReportBy{ReportByUser, ReportByModel, ReportByAgent, ReportByDay}

// ReportOptions says what a report covers: the calls that ended in
// [From, To) (a zero bound is open), grouped By.
type ReportOptions struct {
	From, To time.Time
	By       ReportBy
}

// Check says what is wrong with o, if anything.
func (o ReportOptions) Check() error {
	if !slices.Contains(ReportBys, o.By) {
		return fmt.Errorf("report by %q: want user, model, agent or day", o.By)
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return fmt.Errorf("from %s to %s: the period ends before it starts", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	return nil
}

// ReportRow is one group of calls, with the same fields (and units) as
// the calls' `calltop ls --json` records, summed: Seconds is the sum of
// their seconds, each rounded down to a tenth as ls shows it; Tokens the
// sum of their tokens; CostUSD of their costs.
//
// A GPT-Live session counts as a call like any other: its Seconds are its
// wall time, its CostUSD everything it cost (billed seconds, standby, its
// Responses backend). Its Tokens are zero, as in ls: OpenAI bills it by
// the second, and its billed seconds are in LiveSeconds and
// StandbySeconds; the tokens of its backend, another model priced apart,
// are in BackendTokens, never mixed into Tokens.
type ReportRow struct {
	Key             string  `json:"key"`
	Calls           int64   `json:"calls"`
	Seconds         float64 `json:"seconds"`
	Tokens          Tokens  `json:"tokens"`
	CostUSD         float64 `json:"cost_usd"`
	EndedByPolicy   int64   `json:"ended_by_policy"`
	EndedByOperator int64   `json:"ended_by_operator"`
	// LiveSessions counts the GPT-Live sessions among Calls.
	LiveSessions   int64   `json:"live_sessions,omitempty"`
	LiveSeconds    float64 `json:"live_seconds,omitempty"`
	StandbySeconds float64 `json:"standby_seconds,omitempty"`
	BackendTokens  *Tokens `json:"backend_tokens,omitempty"`
	// CostUnknown counts calls whose model had no price: their tokens
	// count, their cost is missing from CostUSD.
	CostUnknown int64 `json:"cost_unknown,omitempty"`

	// Exact sums: tenths of seconds, micro-dollars, milliseconds.
	tenths, micro, liveMs, standbyMs int64
	backend                          Tokens
}

// Report is what ReportOf returns: a row per group, sorted (by cost, most
// first, then key; by day, oldest first), and their total (Key "").
type Report struct {
	ReportOptions
	Rows  []ReportRow
	Total ReportRow
	// Read counts the final records read (the period's and those around
	// it); Skipped those that were not a call's final record.
	Read, Skipped int64
	// NoStream is set when there is no final-records stream: nothing was
	// ever recorded under this prefix.
	NoStream bool
}

// reportSkew is how far before the period records are read: a record is
// stored after its call ended, by the clock of the NATS server, while
// ended_at is the agent's clock, which may run ahead.
const reportSkew = 15 * time.Minute

// reportLate is how long after the period records are still read: a
// record is stored when NATS takes it, which an outage (the agent's
// outbox retries) or an agent's death (its adopter writes it) delays.
const reportLate = 24 * time.Hour

// Report reads the final records of the calls that ended in the period
// and adds them up. It reads the final-records stream, which outlives
// agents and NATS restarts, from the period's start (by stored time, less
// reportSkew), in large batches of direct gets, and reads each record with
// a lean decoder: 100,000 records take about a second.
func (c *Client) Report(ctx context.Context, o ReportOptions) (*Report, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	var from, until time.Time
	if !o.From.IsZero() {
		from = o.From.Add(-reportSkew)
	}
	if !o.To.IsZero() {
		until = o.To.Add(reportLate)
	}
	agg, err := c.readFinals(ctx, from, until, o)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		r := newReportAgg(o, time.Time{}).report()
		r.NoStream = true
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return agg.report(), nil
}

// reportAgg adds records up, one goroutine at a time.
type reportAgg struct {
	o      ReportOptions
	from   int64 // unix ms; 0: open
	to     int64
	until  int64 // a record that ended after this says the rest is too late
	beyond bool  // … and one did
	groups map[string]*ReportRow
	read   int64
	skip   int64
	// The last day key made, so a day's records (they come in order)
	// make one string.
	day    int64
	dayKey string
}

// newReportAgg adds up the records of o's period; records that ended
// after until (zero: none) mark the aggregate beyond it.
func newReportAgg(o ReportOptions, until time.Time) *reportAgg {
	a := &reportAgg{o: o, groups: make(map[string]*ReportRow), day: -1 << 62}
	if !until.IsZero() {
		a.until = until.UnixMilli()
	}
	if !o.From.IsZero() {
		a.from = o.From.UnixMilli()
	}
	if !o.To.IsZero() {
		a.to = o.To.UnixMilli()
	}
	return a
}

func (a *reportAgg) add(data []byte) {
	a.read++
	var l billLine
	if !readBillLine(data, &l) && !billLineOf(data, &l) {
		a.skip++
		return
	}
	a.addLine(&l)
}

func (a *reportAgg) addLine(l *billLine) {
	ended := l.endedAt
	if ended == 0 {
		ended = l.at
	}
	if a.until != 0 && ended > a.until {
		a.beyond = true
	}
	if (a.from != 0 && ended < a.from) || (a.to != 0 && ended >= a.to) {
		return
	}
	var key []byte
	switch a.o.By {
	case ReportByUser:
		key = l.user
	case ReportByModel:
		key = l.model
	case ReportByAgent:
		key = l.agent
	default:
		key = []byte(a.dayOf(ended))
	}
	row := a.groups[string(key)]
	if row == nil {
		row = &ReportRow{Key: string(key)}
		a.groups[row.Key] = row
	}
	row.addLine(l, ended)
}

// dayOf is the UTC day of a unix-ms time, 2026-12-02.
func (a *reportAgg) dayOf(msec int64) string {
	const msPerDay = 24 * 60 * 60 * 1000
	d := msec / msPerDay
	if msec < 0 && msec%msPerDay != 0 {
		d--
	}
	if d != a.day {
		a.day, a.dayKey = d, time.UnixMilli(d*msPerDay).UTC().Format(time.DateOnly)
	}
	return a.dayKey
}

// addLine adds one call, its seconds computed as `calltop ls` computes an
// ended call's: from its start to its end, never past OpenAI's cap, never
// less than its agent counted, rounded down to the tenth.
func (r *ReportRow) addLine(l *billLine, ended int64) {
	c := Call{State: StateEnded, StartedAt: fromMs(l.startedAt), EndedAt: fromMs(ended), ExpiresAt: fromMs(l.expiresAt),
		Usage: Usage{Seconds: secs(l.ms)}}
	if c.StartedAt.IsZero() {
		c.StartedAt = fromMs(l.at)
	}
	r.Calls++
	r.tenths += int64(c.Seconds(time.Time{}) * 10)
	r.Tokens = r.Tokens.Add(l.tokens)
	r.micro += l.cost
	switch Reason(l.reason) {
	case ReasonPolicy:
		r.EndedByPolicy++
	case ReasonOperator:
		r.EndedByOperator++
	}
	if l.live {
		r.LiveSessions++
	}
	r.liveMs += l.liveMs
	r.standbyMs += l.standbyMs
	r.backend = r.backend.Add(l.backend)
	if l.costUnknown {
		r.CostUnknown++
	}
}

// merge adds what b added up to a.
func (a *reportAgg) merge(b *reportAgg) {
	a.read += b.read
	a.skip += b.skip
	a.beyond = a.beyond || b.beyond
	for key, row := range b.groups {
		if mine := a.groups[key]; mine != nil {
			mine.merge(row)
		} else {
			a.groups[key] = row
		}
	}
}

// merge adds another row's sums to r.
func (r *ReportRow) merge(o *ReportRow) {
	r.Calls += o.Calls
	r.tenths += o.tenths
	r.Tokens = r.Tokens.Add(o.Tokens)
	r.micro += o.micro
	r.EndedByPolicy += o.EndedByPolicy
	r.EndedByOperator += o.EndedByOperator
	r.LiveSessions += o.LiveSessions
	r.liveMs += o.liveMs
	r.standbyMs += o.standbyMs
	r.backend = r.backend.Add(o.backend)
	r.CostUnknown += o.CostUnknown
}

// finish turns the exact sums into the row's fields.
func (r *ReportRow) finish() {
	r.Seconds = float64(r.tenths) / 10
	r.CostUSD = float64(r.micro) / 1e6
	r.LiveSeconds, r.StandbySeconds = secs(r.liveMs), secs(r.standbyMs)
	r.BackendTokens = nil
	if r.backend != (Tokens{}) {
		t := r.backend
		r.BackendTokens = &t
	}
}

func (a *reportAgg) report() *Report {
	r := &Report{ReportOptions: a.o, Read: a.read, Skipped: a.skip, Rows: make([]ReportRow, 0, len(a.groups))}
	for _, row := range a.groups {
		row.finish()
		r.Total.merge(row)
		r.Rows = append(r.Rows, *row)
	}
	r.Total.finish()
	slices.SortFunc(r.Rows, func(x, y ReportRow) int {
		if a.o.By == ReportByDay {
			return cmp.Compare(x.Key, y.Key)
		}
		return cmp.Or(cmp.Compare(y.micro, x.micro), cmp.Compare(x.Key, y.Key))
	})
	return r
}
