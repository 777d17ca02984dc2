package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestCredits(t *testing.T) (*CreditStore, *Client) {
	t.Helper()
	c, _ := newTestClient(t)
	s, err := c.Credits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// another opens the same store over a new connection, as a second agent
// (or the same agent after a restart) would.
func another(t *testing.T, c *Client) *CreditStore {
	t.Helper()
	nc, err := Connect(c.NC.ConnectedUrl(), "feed-test-2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c2, err := NewClient(nc, c.Subjects.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2.Credits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func balance(t *testing.T, s *CreditStore, user string) float64 {
	t.Helper()
	usd, ok, err := s.Balance(context.Background(), user)
	if err != nil || !ok {
		t.Fatalf("balance %s: %v, ok %v", user, err, ok)
	}
	return usd
}

func TestCreditsSetAddList(t *testing.T) {
	s, c := newTestCredits(t)
	ctx := context.Background()
	if got := c.Subjects.CreditsBucket(); got != c.Subjects.Stream()+"_CREDITS" {
		t.Fatalf("bucket %q", got)
	}
	if _, ok, err := s.Balance(ctx, "alice@example.com"); ok || err != nil {
		t.Fatalf("unknown user: ok %v err %v", ok, err)
	}
	if _, err := s.Set(ctx, "alice@example.com", 5); err != nil {
		t.Fatal(err)
	}
	e, err := s.Add(ctx, "alice@example.com", -1.25)
	if err != nil || e.BalanceUSD != 3.75 || e.User != "alice@example.com" || e.UpdatedAt.IsZero() {
		t.Fatalf("add: %+v, %v", e, err)
	}
	if _, err := s.Add(ctx, "bob.smith", 2); err != nil { // Add creates
		t.Fatal(err)
	}
	if got := balance(t, s, "alice@example.com"); got != 3.75 {
		t.Fatalf("alice: %v", got)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].User != "alice@example.com" || list[0].BalanceUSD != 3.75 || list[1].User != "bob.smith" || list[1].BalanceUSD != 2 {
		t.Fatalf("list: %+v", list)
	}
	// A restarted process sees the same balances.
	if got := balance(t, another(t, c), "bob.smith"); got != 2 {
		t.Fatalf("bob from a second store: %v", got)
	}
}

func TestCreditsBadInput(t *testing.T) {
	s, _ := newTestCredits(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "a", math.NaN()); err == nil {
		t.Fatal("NaN accepted")
	}
	if _, err := s.Add(ctx, "a", math.Inf(1)); err == nil {
		t.Fatal("Inf accepted")
	}
	if _, err := s.Set(ctx, " ", 1); err == nil {
		t.Fatal("empty user accepted")
	}
	if _, err := s.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		call string
		usd  float64
	}{{"rtc.bad", 1}, {"", 1}, {"rtc_ok", -1}, {"rtc_ok", math.NaN()}} {
		if _, err := s.Charge(ctx, "a", tc.call, tc.usd); err == nil {
			t.Errorf("charge %q %v accepted", tc.call, tc.usd)
		}
	}
	if got := balance(t, s, "a"); got != 1 {
		t.Fatalf("bad charges changed the balance: %v", got)
	}
}

func TestChargeOnce(t *testing.T) {
	s, c := newTestCredits(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "alice", 1); err != nil {
		t.Fatal(err)
	}
	charged, err := s.Charge(ctx, "alice", "rtc_1", 0.75)
	if err != nil || !charged {
		t.Fatalf("first charge: %v %v", charged, err)
	}
	// Again, also from another agent, also with another amount: no change.
	for _, st := range []*CreditStore{s, another(t, c)} {
		charged, err = st.Charge(ctx, "alice", "rtc_1", 0.5)
		if err != nil || charged {
			t.Fatalf("repeat charge: %v %v", charged, err)
		}
	}
	// Balances go negative: a call's final cost can overshoot.
	if charged, err = s.Charge(ctx, "alice", "rtc_2", 0.5); err != nil || !charged {
		t.Fatalf("second call: %v %v", charged, err)
	}
	if got := balance(t, s, "alice"); got != -0.25 {
		t.Fatalf("balance %v, want -0.25", got)
	}
	if usd, ok, err := s.Charged(ctx, "rtc_1"); usd != 0.75 || !ok || err != nil {
		t.Fatalf("charged rtc_1: %v %v %v", usd, ok, err)
	}
	if _, err := s.Set(ctx, "mallory", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Charge(ctx, "mallory", "rtc_1", 0.75); !errors.Is(err, ErrChargeConflict) {
		t.Fatalf("charge to another user: %v", err)
	}
}

func TestChargeWithoutEntryChargesNothing(t *testing.T) {
	s, _ := newTestCredits(t)
	ctx := context.Background()
	charged, err := s.Charge(ctx, "free", "rtc_free", 3)
	if err != nil || charged {
		t.Fatalf("charge: %v %v", charged, err)
	}
	if _, ok, _ := s.Balance(ctx, "free"); ok {
		t.Fatal("a charge gave an unlimited user a balance")
	}
}

// TestChargeResumesAfterCrash stops a charge after each of its writes, as
// a crashed agent would, and charges again: the debit happens exactly once.
func TestChargeResumesAfterCrash(t *testing.T) {
	s, c := newTestCredits(t)
	ctx := context.Background()
	for i, crash := range []string{"recorded", "debited", "marked"} {
		user := "u-" + crash
		call := fmt.Sprintf("rtc_crash_%d", i)
		if _, err := s.Set(ctx, user, 10); err != nil {
			t.Fatal(err)
		}
		rec := chargeDoc{CallID: call, User: user, USD: 4, At: time.Now().UTC()}
		data, _ := json.Marshal(rec)
		if _, err := s.charges.Create(ctx, call, data); err != nil {
			t.Fatal(err)
		}
		if crash != "recorded" {
			if _, err := s.debit(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		if crash == "marked" {
			rec.Applied = true
			data, _ := json.Marshal(rec)
			if _, err := s.charges.Put(ctx, call, data); err != nil {
				t.Fatal(err)
			}
		}
		// Two agents resume at once, with a different amount.
		s2 := another(t, c)
		var wg sync.WaitGroup
		for _, st := range []*CreditStore{s, s2} {
			wg.Go(func() {
				if charged, err := st.Charge(ctx, user, call, 9); err != nil || charged {
					t.Errorf("%s: resume: %v %v", crash, charged, err)
				}
			})
		}
		wg.Wait()
		d, _, err := s.get(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if d.BalanceUSD != 6 || len(d.Pending) != 0 {
			t.Errorf("%s: balance %v pending %v, want 6 and none", crash, d.BalanceUSD, d.Pending)
		}
		if after, _ := s.record(ctx, call); !after.Applied || after.USD != 4 {
			t.Errorf("%s: record %+v", crash, after)
		}
	}
}

// TestChargeConcurrent has several agents charge the same calls at once
// while an operator adds credit: every call is debited once and charged
// (true) by exactly one of them.
func TestChargeConcurrent(t *testing.T) {
	s, c := newTestCredits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		agents = 4
		calls  = 24
		adds   = 20
	)
	if _, err := s.Set(ctx, "carol@example.com", 100); err != nil {
		t.Fatal(err)
	}
	stores := []*CreditStore{s}
	for len(stores) < agents {
		stores = append(stores, another(t, c))
	}
	var wins [calls]atomic.Int32
	var wg sync.WaitGroup
	for _, st := range stores {
		for i := range calls {
			wg.Go(func() {
				// Amounts in quarters keep float sums exact.
				charged, err := st.Charge(ctx, "carol@example.com", fmt.Sprintf("rtc_c%02d", i), float64(i%4+1)/4)
				if err != nil {
					t.Errorf("charge %d: %v", i, err)
				}
				if charged {
					wins[i].Add(1)
				}
			})
		}
	}
	for range adds {
		wg.Go(func() {
			if _, err := stores[1].Add(ctx, "carol@example.com", 0.5); err != nil {
				t.Errorf("add: %v", err)
			}
		})
	}
	wg.Wait()
	var want float64 = 100 + adds*0.5
	for i := range calls {
		want -= float64(i%4+1) / 4
		if n := wins[i].Load(); n != 1 {
			t.Errorf("call %d charged by %d agents, want 1", i, n)
		}
	}
	d, _, err := s.get(ctx, "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if d.BalanceUSD != want || len(d.Pending) != 0 {
		t.Fatalf("balance %v (pending %v), want %v", d.BalanceUSD, d.Pending, want)
	}
}
