package feed

import (
	"context"
	"testing"
)

// TestSpendRetriedCountsOnce: a charge as the call spends that is retried
// (the answer was lost, or the process that sent it restarted and sends
// it again, or another agent adopted the call) never adds twice; a settle
// repeated never debits twice.
func TestSpendRetriedCountsOnce(t *testing.T) {
	cl, _ := newTestClient(t)
	ctx := context.Background()
	first, err := cl.Credits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Set(ctx, "ann", Dollar); err != nil {
		t.Fatal(err)
	}
	if err := first.Spend(ctx, "ann", "rtc_r1", 300_000); err != nil {
		t.Fatal(err)
	}
	// The same increment sent again with its message ID, as a retry after
	// a lost ack does: deduplicated by the stream.
	subj := cl.Subjects.CountSpend("ann", "rtc_r1")
	if v, err := first.counts.Add(ctx, subj, 300_000, "rtc_r1:300000"); err != nil || v != 300_000 {
		t.Fatalf("a retried increment: %d %v, want 300000 (counted once)", v, err)
	}
	// A process that lost its memory (a restart, an adopter) sends the
	// same total, then a higher one.
	again, err := cl.Credits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, total := range []Micros{300_000, 200_000, 450_000} {
		if err := again.Spend(ctx, "ann", "rtc_r1", total); err != nil {
			t.Fatal(err)
		}
	}
	if left, _, err := first.Available(ctx, "ann"); left != 550_000 || err != nil {
		t.Fatalf("available %s %v, want $0.55", left, err)
	}
	for range 2 {
		if err := again.Settle(ctx, "ann", "rtc_r1", 450_000); err != nil {
			t.Fatal(err)
		}
	}
	if b, _, _ := first.Balance(ctx, "ann"); b != 550_000 {
		t.Fatalf("balance %s after settling twice, want $0.55", b)
	}
	if left, _, _ := first.Available(ctx, "ann"); left != 550_000 {
		t.Fatalf("available %s after settling, want $0.55", left)
	}
	list, err := first.List(ctx)
	if err != nil || len(list) != 1 || list[0].LiveSpend != 0 {
		t.Fatalf("list %+v %v", list, err)
	}
}
