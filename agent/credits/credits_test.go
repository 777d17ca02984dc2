package credits

import (
	"context"
	"testing"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
)

func TestStoreCredits(t *testing.T) {
	_, cl := feedtest.RunNATS(t)
	ctx := context.Background()
	store, err := cl.Credits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var c Credits = FromStore(store)
	if _, ok, err := c.Remaining(ctx, "alice@example.com"); ok || err != nil {
		t.Fatalf("no entry: ok %v err %v", ok, err)
	}
	if _, err := store.Set(ctx, "alice@example.com", 2*feed.Dollar); err != nil {
		t.Fatal(err)
	}
	// Running totals: the same one twice, a lower one, a higher one.
	for _, total := range []feed.Micros{250_000, 500_000, 500_000, 400_000, 750_000} {
		if err := c.Charge(ctx, "alice@example.com", "rtc_a1", total); err != nil {
			t.Fatal(err)
		}
	}
	if left, ok, err := c.Remaining(ctx, "alice@example.com"); left != 1_250_000 || !ok || err != nil {
		t.Fatalf("remaining %v %v %v", left, ok, err)
	}
	// An adopter (another process: its own store) carries the call on
	// from the counter, not from zero.
	other, err := cl.Credits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adopter := FromStore(other)
	if err := adopter.Charge(ctx, "alice@example.com", "rtc_a1", 1_000_000); err != nil {
		t.Fatal(err)
	}
	if left, _, _ := c.Remaining(ctx, "alice@example.com"); left != 1_000_000 {
		t.Fatalf("after the adopter's charge: %v, want $1", left)
	}
	// Settled twice (the owner, then a retry by the adopter): once.
	for _, s := range []Credits{c, adopter} {
		if err := s.(Settler).Settle(ctx, "alice@example.com", "rtc_a1", 1_000_000); err != nil {
			t.Fatal(err)
		}
	}
	if b, _, _ := store.Balance(ctx, "alice@example.com"); b != 1_000_000 {
		t.Fatalf("balance after settling: %v", b)
	}
	if left, _, _ := c.Remaining(ctx, "alice@example.com"); left != 1_000_000 {
		t.Fatalf("remaining after settling: %v (the spend counted twice?)", left)
	}
}
