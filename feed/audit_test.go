package feed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestAuditStreamIsAppendOnly(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := AuditRecord{Who: "alice@host", Action: AuditTerminate, CallID: "rtc_a", Reason: "abuse", Outcome: OutcomeDone, CostUSD: 0.25}
	if err := c.Audit(ctx, rec); err != nil { // creates the stream
		t.Fatal(err)
	}
	js, _ := jetstream.New(c.NC)
	s, err := js.Stream(ctx, c.Subjects.AuditStream())
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if !cfg.DenyDelete || !cfg.DenyPurge || cfg.AllowRollup || cfg.Duplicates < time.Hour {
		t.Fatalf("audit stream config: deny delete %v, deny purge %v, rollup %v, duplicates %s", cfg.DenyDelete, cfg.DenyPurge, cfg.AllowRollup, cfg.Duplicates)
	}
	if err := s.DeleteMsg(ctx, 1); err == nil {
		t.Fatal("a record was deleted")
	}
	if err := s.SecureDeleteMsg(ctx, 1); err == nil {
		t.Fatal("a record was erased")
	}
	if err := s.Purge(ctx); err == nil {
		t.Fatal("the trail was purged")
	}
	cfg.DenyDelete, cfg.DenyPurge = false, false
	if _, err := js.UpdateStream(ctx, cfg); err == nil {
		t.Fatal("the trail was made deletable again")
	}
	got, err := c.ReadAudit(ctx, AuditQuery{})
	if err != nil || len(got) != 1 || got[0].Who != "alice@host" || got[0].CostUSD != 0.25 || got[0].Seq != 1 || got[0].ID == "" {
		t.Fatalf("trail after the attempts: %+v %v", got, err)
	}
}

// An audit stream someone created by hand without the deny flags gets
// them.
func TestEnsureAuditStreamHardensExisting(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, _ := jetstream.New(c.NC)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: c.Subjects.AuditStream(), Subjects: []string{c.Subjects.Audits()}, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	s, err := c.EnsureAuditStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if !cfg.DenyDelete || !cfg.DenyPurge || cfg.MaxAge != time.Hour {
		t.Fatalf("hardened: %+v", cfg)
	}
}

// A retried publish of one record (its acknowledgement lost) is stored
// once.
func TestAuditRetryStoredOnce(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := c.AuditMessage(AuditRecord{Who: "policy:credits", Action: AuditTerminate, CallID: "rtc_b", Outcome: OutcomeDone})
	if err != nil {
		t.Fatal(err)
	}
	step := c.AuditStep(msg)
	for range 3 {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.ReadAudit(ctx, AuditQuery{})
	if err != nil || len(got) != 1 {
		t.Fatalf("%d records, want 1: %v", len(got), err)
	}
}

func TestReadAuditQueries(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got, err := c.ReadAudit(ctx, AuditQuery{Last: 5}); err != nil || len(got) != 0 {
		t.Fatalf("no stream: %v %v", got, err) // a missing trail is an empty one
	}
	old := time.Now().Add(-2 * time.Hour).UTC()
	n := 2*maxDirectBatch + 10 // more than one direct-get batch
	for i := range n {
		r := AuditRecord{Who: "ops", Action: AuditTerminate, CallID: "rtc_x", Outcome: OutcomeDone}
		if i < 10 {
			r.At = old // made long ago, stored now (an outbox after an outage)
		}
		if i == n-1 {
			r.Action, r.CallID, r.User = AuditCredits, "", "bob@example.com"
		}
		msg, err := c.AuditMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AuditStep(msg)(ctx); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.ReadAudit(ctx, AuditQuery{})
	if err != nil || len(all) != n {
		t.Fatalf("all: %d of %d: %v", len(all), n, err)
	}
	for i, r := range all {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	if last := all[n-1]; last.Action != AuditCredits || last.User != "bob@example.com" {
		t.Fatalf("last record: %+v", last)
	}
	recent, err := c.ReadAudit(ctx, AuditQuery{Since: time.Now().Add(-time.Hour)})
	if err != nil || len(recent) != n-10 {
		t.Fatalf("since an hour ago: %d records, want %d: %v", len(recent), n-10, err)
	}
	tail, err := c.ReadAudit(ctx, AuditQuery{Last: 3})
	if err != nil || len(tail) != 3 || tail[0].Seq != uint64(n-2) {
		t.Fatalf("last 3: %+v %v", tail, err)
	}
	after, err := c.ReadAudit(ctx, AuditQuery{After: uint64(n - 1), Last: 100})
	if err != nil || len(after) != 1 || after[0].Seq != uint64(n) {
		t.Fatalf("after %d: %+v %v", n-1, after, err)
	}
}

// A terminate nobody answers is recorded by the requester: "no owner",
// or "already ended" with the final cost when the call's final record is
// stored.
func TestTerminateUnansweredIsAudited(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc_nobody", Operator: "alice@host", Reason: "spam"}); !errors.Is(err, ErrNoOwner) {
		t.Fatalf("terminate: %v, want ErrNoOwner", err)
	}
	if _, err := c.EnsureFinalStream(ctx); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC()
	final, err := c.FinalMessage(Event{Kind: KindEnded, CallID: "rtc_over", Agent: "a1", At: end, Seq: 9,
		Start: &Start{User: "bob", Model: "gpt-realtime"}, Usage: &Usage{CostUSD: 1.5}, End: &End{Reason: ReasonHangup, EndedAt: end}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PublishStep(final, true, nil)(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc_over", Operator: "api", EndReason: ReasonApp}); !errors.Is(err, ErrNoOwner) {
		t.Fatalf("terminate: %v, want ErrNoOwner", err)
	}
	got, err := c.ReadAudit(ctx, AuditQuery{})
	if err != nil || len(got) != 2 {
		t.Fatalf("records: %+v %v", got, err)
	}
	if r := got[0]; r.Who != "alice@host" || r.CallID != "rtc_nobody" || r.Reason != "spam" || r.Outcome != OutcomeNoOwner || r.By != "feed-test" {
		t.Fatalf("no owner: %+v", r)
	}
	if r := got[1]; r.Who != "app:api" || r.Outcome != OutcomeAlreadyEnded || r.User != "bob" || r.CostUSD != 1.5 {
		t.Fatalf("already ended: %+v", r)
	}
}

func TestAuditMessageRefusesBadRecords(t *testing.T) {
	c, _ := newTestClient(t)
	for _, r := range []AuditRecord{
		{Who: "x", Action: AuditTerminate, CallID: "rtc.*", Outcome: OutcomeDone},
		{Who: "x", Action: AuditCredits, Outcome: OutcomeDone},
		{Who: "x", Action: "delete", CallID: "rtc_a", Outcome: OutcomeDone},
		{Action: AuditTerminate, CallID: "rtc_a", Outcome: OutcomeDone},
		{Who: "x", Action: AuditTerminate, CallID: "rtc_a"},
	} {
		if _, err := c.AuditMessage(r); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}
