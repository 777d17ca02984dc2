package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

func balance(t *testing.T, s *CreditStore, user string) Micros {
	t.Helper()
	m, ok, err := s.Balance(context.Background(), user)
	if err != nil || !ok {
		t.Fatalf("balance %s: %v, ok %v", user, err, ok)
	}
	return m
}

// settled checks that user's balance is want and that no charge is left
// pending in it.
func settled(t *testing.T, s *CreditStore, user string, want Micros) {
	t.Helper()
	d, _, err := s.get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if d.Balance != want || len(d.Pending) != 0 || len(d.legacyPending) != 0 {
		t.Fatalf("%s: balance %s, pending %v %v; want %s and nothing pending", user, d.Balance, d.Pending, d.legacyPending, want)
	}
}

func charge(t *testing.T, s *CreditStore, user, call string, total, wantDebited Micros) {
	t.Helper()
	got, err := s.Charge(context.Background(), user, call, total)
	if err != nil || got != wantDebited {
		t.Fatalf("charge %s %s total %s: debited %s, %v; want %s", user, call, total, got, err, wantDebited)
	}
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
	if _, err := s.Set(ctx, "alice@example.com", 5*Dollar); err != nil {
		t.Fatal(err)
	}
	e, err := s.Add(ctx, "alice@example.com", -1_250_001)
	if err != nil || e.Balance != 3_749_999 || e.User != "alice@example.com" || e.UpdatedAt.IsZero() {
		t.Fatalf("add: %+v, %v", e, err)
	}
	if _, err := s.Add(ctx, "bob.smith", 2*Dollar); err != nil { // Add creates
		t.Fatal(err)
	}
	if got := balance(t, s, "alice@example.com"); got != 3_749_999 {
		t.Fatalf("alice: %s", got)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].User != "alice@example.com" || list[0].Balance != 3_749_999 || list[1].User != "bob.smith" || list[1].Balance != 2*Dollar {
		t.Fatalf("list: %+v", list)
	}
	// A restarted process sees the same balances.
	if got := balance(t, another(t, c), "bob.smith"); got != 2*Dollar {
		t.Fatalf("bob from a second store: %s", got)
	}
	// The stored form: integer micro-dollars, and the float mirror that
	// agents of earlier versions read.
	raw, err := s.balances.Get(ctx, UserKey("alice@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(raw.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw.Value()), `"balance_micros":3749999,`) || stored["balance_usd"] != 3.749999 {
		t.Fatalf("stored %s", raw.Value())
	}
}

func TestCreditsBadInput(t *testing.T) {
	s, _ := newTestCredits(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "a", MaxMicros+1); !errors.Is(err, ErrMicrosRange) {
		t.Fatalf("set beyond the bound: %v", err)
	}
	if _, err := s.Add(ctx, "a", -MaxMicros-1); !errors.Is(err, ErrMicrosRange) {
		t.Fatalf("add beyond the bound: %v", err)
	}
	if _, err := s.Set(ctx, " ", 1); err == nil {
		t.Fatal("empty user accepted")
	}
	if _, ok, err := s.Balance(ctx, "a"); ok || err != nil {
		t.Fatalf("refused changes created an entry: %v %v", ok, err)
	}
	if _, err := s.Set(ctx, "a", Dollar); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, call string
		total      Micros
	}{{"a", "rtc.bad", 1}, {"a", "", 1}, {"a", "rtc_ok", -1}, {"a", "rtc_ok", MaxMicros + 1}, {"", "rtc_ok", 1}} {
		if debited, err := s.Charge(ctx, tc.user, tc.call, tc.total); err == nil || debited != 0 {
			t.Errorf("charge %q %q %s: %s, %v; want an error", tc.user, tc.call, tc.total, debited, err)
		}
	}
	settled(t, s, "a", Dollar)
	if _, ok, _ := s.Charged(ctx, "rtc_ok"); ok {
		t.Fatal("a refused charge left a record")
	}
}

// TestCreditsAddOverflow: an add that would take a balance beyond the
// bound fails with a clear error and writes nothing, where float balances
// went to +Inf and then failed every later write.
func TestCreditsAddOverflow(t *testing.T) {
	s, _ := newTestCredits(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "bob", MaxMicros-Dollar); err != nil {
		t.Fatal(err)
	}
	before, err := s.balances.Get(ctx, UserKey("bob"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Add(ctx, "bob", 2*Dollar)
	if !errors.Is(err, ErrMicrosRange) || !strings.Contains(err.Error(), "credits add bob") {
		t.Fatalf("overflowing add: %v", err)
	}
	after, err := s.balances.Get(ctx, UserKey("bob"))
	if err != nil || after.Revision() != before.Revision() {
		t.Fatalf("the refused add wrote: revision %d -> %d (%v)", before.Revision(), after.Revision(), err)
	}
	if e, err := s.Add(ctx, "bob", Dollar); err != nil || e.Balance != MaxMicros {
		t.Fatalf("add up to the bound: %+v %v", e, err)
	}
	// A charge that would take a balance below the bound fails alike.
	if _, err := s.Set(ctx, "carol", -MaxMicros+1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Charge(ctx, "carol", "rtc_big", 2); !errors.Is(err, ErrMicrosRange) {
		t.Fatalf("overflowing charge: %v", err)
	}
	settled(t, s, "carol", -MaxMicros+1)
}

// TestCreditsEarlierVersionDocs reads documents written by versions that
// kept float USD: balances convert, charge records keep counting, and an
// unreadable balance is reported and can be replaced by Set.
func TestCreditsEarlierVersionDocs(t *testing.T) {
	s, _ := newTestCredits(t)
	ctx := context.Background()
	put := func(kv interface {
		Put(context.Context, string, []byte) (uint64, error)
	}, key, doc string) {
		t.Helper()
		if _, err := kv.Put(ctx, key, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	const at = `"2025-01-02T03:04:05Z"`
	put(s.balances, UserKey("old"), `{"user":"old","balance_usd":6.5,"updated_at":`+at+`}`)
	put(s.balances, UserKey("drift"), `{"user":"drift","balance_usd":0.30000000000000004,"updated_at":`+at+`}`)
	if got := balance(t, s, "old"); got != 6_500_000 {
		t.Fatalf("old balance: %s", got)
	}
	if got := balance(t, s, "drift"); got != 300_000 {
		t.Fatalf("drifted balance: %s", got)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[1].Balance != 6_500_000 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if e, err := s.Add(ctx, "old", 1); err != nil || e.Balance != 6_500_001 {
		t.Fatalf("add to an old entry: %+v %v", e, err)
	}
	if raw, err := s.balances.Get(ctx, UserKey("old")); err != nil || !strings.Contains(string(raw.Value()), `"balance_micros":6500001`) {
		t.Fatalf("rewritten: %s %v", raw.Value(), err)
	}

	// `credits add bob 1e308` under float balances.
	put(s.balances, UserKey("bob"), `{"user":"bob","balance_usd":1e308,"updated_at":`+at+`}`)
	if _, _, err := s.Balance(ctx, "bob"); err == nil || !strings.Contains(err.Error(), "credits set") {
		t.Fatalf("an out-of-range balance reads as %v", err)
	}
	if _, err := s.Add(ctx, "bob", 1); err == nil {
		t.Fatal("add to an unreadable balance")
	}
	if _, err := s.Charge(ctx, "bob", "rtc_bob", 1); err == nil {
		t.Fatal("charge to an unreadable balance")
	}
	if _, err := s.List(ctx); err == nil || !strings.Contains(err.Error(), `"bob"`) {
		t.Fatalf("list with an unreadable balance: %v", err)
	}
	if e, err := s.Set(ctx, "bob", 5*Dollar); err != nil || e.Balance != 5*Dollar {
		t.Fatalf("set over an unreadable balance: %+v %v", e, err)
	}

	// Charge records of earlier versions: whole amounts, applied or not.
	put(s.balances, UserKey("pat"), `{"user":"pat","balance_usd":10,"updated_at":`+at+`,"pending":{"rtc_old_pending":`+at+`,"rtc_old_done":`+at+`}}`)
	put(s.charges, "rtc_old_done", `{"call_id":"rtc_old_done","user":"pat","usd":0.75,"at":`+at+`,"applied":true}`)
	put(s.charges, "rtc_old_pending", `{"call_id":"rtc_old_pending","user":"pat","usd":0.5,"at":`+at+`,"applied":false}`)
	put(s.charges, "rtc_old_lost", `{"call_id":"rtc_old_lost","user":"pat","usd":0.25,"at":`+at+`,"applied":false}`)
	for call, want := range map[string]Micros{"rtc_old_done": 750_000, "rtc_old_pending": 500_000, "rtc_old_lost": 0} {
		if got, ok, err := s.Charged(ctx, call); got != want || !ok || err != nil {
			t.Errorf("charged %s: %s %v %v, want %s", call, got, ok, err, want)
		}
	}
	charge(t, s, "pat", "rtc_old_done", Dollar, 250_000)     // 0.75 was debited
	charge(t, s, "pat", "rtc_old_pending", 500_000, 0)       // debited, not marked: settled
	charge(t, s, "pat", "rtc_old_lost", 400_000, 400_000)    // recorded, never debited
	settled(t, s, "pat", 10*Dollar-250_000-400_000)          // the old debits were in the 10
	charge(t, s, "pat", "rtc_old_pending", 600_000, 100_000) // and counting goes on
	if got, _, _ := s.Charged(ctx, "rtc_old_pending"); got != 600_000 {
		t.Fatalf("charged: %s", got)
	}
}

// TestChargeCumulative charges a call's rising running total, as an agent
// does while the call runs and at its end: the balance ends debited by the
// highest total, once.
func TestChargeCumulative(t *testing.T) {
	s, c := newTestCredits(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "alice", Dollar); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Charged(ctx, "rtc_1"); ok || err != nil {
		t.Fatalf("charged before any charge: %v %v", ok, err)
	}
	charge(t, s, "alice", "rtc_1", 100_000, 100_000)
	charge(t, s, "alice", "rtc_1", 250_001, 150_001)
	charge(t, s, "alice", "rtc_1", 250_001, 0) // the same total: no change
	charge(t, s, "alice", "rtc_1", 200_000, 0) // lower: no refund
	s2 := another(t, c)                        // an adopter carries the total on
	charge(t, s2, "alice", "rtc_1", 750_000, 499_999)
	charge(t, s, "alice", "rtc_1", 750_000, 0) // the first agent, late
	settled(t, s, "alice", 250_000)
	if got, ok, err := s.Charged(ctx, "rtc_1"); got != 750_000 || !ok || err != nil {
		t.Fatalf("charged rtc_1: %s %v %v", got, ok, err)
	}
	// Balances go negative: a call's final cost can overshoot.
	charge(t, s, "alice", "rtc_2", 500_000, 500_000)
	settled(t, s, "alice", -250_000)
	if _, err := s.Set(ctx, "mallory", Dollar); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Charge(ctx, "mallory", "rtc_1", 2*Dollar); !errors.Is(err, ErrChargeConflict) {
		t.Fatalf("charge to another user: %v", err)
	}
	settled(t, s, "mallory", Dollar)
}

func TestChargeWithoutEntryChargesNothing(t *testing.T) {
	s, _ := newTestCredits(t)
	ctx := context.Background()
	charge(t, s, "free", "rtc_free", 3*Dollar, 0)
	if _, ok, _ := s.Balance(ctx, "free"); ok {
		t.Fatal("a charge gave an unlimited user a balance")
	}
	if _, ok, _ := s.Charged(ctx, "rtc_free"); ok {
		t.Fatal("a charge of an unlimited user left a record")
	}
}

var errCrash = errors.New("crash")

// TestChargeResumesAfterCrash stops a charge of $4 after each of its
// writes, as a crashed agent would, then two agents charge the call at
// once with a lower, the same or a higher total: the balance ends debited
// by the highest total whose debit landed, once, with nothing pending.
func TestChargeResumesAfterCrash(t *testing.T) {
	s, c := newTestCredits(t)
	ctx := context.Background()
	crasher := another(t, c)
	n := 0
	for _, crash := range []string{"recorded", "debited", "applied", "settled"} {
		landed := Micros(0) // what the crashed charge debited
		if crash != "recorded" {
			landed = 4 * Dollar
		}
		for _, resume := range []Micros{2 * Dollar, 4 * Dollar, 9 * Dollar} {
			n++
			user, call := fmt.Sprintf("u%d", n), fmt.Sprintf("rtc_crash_%d", n)
			if _, err := s.Set(ctx, user, 10*Dollar); err != nil {
				t.Fatal(err)
			}
			crasher.wrote = func(step string) error {
				if step == crash {
					return errCrash
				}
				return nil
			}
			took, err := crasher.Charge(ctx, user, call, 4*Dollar)
			if !errors.Is(err, errCrash) || took != landed {
				t.Fatalf("%s: the crashing charge: debited %s, %v", crash, took, err)
			}
			want := max(landed, resume)
			var wg sync.WaitGroup
			var sum atomic.Int64
			for _, st := range []*CreditStore{s, another(t, c)} {
				wg.Go(func() {
					took, err := st.Charge(ctx, user, call, resume)
					if err != nil {
						t.Errorf("%s, resume at %s: %v", crash, resume, err)
					}
					sum.Add(int64(took))
				})
			}
			wg.Wait()
			if got := Micros(sum.Load()); got != want-landed {
				t.Errorf("%s, resume at %s: the resumes debited %s, want %s", crash, resume, got, want-landed)
			}
			settled(t, s, user, 10*Dollar-want)
			if got, _, err := s.Charged(ctx, call); got != want || err != nil {
				t.Errorf("%s, resume at %s: charged %s %v, want %s", crash, resume, got, err, want)
			}
		}
	}
}

// TestChargeConcurrentOneCall has goroutines on several connections charge
// one call's interleaved rising totals while an operator adds credit: the
// balance ends debited by exactly the highest total, and the debits the
// Charges report add up to it.
func TestChargeConcurrentOneCall(t *testing.T) {
	s, c := newTestCredits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		writers = 8
		rounds  = 5
		step    = 10_007 // micro-dollars
		adds    = 10
	)
	if _, err := s.Set(ctx, "dan", 100*Dollar); err != nil {
		t.Fatal(err)
	}
	stores := []*CreditStore{s, another(t, c), another(t, c), another(t, c)}
	var sum atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for r := range rounds {
				total := Micros(r*writers+w+1) * step // writer w's totals rise and interleave with the others'
				took, err := st.Charge(ctx, "dan", "rtc_one", total)
				if err != nil {
					t.Errorf("writer %d total %s: %v", w, total, err)
				}
				sum.Add(int64(took))
			}
		})
	}
	for range adds {
		wg.Go(func() {
			if _, err := stores[1].Add(ctx, "dan", 1); err != nil {
				t.Errorf("add: %v", err)
			}
		})
	}
	wg.Wait()
	highest := Micros(rounds*writers) * step
	if got := Micros(sum.Load()); got != highest {
		t.Errorf("the charges report debits of %s, want %s", got, highest)
	}
	settled(t, s, "dan", 100*Dollar+adds-highest)
	if got, _, err := s.Charged(ctx, "rtc_one"); got != highest || err != nil {
		t.Fatalf("charged %s %v, want %s", got, err, highest)
	}
}

// TestChargeConcurrentCalls has several agents charge many calls of one
// user at once, each with a partial total and then its final one: the
// balance ends at exactly the start minus the sum of the final totals.
func TestChargeConcurrentCalls(t *testing.T) {
	s, c := newTestCredits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		agents = 4
		calls  = 16
	)
	if _, err := s.Set(ctx, "carol@example.com", 100*Dollar); err != nil {
		t.Fatal(err)
	}
	stores := []*CreditStore{s}
	for len(stores) < agents {
		stores = append(stores, another(t, c))
	}
	final := func(i int) Micros { return Micros(i%4+1)*250_000 + Micros(i) }
	var took [calls]atomic.Int64
	var wg sync.WaitGroup
	for _, st := range stores {
		for i := range calls {
			wg.Go(func() {
				call := fmt.Sprintf("rtc_c%02d", i)
				for _, total := range []Micros{final(i) / 3, final(i)} {
					d, err := st.Charge(ctx, "carol@example.com", call, total)
					if err != nil {
						t.Errorf("charge %s: %v", call, err)
					}
					took[i].Add(int64(d))
				}
			})
		}
	}
	wg.Wait()
	want := Micros(100 * Dollar)
	for i := range calls {
		want -= final(i)
		if got := Micros(took[i].Load()); got != final(i) {
			t.Errorf("call %d: the agents debited %s in all, want %s", i, got, final(i))
		}
	}
	settled(t, s, "carol@example.com", want)
}
