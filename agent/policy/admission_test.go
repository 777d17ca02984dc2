package policy

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

func TestAdmitCredits(t *testing.T) {
	a := NewAdmission(nil)
	for _, tc := range []struct {
		credits *feed.Micros
		ok      bool
	}{{nil, true}, {ptr(feed.Microdollar), true}, {ptr(feed.Micros(0)), false}, {ptr(-2_500_000 * feed.Microdollar), false}} {
		ok, status, reason := a.Admit("u", t0, tc.credits)
		if ok != tc.ok || (!ok && (status != http.StatusPaymentRequired || reason != RefuseCredits)) || (ok && status != http.StatusOK) {
			t.Errorf("credits %v: %v %d %q", tc.credits, ok, status, reason)
		}
	}
	d := a.Decide("u", t0, ptr(-2_500_000*feed.Microdollar))
	if d.OK || d.Status != 402 || d.Reason != "credits" || d.Detail != "no credit left (-$2.50)" {
		t.Fatalf("refusal: %+v", d)
	}
}

func TestAdmitConcurrency(t *testing.T) {
	a := NewAdmission(func(user string) Policy {
		if user == "vip" {
			return Policy{}
		}
		return Policy{MaxConcurrent: 2}
	})
	for i := range 2 {
		if ok, _, _ := a.Admit("bob", t0, nil); !ok {
			t.Fatalf("call %d refused", i)
		}
	}
	if ok, status, reason := a.Admit("bob", t0, nil); ok || status != http.StatusTooManyRequests || reason != RefuseConcurrency {
		t.Fatalf("third call: %v %d %q", ok, status, reason)
	}
	if ok, _, _ := a.Admit("carol", t0, nil); !ok {
		t.Fatal("another user is limited by bob's calls")
	}
	for range 5 {
		if ok, _, _ := a.Admit("vip", t0, nil); !ok {
			t.Fatal("vip limited")
		}
	}
	a.Release("bob")
	if ok, _, _ := a.Admit("bob", t0, nil); !ok {
		t.Fatal("refused after a release")
	}
	if n := a.Live("bob"); n != 2 {
		t.Fatalf("live %d", n)
	}
}

func TestAdmitHourlyWindow(t *testing.T) {
	a := NewAdmission(func(string) Policy { return Policy{MaxPerHour: 3} })
	for _, m := range []int{0, 10, 20} {
		if ok, _, _ := a.Admit("dan", t0.Add(time.Duration(m)*time.Minute), nil); !ok {
			t.Fatalf("call at +%dm refused", m)
		}
		a.Release("dan") // short calls: only the hourly limit matters
	}
	if ok, status, reason := a.Admit("dan", t0.Add(59*time.Minute), nil); ok || status != 429 || reason != RefuseHourly {
		t.Fatalf("fourth call within the hour: %v %d %q", ok, status, reason)
	}
	// Exactly an hour after the first call, it has left the window.
	if ok, _, reason := a.Admit("dan", t0.Add(time.Hour), nil); !ok {
		t.Fatalf("call after the window slid: %q", reason)
	}
	if ok, _, _ := a.Admit("dan", t0.Add(time.Hour+time.Minute), nil); ok {
		t.Fatal("window forgot calls at +10m and +20m")
	}
}

func TestRegisterFlagsConcurrency(t *testing.T) {
	a := NewAdmission(func(string) Policy { return Policy{MaxConcurrent: 1} })
	if f := a.Register("eve", t0); f != nil {
		t.Fatalf("first call flagged: %+v", f)
	}
	f := a.Register("eve", t0)
	if f == nil || f.Kind != feed.FlagConcurrency || f.Evidence["live"] != "2" || f.Evidence["max_concurrent"] != "1" || f.Evidence["user"] != "eve" {
		t.Fatalf("second call: %+v", f)
	}
	if ok, _, reason := a.Admit("eve", t0, nil); ok || reason != RefuseConcurrency {
		t.Fatal("registered calls do not count for admission")
	}
	a.Release("eve")
	a.Release("eve")
	a.Release("eve") // one too many: ignored
	if n := a.Live("eve"); n != 0 {
		t.Fatalf("live %d", n)
	}
	a.Prune(t0.Add(30 * time.Minute))
	if len(a.users) != 1 {
		t.Fatal("pruned a user with calls in the last hour")
	}
	a.Prune(t0.Add(time.Hour))
	if len(a.users) != 0 {
		t.Fatalf("prune kept %d users", len(a.users))
	}
}

// TestAdmitConcurrentCallers races many admissions of one user: exactly
// MaxConcurrent get through until some are released.
func TestAdmitConcurrentCallers(t *testing.T) {
	a := NewAdmission(func(string) Policy { return Policy{MaxConcurrent: 10} })
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if ok, _, _ := a.Admit("flood", t0, nil); ok {
				admitted.Add(1)
			}
			a.Live("flood")
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != 10 {
		t.Fatalf("admitted %d, want 10", n)
	}
	for range 10 {
		wg.Go(func() { a.Release("flood") })
	}
	wg.Wait()
	if n := a.Live("flood"); n != 0 {
		t.Fatalf("live %d after releases", n)
	}
}

// TestRefusalCountsCalls: refusals and flags say "1 live call", "2
// calls", as a person would.
func TestRefusalCountsCalls(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{MaxConcurrent: 1}, "1 live call, at the limit of 1"},
		{Policy{MaxConcurrent: 2}, "2 live calls, at the limit of 2"},
		{Policy{MaxPerHour: 1}, "1 call in the last hour, at the limit of 1"},
		{Policy{MaxPerHour: 2}, "2 calls in the last hour, at the limit of 2"},
	} {
		a := NewAdmission(func(string) Policy { return tc.p })
		for a.Decide("u", t0, nil).OK {
		}
		if d := a.Decide("u", t0, nil); d.Detail != tc.want {
			t.Errorf("%+v: refusal %q, want %q", tc.p, d.Detail, tc.want)
		}
	}
	a := NewAdmission(func(string) Policy { return Policy{MaxConcurrent: 1} })
	a.Register("u", t0)
	if f := a.Register("u", t0); f == nil || f.Message != "2 live calls, above the limit of 1" {
		t.Errorf("flag %+v", f)
	}
	if got := Calls(0, "live") + ", " + Calls(1, "") + ", " + Calls(3, ""); got != "0 live calls, 1 call, 3 calls" {
		t.Errorf("Calls: %q", got)
	}
}
