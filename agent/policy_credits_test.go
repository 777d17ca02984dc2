package agent

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
	var c Credits = StoreCredits(store)
	if _, ok, err := c.Remaining(ctx, "alice@example.com"); ok || err != nil {
		t.Fatalf("no entry: ok %v err %v", ok, err)
	}
	if _, err := store.Set(ctx, "alice@example.com", 2); err != nil {
		t.Fatal(err)
	}
	for range 2 { // charged once however often
		if err := c.Charge(ctx, "alice@example.com", "rtc_a1", 0.5); err != nil {
			t.Fatal(err)
		}
	}
	if usd, ok, err := c.Remaining(ctx, "alice@example.com"); usd != 1.5 || !ok || err != nil {
		t.Fatalf("remaining %v %v %v", usd, ok, err)
	}
}
