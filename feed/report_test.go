package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// billRecord is a final record as agents write them: i picks the user
// (of 3,000), the agent (of 8), the end reason, the API and whether the
// session said its model.
func billRecord(i int, ended time.Time) Event {
	id := fmt.Sprintf("rtc_u1_%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i))
	started := ended.Add(-time.Duration(30+i%600)*time.Second - time.Duration(i%1000)*time.Millisecond)
	e := Event{V: VersionCompact, Kind: KindEnded, CallID: id, Term: 1, Seq: uint64(10 + i%40), At: ended.Add(5 * time.Millisecond),
		Agent: fmt.Sprintf("api-%d", i%8),
		Start: &Start{User: fmt.Sprintf("user%04d@example.com", i%3000), Model: "gpt-realtime", StartedAt: started},
		Usage: &Usage{Tokens: Tokens{Total: 5120 + int64(i%97), Input: 3800 + int64(i%97), Output: 1320, InputText: 1800 + int64(i%97), InputAudio: 2000,
			InputCached: 2560, CachedText: 1280, CachedAudio: 1280, OutputText: 320, OutputAudio: 1000},
			Responses: 7, ByStatus: map[string]int{"completed": 6, "cancelled": 1}, Seconds: ended.Sub(started).Seconds(),
			UserSpeechSeconds: 21.3, AgentSpeechSeconds: 30.8, CostUSD: 0.1497 + float64(i%100)/1e4},
		End: &End{Reason: ReasonHangup, EndedAt: ended},
	}
	if i%3 != 0 {
		e.Session = &Session{SessionID: "sess_" + id[7:], Model: "gpt-realtime-2025-08-28", ExpiresAt: started.Add(time.Hour)}
	}
	switch i % 20 {
	case 0:
		e.End = &End{Reason: ReasonOperator, Detail: "abusive \"caller\"", By: "maria@oncall-3", EndedAt: ended}
		e.Flags = []Flag{{Kind: "burn_rate", Message: "$1.92/min above $1.50/min", Evidence: map[string]string{"threshold": "1.50", "usd_per_min": "1.92"}}}
	case 1:
		e.End = &End{Reason: ReasonPolicy, Detail: "policy:max_cost", EndedAt: ended}
		credits := 2.5
		e.Policy = &EffectivePolicy{MaxSeconds: 600, MaxCostUSD: 2.5, CreditsUSD: &credits, WarnAt: 0.8}
		e.Warnings = []Warning{{Limit: "max_cost", Used: 2.0000001, Max: 2.5, Message: "80% of max_cost"}}
	case 2:
		e.CallID = "live_u1_" + id[7:]
		e.Start.API, e.Start.Model = APILive, "gpt-live-1"
		e.Session = &Session{SessionID: e.CallID, Model: "gpt-live-1", ExpiresAt: started.Add(2 * time.Hour)}
		e.Usage = &Usage{Seconds: ended.Sub(started).Seconds(), LiveSeconds: 93.1, StandbySeconds: 3.87, CostUSD: 0.08,
			BackendTokens: Tokens{Total: 2710, Input: 2400, Output: 310, InputText: 2400, InputCached: 1024, CachedText: 1024, OutputText: 310}, BackendUSD: 0.001}
	case 3:
		e.Usage.CostUnknown, e.Start.Model, e.Session = true, "gpt-unpriced", nil
	}
	return e
}

func encodeRecord(t testing.TB, c *Client, e Event) []byte {
	t.Helper()
	m, err := c.FinalMessage(e)
	if err != nil {
		t.Fatal(err)
	}
	return m.Data
}

// TestBillLineReadsWhatAgentsWrite: the lean decoder reads every record
// an agent writes, and reads it as the general path does.
func TestBillLineReadsWhatAgentsWrite(t *testing.T) {
	c := &Client{}
	now := time.Now()
	for i := range 60 {
		data := encodeRecord(t, c, billRecord(i, now))
		var fast, slow billLine
		if !readBillLine(data, &fast) {
			t.Fatalf("record %d: the fast path gave up on %s", i, data)
		}
		if !billLineOf(data, &slow) {
			t.Fatalf("record %d: the general path refused %s", i, data)
		}
		if d := diffLines(fast, slow); d != "" {
			t.Fatalf("record %d: %s\n%s", i, d, data)
		}
	}
	// What the fast path leaves to the general one is still read.
	for _, data := range []string{
		`{"v":2, "kind":"ended","call_id":"rtc_a","at":1,"start":{"user":"a","started_at":1},"end":{"reason":"hangup","ended_at":2}}`,
		`{"v":2,"kind":"ended","call_id":"rtc_a","at":1,"start":{"user":"\u00e9l\u00e8ve","started_at":1},"end":{"reason":"hangup","ended_at":2}}`,
	} {
		var fast, slow billLine
		if readBillLine([]byte(data), &fast) {
			t.Errorf("fast path read %s", data)
		}
		if !billLineOf([]byte(data), &slow) {
			t.Errorf("general path refused %s", data)
		}
	}
	var l billLine
	for _, bad := range []string{`{"v":2,"kind":"usage","call_id":"rtc_a","at":1,"usage":{}}`, `{"v":3}`, `nope`, ``} {
		if readBillLine([]byte(bad), &l) || billLineOf([]byte(bad), &l) {
			t.Errorf("read %q as a final record", bad)
		}
	}
}

func diffLines(a, b billLine) string {
	if string(a.user) != string(b.user) || string(a.model) != string(b.model) || string(a.agent) != string(b.agent) || string(a.reason) != string(b.reason) {
		return fmt.Sprintf("strings differ: %q %q %q %q vs %q %q %q %q", a.user, a.model, a.agent, a.reason, b.user, b.model, b.agent, b.reason)
	}
	a.user, a.model, a.agent, a.reason = nil, nil, nil, nil
	b.user, b.model, b.agent, b.reason = nil, nil, nil, nil
	if fmt.Sprint(a) != fmt.Sprint(b) {
		return fmt.Sprintf("fast %+v, general %+v", a, b)
	}
	return ""
}

// FuzzBillLineFastPath: what the lean decoder reads is valid JSON, and
// read as the general path reads it, whenever that path reads it too. It
// may read a record the general path refuses for a field the report does
// not use ("seq":{}): a malformed flag does not drop a call's cost.
func FuzzBillLineFastPath(f *testing.F) {
	c := &Client{}
	now := time.UnixMilli(1795946523010)
	for i := range 8 {
		f.Add(encodeRecord(f, c, billRecord(i, now)))
	}
	f.Add([]byte(`{"v":2,"kind":"ended","call_id":"rtc_a","at":1,"flags":[{"x":[1,-2.5e3,true,null,"\"\\"]}],"end":{"reason":"policy","ended_at":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow billLine
		if !readBillLine(data, &fast) {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("fast path read invalid JSON: %q", data)
		}
		if !billLineOf(data, &slow) {
			return
		}
		if d := diffLines(fast, slow); d != "" {
			t.Fatalf("%s\n%q", d, data)
		}
	})
}

// publishFinals stores records as the agents' outboxes do, and waits for
// their acknowledgements.
func publishFinals(t testing.TB, c *Client, evs []Event) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.EnsureFinalStream(ctx); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(c.NC, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		m, err := c.FinalMessage(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
		if i%2048 == 2047 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("final records not acknowledged")
	}
}

// TestReportGroupsAndPeriod: a report counts each call of its period
// once, in its group, with the sums ls would give, and nothing outside
// the period.
func TestReportGroupsAndPeriod(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var evs []Event
	for i := range 200 {
		evs = append(evs, billRecord(i, day.Add(time.Duration(i)*15*time.Minute))) // 50 hours
	}
	publishFinals(t, c, evs)

	r, err := c.Report(ctx, ReportOptions{By: ReportByDay})
	if err != nil {
		t.Fatal(err)
	}
	if r.Read != 200 || r.Skipped != 0 || len(r.Rows) != 3 || r.Total.Calls != 200 {
		t.Fatalf("report by day: read %d, skipped %d, %d rows, %d calls: %+v", r.Read, r.Skipped, len(r.Rows), r.Total.Calls, r.Rows)
	}
	for i, want := range []struct {
		key   string
		calls int64
	}{{"2026-12-01", 96}, {"2026-12-02", 96}, {"2026-12-03", 8}} {
		if row := r.Rows[i]; row.Key != want.key || row.Calls != want.calls {
			t.Errorf("row %d = %s, %d calls; want %s, %d", i, row.Key, row.Calls, want.key, want.calls)
		}
	}
	// The sums are what the calls' own records say, as ls shows them.
	want := ReportRow{}
	b := NewBoard(time.Hour)
	for _, e := range evs {
		b.Apply(e)
		s := mustGet(t, b, e.CallID).Summarize(time.Now())
		want.Calls++
		want.tenths += int64(s.Seconds*10 + 0.5)
		want.Tokens = want.Tokens.Add(s.Tokens)
		want.micro += Micro(s.CostUSD)
		want.liveMs += durMs(s.LiveSeconds)
		if s.BackendTokens != nil {
			want.backend = want.backend.Add(*s.BackendTokens)
		}
		switch e.End.Reason {
		case ReasonPolicy:
			want.EndedByPolicy++
		case ReasonOperator:
			want.EndedByOperator++
		}
	}
	got := r.Total
	if got.tenths != want.tenths || got.Tokens != want.Tokens || got.micro != want.micro || got.liveMs != want.liveMs ||
		got.backend != want.backend || got.EndedByPolicy != want.EndedByPolicy || got.EndedByOperator != want.EndedByOperator {
		t.Errorf("total = %+v\nwant    %+v", got, want)
	}
	if got.EndedByPolicy != 10 || got.EndedByOperator != 10 || got.LiveSessions != 10 || got.CostUnknown != 10 {
		t.Errorf("total: %d by policy, %d by operator, %d Live, %d unpriced; want 10 each", got.EndedByPolicy, got.EndedByOperator, got.LiveSessions, got.CostUnknown)
	}

	// A period: the calls that ended in [from, to), whatever the grouping.
	from, to := day.Add(10*time.Hour), day.Add(20*time.Hour) // calls 40 to 79
	for _, by := range ReportBys {
		r, err := c.Report(ctx, ReportOptions{From: from, To: to, By: by})
		if err != nil {
			t.Fatal(err)
		}
		if r.Total.Calls != 40 {
			t.Errorf("by %s from %s to %s: %d calls, want 40", by, from, to, r.Total.Calls)
		}
	}
	r, _ = c.Report(ctx, ReportOptions{From: from, To: to, By: ReportByModel})
	models := map[string]int64{}
	for _, row := range r.Rows {
		models[row.Key] = row.Calls
	}
	if len(models) != 4 || models["gpt-live-1"] != 2 || models["gpt-unpriced"] != 2 {
		t.Errorf("by model: %v", models)
	}
	for i := 1; i < len(r.Rows); i++ {
		if r.Rows[i].CostUSD > r.Rows[i-1].CostUSD {
			t.Errorf("by model: not sorted by cost, most first: %+v", r.Rows)
		}
	}
	r, _ = c.Report(ctx, ReportOptions{From: day.Add(100 * time.Hour), By: ReportByUser})
	if r.Total.Calls != 0 || len(r.Rows) != 0 || r.Read != 0 {
		t.Errorf("a period after every call: %+v", r)
	}
}

func mustGet(t *testing.T, b *Board, id string) *Call {
	t.Helper()
	c, ok := b.Get(id)
	if !ok {
		t.Fatalf("no call %s on the board", id)
	}
	return &c
}

// TestReportWithoutRecords: no stream yet, or nothing in it, is an empty
// report, not an error; bad options are errors.
func TestReportWithoutRecords(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	r, err := c.Report(ctx, ReportOptions{By: ReportByUser})
	if err != nil || !r.NoStream || len(r.Rows) != 0 {
		t.Fatalf("no stream: %+v, %v", r, err)
	}
	if _, err := c.EnsureFinalStream(ctx); err != nil {
		t.Fatal(err)
	}
	r, err = c.Report(ctx, ReportOptions{By: ReportByUser})
	if err != nil || r.NoStream || len(r.Rows) != 0 {
		t.Fatalf("empty stream: %+v, %v", r, err)
	}
	now := time.Now()
	for _, o := range []ReportOptions{{By: "week"}, {By: ReportByDay, From: now, To: now}, {By: ReportByDay, From: now, To: now.Add(-time.Hour)}} {
		if _, err := c.Report(ctx, o); err == nil {
			t.Errorf("report %+v: no error", o)
		}
	}
}

// TestReportWithoutDirectGets: a final-records stream an operator made
// without direct gets is read with an ordered consumer, to the same
// report.
func TestReportWithoutDirectGets(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	var evs []Event
	for i := range 300 {
		evs = append(evs, billRecord(i, now.Add(time.Duration(i)*time.Second)))
	}
	publishFinals(t, c, evs)
	want, err := c.Report(ctx, ReportOptions{By: ReportByAgent, From: now.Add(100 * time.Second)})
	if err != nil || want.Total.Calls != 200 {
		t.Fatalf("report with direct gets: %+v, %v", want, err)
	}
	js, _ := jetstream.New(c.NC)
	s, err := js.Stream(ctx, c.Subjects.FinalStream())
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := c.Report(ctx, ReportOptions{By: ReportByAgent, From: now.Add(100 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	got.Total.BackendTokens, want.Total.BackendTokens = nil, nil // pointers
	if got.Total != want.Total || len(got.Rows) != len(want.Rows) || len(got.Rows) != 8 {
		t.Fatalf("with a consumer: %+v\nwith direct gets: %+v", got.Total, want.Total)
	}
}
