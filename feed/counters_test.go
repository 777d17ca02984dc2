package feed

import (
	"context"
	"testing"
)

// TestCounters: increments return totals, a retried message ID is counted
// once, a wildcard sums, a purge forgets.
func TestCounters(t *testing.T) {
	cl, _ := newTestClient(t)
	ctx := context.Background()
	k, err := cl.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := cl.Subjects
	a, b := s.CountLive("alice", "i1"), s.CountLive("alice", "i2")
	if v, err := k.Add(ctx, a, 1, ""); v != 1 || err != nil {
		t.Fatalf("add: %d %v", v, err)
	}
	if v, err := k.Add(ctx, a, 2, "x1"); v != 3 || err != nil {
		t.Fatalf("add: %d %v", v, err)
	}
	if v, err := k.Add(ctx, a, 2, "x1"); v != 3 || err != nil {
		t.Fatalf("retried add counted again: %d %v", v, err)
	}
	if _, err := k.Add(ctx, b, -1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Add(ctx, s.CountLive("bob", "i1"), 5, ""); err != nil {
		t.Fatal(err)
	}
	if sum, err := k.Sum(ctx, s.CountLiveOf("alice")); sum != 2 || err != nil {
		t.Fatalf("sum: %d %v", sum, err)
	}
	if sum, err := k.Sum(ctx, s.CountLiveOf("carol")); sum != 0 || err != nil {
		t.Fatalf("nobody's sum: %d %v", sum, err)
	}
	if err := k.Purge(ctx, s.CountLiveOn("i1")); err != nil {
		t.Fatal(err)
	}
	if sum, err := k.Sum(ctx, s.CountLiveOf("alice")); sum != -1 || err != nil {
		t.Fatalf("sum after purge: %d %v", sum, err)
	}
	if v, err := k.Load(ctx, s.CountLive("bob", "i1")); v != 0 || err != nil {
		t.Fatalf("purged: %d %v", v, err)
	}
	if got := s.UserKeyOfCount(s.CountSpend("alice", "rtc_1")); got != UserKey("alice") {
		t.Fatalf("user key of a count: %q", got)
	}
}
