package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/feed"
)

// newAuditStream makes the test's audit stream small and in memory (the
// one EnsureAuditStream creates reserves its limit on the shared server),
// as append-only as the real one.
func (f *testFeed) newAuditStream() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := jetstream.New(f.client.NC)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: f.client.Subjects.AuditStream(), Subjects: []string{f.client.Subjects.Audits()},
		Storage: jetstream.MemoryStorage, MaxBytes: 8 << 20, Duplicates: time.Hour,
		AllowDirect: true, DenyDelete: true, DenyPurge: true,
	}); err != nil {
		f.t.Fatal(err)
	}
}

// record stores one audit record, as the agent or command that executed
// it does.
func (f *testFeed) record(r feed.AuditRecord) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.client.Audit(ctx, r); err != nil {
		f.t.Fatal(err)
	}
}

var keyH = keyRune('h')

// TestHistoryAuditPane: the history key opens the ended calls, again the
// audit trail: who hung up what, when, why, how it went and the cost,
// newest first, text from outside made printable; a record stored while
// the pane is open shows within seconds; enter opens a recorded call's
// detail; the key again goes back to the ended calls.
func TestHistoryAuditPane(t *testing.T) {
	f := newFeed(t)
	f.newAuditStream()
	clk := newClock()
	a := alice.at(clk.Now().Add(-3 * time.Minute))
	f.startCall(a)
	f.endCall(a, feed.ReasonOperator, "maria@oncall", clk.Now().Add(-time.Minute))
	at := clk.Now().Add(-time.Minute)
	f.record(feed.AuditRecord{At: at, Who: "maria@oncall", Action: feed.AuditTerminate, CallID: a.id, User: a.user, Reason: "abuse",
		Outcome: feed.OutcomeDone, CostUSD: 0.42, By: "agent web-1"})
	f.record(feed.AuditRecord{At: at.Add(time.Second), Who: "policy:max_cost", Action: feed.AuditTerminate, CallID: bob.id, User: bob.user,
		Reason: "policy:max_cost", Outcome: feed.OutcomeOpenAIError, Error: "hangup: 500 Internal Server Error", CostUSD: 3.5, By: "agent web-2"})
	f.record(feed.AuditRecord{At: at.Add(2 * time.Second), Who: "comment SHA256:abc\x1b]0;x\x07", Action: feed.AuditTerminate, CallID: "rtc_gone",
		Outcome: feed.OutcomeNoOwner, Error: "no agent owns this call", By: "calltop-serve"})
	bal := 3.75
	f.record(feed.AuditRecord{At: clk.Now().Add(-25 * time.Hour), Who: "ops@host", Action: feed.AuditCredits, User: "carol",
		Reason: "add -$1.25", Outcome: feed.OutcomeDone, BalanceUSD: &bal, By: "calltop credits"})

	tm, _ := start(t, f, Options{Now: clk.Now}, 160, 20)
	waitScreen(t, tm, "alice ended", contains("ended"))
	tm.Send(keyH)
	waitScreen(t, tm, "the ended calls", contains("HISTORY", "1 ended calls", "h: audit trail"))
	tm.Send(keyH)
	s := waitScreen(t, tm, "the audit trail", contains("HISTORY · AUDIT", "4 newest records", "maria@oncall", "policy:max_cost", "ops@host"))
	t.Logf("audit pane at 160×20:\n%s", s)
	if strings.ContainsAny(s, "\x07") || !strings.Contains(s, "comment SHA256:abc?]0;x?") {
		t.Errorf("a who from outside reached the terminal raw:\n%s", s)
	}
	lines := strings.Split(s, "\n")
	order := []string{"comment SHA256", "policy:max_cost", "maria@oncall", "ops@host"} // newest first
	last := -1
	for _, who := range order {
		i := -1
		for j, l := range lines {
			if strings.Contains(l, who) {
				i = j
				break
			}
		}
		if i <= last {
			t.Fatalf("%s not below the newer records:\n%s", who, s)
		}
		last = i
	}
	for who, want := range map[string][]string{
		"maria@oncall":    {shortID(a.id)[:8], "abuse", "done", "$0.42"},
		"policy:max_cost": {"OpenAI error: hangup: 500", "$3.50"},
		"comment SHA256":  {"no owner", "rtc_gone"},
		"ops@host":        {"carol", "credits add -$1.25 → $3.75", "09-30 "},
	} {
		row := rowOf(s, who)
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("%s's row lacks %q: %q", who, w, row)
			}
		}
	}

	// A record stored now shows while the pane is open.
	f.record(feed.AuditRecord{Who: "app:backend", Action: feed.AuditTerminate, CallID: carol.id, Outcome: feed.OutcomeAlreadyEnded, By: "agent web-1"})
	waitScreenFor(t, tm, 10*time.Second, "the new record", contains("app:backend", "already ended", "5 newest records"))

	// enter on alice's record: her detail.
	tm.Send(keyRune('g'))
	for range 3 {
		tm.Send(keyDown)
	}
	waitScreen(t, tm, "maria's record selected", func(s string) bool { return strings.HasPrefix(rowOf(s, "maria@oncall"), ">") })
	tm.Send(keyEnter)
	waitScreen(t, tm, "alice's detail", contains("DETAIL", "alice@acme.io"))
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitScreen(t, tm, "back in the audit pane", contains("HISTORY · AUDIT"))
	// A narrow terminal keeps who, the outcome and the cost.
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 20})
	s = waitScreen(t, tm, "the pane at 80 columns", contains("policy:max", "OpenAI err", "$3.50"))
	for _, l := range strings.Split(s, "\n") {
		if w := lipgloss.Width(l); w > 80 {
			t.Fatalf("a line %d wide at 80 columns: %q", w, l)
		}
	}
	tm.Send(keyH)
	waitScreen(t, tm, "the ended calls again", contains("1 ended calls"))
	quit(t, tm)
}

// TestHistoryAuditManyRecords: a long trail shows its newest records,
// bounded, and moves like any list.
func TestHistoryAuditManyRecords(t *testing.T) {
	f := newFeed(t)
	f.newAuditStream()
	n := DefaultAuditRecords + 500
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, _ := jetstream.New(f.client.NC)
	futs := make([]jetstream.PubAckFuture, 0, n)
	for i := range n {
		msg, err := f.client.AuditMessage(feed.AuditRecord{Who: fmt.Sprintf("op%04d", i), Action: feed.AuditTerminate, CallID: "rtc_x", Outcome: feed.OutcomeDone})
		if err != nil {
			t.Fatal(err)
		}
		fut, err := js.PublishMsgAsync(msg)
		if err != nil {
			t.Fatal(err)
		}
		futs = append(futs, fut)
	}
	for _, fut := range futs {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	tm, m := start(t, f, Options{}, 100, 20)
	tm.Send(keyH)
	tm.Send(keyH)
	last := fmt.Sprintf("op%04d", n-1)
	s := waitScreen(t, tm, "the newest records", contains(fmt.Sprintf("%d newest records", DefaultAuditRecords), last))
	if !strings.HasPrefix(rowOf(s, last), ">") {
		t.Fatalf("the newest record is not selected first:\n%s", s)
	}
	tm.Send(keyRune('G'))
	oldest := fmt.Sprintf("op%04d", n-DefaultAuditRecords)
	waitScreen(t, tm, "the oldest record kept", func(s string) bool {
		return strings.HasPrefix(rowOf(s, oldest), ">") && strings.Contains(s, fmt.Sprintf("%d/%d", DefaultAuditRecords, DefaultAuditRecords))
	})
	fm := quit(t, tm)
	if fm.audit.Len() != DefaultAuditRecords || m.audit.recs[0].Who != last {
		t.Fatalf("kept %d records, newest %q", fm.audit.Len(), m.audit.recs[0].Who)
	}
}

// A feed without an audit trail says so instead of an empty list.
func TestHistoryAuditWithoutTrail(t *testing.T) {
	m := New(nil, Options{})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	m.Update(keyH)
	m.Update(keyH)
	if s := m.View().Content; !strings.Contains(s, "this feed has no audit trail") {
		t.Fatalf("screen:\n%s", s)
	}
}
