package credits

import (
	"context"
	"testing"

	"github.com/calltop/calltop/feed"
)

func TestStoreCredits(t *testing.T) {
	srv, err := feed.RunServer(feed.ServerOptions{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := feed.Connect(srv.ClientURL(), "policy-credits-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cl, err := feed.NewClient(nc, "")
	if err != nil {
		t.Fatal(err)
	}
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
}
