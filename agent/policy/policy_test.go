package policy

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// realtimeAudioMinute is gpt-realtime's agent.AudioMinuteUSD: 600 audio
// tokens in at $32 and 1200 out at $64 per million.
const realtimeAudioMinute = (600*32 + 1200*64) / 1e6

func ptr[T any](v T) *T { return &v }

// credit is a balance of usd, for Input.Credits.
func credit(usd float64) *feed.Micros {
	m, err := feed.MicrosFromUSD(usd)
	if err != nil {
		panic(err)
	}
	return &m
}

// at is an Input for a call started at t0 and evaluated elapsed later, with
// activity just now, so only what a test sets raises anything.
func at(elapsed time.Duration) Input {
	now := t0.Add(elapsed)
	return Input{Now: now, Elapsed: elapsed, LastActivity: now, AudioMinuteUSD: realtimeAudioMinute, Model: "gpt-realtime"}
}

func TestEffective(t *testing.T) {
	p := Policy{MaxSeconds: 10 * time.Minute, MaxTokens: 200000, MaxCostUSD: 2.5}
	credits := 1_750_000 * feed.Microdollar
	got := p.Effective(&credits)
	credits = 0 // the effective policy keeps its own copy
	want := feed.EffectivePolicy{MaxSeconds: 600, MaxTokens: 200000, MaxCostUSD: 2.5, CreditsUSD: ptr(1.75), WarnAt: 0.8}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("effective: %+v, want %+v", got, want)
	}
	if got := (Policy{WarnAt: 0.5}).Effective(nil); got.CreditsUSD != nil || got.WarnAt != 0.5 {
		t.Fatalf("no credits: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (Policy{MaxSeconds: time.Minute, WarnAt: 1, BurnRateUSDPerMin: -1, NearCap: -1}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Policy{MaxTokens: -1, WarnAt: 1.5, MaxCostUSD: math.NaN(), MaxPerHour: -2}.Validate()
	for _, field := range []string{"max_tokens", "warn_at", "max_cost_usd", "max_per_hour"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error %v does not name %s", err, field)
		}
	}
}

func TestBurnThreshold(t *testing.T) {
	if math.Abs(realtimeAudioMinute-0.096) > 1e-12 {
		t.Fatalf("audio minute: %v", realtimeAudioMinute)
	}
	for _, tc := range []struct {
		p           Policy
		audioMinute float64
		want        float64
		ok          bool
	}{
		{Policy{}, realtimeAudioMinute, 0.192, true},
		{Policy{}, (600*10 + 1200*20) / 1e6, 2 * (600*10 + 1200*20) / 1e6, true},
		{Policy{}, 0, 0, false}, // a model without a price
		{Policy{BurnRateUSDPerMin: 1.5}, 0, 1.5, true},
		{Policy{BurnRateUSDPerMin: -1}, realtimeAudioMinute, 0, false},
	} {
		got, ok := tc.p.BurnThreshold(tc.audioMinute)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v %v: %v %v, want %v %v", tc.p, tc.audioMinute, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEvaluateLimits(t *testing.T) {
	p := Policy{MaxSeconds: 10 * time.Minute, MaxTokens: 1000, MaxCostUSD: 2, BurnRateUSDPerMin: -1}
	for _, tc := range []struct {
		name    string
		in      func() Input
		warn    []feed.Limit
		cut     feed.Limit
		message string
	}{
		{"nothing yet", func() Input { return at(time.Minute) }, nil, "", ""},
		{"seconds at 79%", func() Input { return at(474 * time.Second) }, nil, "", ""},
		{"seconds at 80%", func() Input { return at(480 * time.Second) }, []feed.Limit{feed.LimitSeconds}, "", "80% of max_seconds (480s of 600s)"},
		// A limit crossed without a warning first is warned with its cut.
		{"seconds at 100%", func() Input { return at(10 * time.Minute) }, []feed.Limit{feed.LimitSeconds}, feed.LimitSeconds, ""},
		{"seconds from usage", func() Input {
			in := at(0)
			in.Now, in.LastActivity = t0.Add(10*time.Minute), t0.Add(10*time.Minute)
			in.Usage.Seconds = 600
			return in
		}, []feed.Limit{feed.LimitSeconds}, feed.LimitSeconds, ""},
		{"tokens at 85%", func() Input { in := at(time.Minute); in.Usage.Tokens.Total = 850; return in }, []feed.Limit{feed.LimitTokens}, "", "85% of max_tokens (850 tokens of 1000 tokens)"},
		{"tokens over", func() Input { in := at(time.Minute); in.Usage.Tokens.Total = 1001; return in }, []feed.Limit{feed.LimitTokens}, feed.LimitTokens, ""},
		{"cost at 90%", func() Input { in := at(time.Minute); in.Usage.CostUSD = 1.8; return in }, []feed.Limit{feed.LimitCost}, "", "90% of max_cost ($1.8000 of $2.0000)"},
		{"cost unknown is not enforced", func() Input {
			in := at(time.Minute)
			in.Usage.CostUSD, in.Usage.CostUnknown, in.Credits = 5, true, credit(1.0)
			return in
		}, nil, "", ""},
		{"credits at 80%", func() Input { in := at(time.Minute); in.Credits = credit(1.0); in.Usage.CostUSD = 0.8; return in }, []feed.Limit{feed.LimitCredits}, "", ""},
		{"credits reached to the micro", func() Input { in := at(time.Minute); in.Credits = credit(0.5); in.Usage.CostUSD = 0.4999996; return in }, []feed.Limit{feed.LimitCredits}, feed.LimitCredits, ""},
		{"credits a micro short", func() Input { in := at(time.Minute); in.Credits = credit(0.5); in.Usage.CostUSD = 0.4999994; return in }, []feed.Limit{feed.LimitCredits}, "", ""},
		{"credits reached before max_cost", func() Input { in := at(time.Minute); in.Credits = credit(0.5); in.Usage.CostUSD = 0.5; return in }, []feed.Limit{feed.LimitCredits}, feed.LimitCredits, ""},
		{"no credit at the start", func() Input { in := at(0); in.Credits = credit(0); return in }, nil, feed.LimitCredits, ""},
		{"negative credit", func() Input { in := at(0); in.Credits = credit(-3); return in }, nil, feed.LimitCredits, ""},
		{"the furthest limit is cut, others warn", func() Input {
			in := at(10 * time.Minute)   // seconds 100%
			in.Usage.Tokens.Total = 1500 // tokens 150%
			in.Usage.CostUSD = 1.7       // cost 85%
			return in
		}, []feed.Limit{feed.LimitCost, feed.LimitTokens, feed.LimitSeconds}, feed.LimitTokens, ""},
	} {
		v := p.Evaluate(tc.in())
		var warned []feed.Limit
		for _, w := range v.Warn {
			warned = append(warned, w.Limit)
		}
		if !reflect.DeepEqual(warned, tc.warn) {
			t.Errorf("%s: warned %v, want %v", tc.name, warned, tc.warn)
		}
		if tc.message != "" && (len(v.Warn) == 0 || v.Warn[0].Message != tc.message) {
			t.Errorf("%s: warning %+v, want message %q", tc.name, v.Warn, tc.message)
		}
		switch {
		case tc.cut == "" && v.Cut != nil:
			t.Errorf("%s: cut %s", tc.name, *v.Cut)
		case tc.cut != "" && (v.Cut == nil || *v.Cut != tc.cut):
			t.Errorf("%s: cut %v, want %s", tc.name, v.Cut, tc.cut)
		}
		if len(v.Flags) != 0 || v.WrapUp {
			t.Errorf("%s: unexpected %+v", tc.name, v)
		}
	}
	if got := CutDetail(feed.LimitTokens); got != "policy:max_tokens" {
		t.Fatal(got)
	}
}

func TestEvaluateSaysThingsOnce(t *testing.T) {
	p := Policy{MaxSeconds: 10 * time.Minute, WrapUp: true}
	in := at(9 * time.Minute)
	v := p.Evaluate(in)
	if len(v.Warn) != 1 || !v.WrapUp || v.Cut != nil {
		t.Fatalf("first: %+v", v)
	}
	if again := p.Evaluate(in); !reflect.DeepEqual(again, v) {
		t.Fatalf("not deterministic: %+v then %+v", v, again)
	}
	in.Marks.Note(v)
	if v := p.Evaluate(in); !v.Empty() {
		t.Fatalf("after noting: %+v", v)
	}
	// A new warning later does not wrap up twice.
	p.MaxTokens = 100
	in.Usage.Tokens.Total = 90
	if v := p.Evaluate(in); len(v.Warn) != 1 || v.Warn[0].Limit != feed.LimitTokens || v.WrapUp {
		t.Fatalf("second warning: %+v", v)
	}
	// Off by default.
	if v := (Policy{MaxSeconds: 10 * time.Minute}).Evaluate(at(9 * time.Minute)); v.WrapUp {
		t.Fatal("wrap-up without the policy asking")
	}
	// Never when the call is being cut.
	if v := p.Evaluate(at(10 * time.Minute)); v.WrapUp || v.Cut == nil {
		t.Fatalf("cut: %+v", v)
	}
}

func flagKinds(v Verdict) []feed.FlagKind {
	var ks []feed.FlagKind
	for _, f := range v.Flags {
		ks = append(ks, f.Kind)
	}
	return ks
}

func TestEvaluateBurnRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		in   func() Input
		want bool
	}{
		{"too early to tell", Policy{}, func() Input { in := at(30 * time.Second); in.Usage.CostUSD = 5; return in }, false},
		{"below the derived $0.192", Policy{}, func() Input { in := at(2 * time.Minute); in.Usage.CostUSD = 0.38; return in }, false},
		{"above the derived $0.192", Policy{}, func() Input { in := at(2 * time.Minute); in.Usage.CostUSD = 0.40; return in }, true},
		{"expensive lately, cheap on average", Policy{}, func() Input {
			in := at(20 * time.Minute)
			in.Usage.CostUSD = 1.0 // $0.05/min since the start
			in.Window = &Sample{Elapsed: 19 * time.Minute, CostUSD: 0.7}
			return in
		}, true},
		{"window too short: since the start", Policy{}, func() Input {
			in := at(20 * time.Minute)
			in.Usage.CostUSD = 1.0
			in.Window = &Sample{Elapsed: 19*time.Minute + 30*time.Second, CostUSD: 0.7}
			return in
		}, false},
		{"explicit threshold", Policy{BurnRateUSDPerMin: 1}, func() Input { in := at(2 * time.Minute); in.Usage.CostUSD = 1.5; return in }, false},
		{"off", Policy{BurnRateUSDPerMin: -1}, func() Input { in := at(2 * time.Minute); in.Usage.CostUSD = 100; return in }, false},
		{"no price", Policy{}, func() Input {
			in := at(2 * time.Minute)
			in.Model, in.AudioMinuteUSD = "mystery", 0
			in.Usage.CostUSD = 100
			return in
		}, false},
	} {
		v := tc.p.Evaluate(tc.in())
		if got := slices.Contains(flagKinds(v), feed.FlagBurnRate); got != tc.want {
			t.Errorf("%s: flags %v, want burn_rate %v", tc.name, flagKinds(v), tc.want)
		}
	}
	in := at(2 * time.Minute)
	in.Usage.CostUSD = 1
	f := Policy{}.Evaluate(in).Flags[0]
	if f.Evidence["usd_per_min"] != "0.5000" || f.Evidence["threshold"] != "0.1920" || f.Evidence["window_seconds"] != "120" || f.Message != "$0.50/min above $0.19/min" {
		t.Fatalf("evidence: %+v", f)
	}
}

func TestEvaluateNearCapAndSilence(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		in   func() Input
		want []feed.FlagKind
	}{
		{"expiry far", Policy{}, func() Input { in := at(time.Minute); in.ExpiresAt = in.Now.Add(6 * time.Minute); return in }, nil},
		{"expiry near", Policy{}, func() Input { in := at(time.Minute); in.ExpiresAt = in.Now.Add(4 * time.Minute); return in }, []feed.FlagKind{feed.FlagNearCap}},
		{"expiry unknown: start + 60m", Policy{}, func() Input { return at(56 * time.Minute) }, []feed.FlagKind{feed.FlagNearCap}},
		{"near_cap off", Policy{NearCap: -1}, func() Input { return at(59 * time.Minute) }, nil},
		{"custom near_cap", Policy{NearCap: 10 * time.Minute}, func() Input { return at(51 * time.Minute) }, []feed.FlagKind{feed.FlagNearCap}},
		{"active", Policy{}, func() Input { return at(10 * time.Minute) }, nil},
		{"silent 3 min", Policy{}, func() Input { in := at(10 * time.Minute); in.LastActivity = in.Now.Add(-3 * time.Minute); return in }, []feed.FlagKind{feed.FlagSilence}},
		{"nothing since the start", Policy{}, func() Input { in := at(3 * time.Minute); in.LastActivity = time.Time{}; return in }, []feed.FlagKind{feed.FlagSilence}},
		{"young call", Policy{}, func() Input { in := at(time.Minute); in.LastActivity = time.Time{}; return in }, nil},
		{"silence off", Policy{Silence: -1}, func() Input { in := at(30 * time.Minute); in.LastActivity = time.Time{}; return in }, nil},
	} {
		if got := flagKinds(tc.p.Evaluate(tc.in())); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: flags %v, want %v", tc.name, got, tc.want)
		}
	}
	in := at(time.Minute)
	in.ExpiresAt = t0.Add(5 * time.Minute)
	in.LastActivity = t0
	in.Marks.Flagged = map[feed.FlagKind]bool{feed.FlagSilence: true}
	v := Policy{Silence: 30 * time.Second}.Evaluate(in)
	if len(v.Flags) != 1 || v.Flags[0].Evidence["remaining_seconds"] != "240" || v.Flags[0].Evidence["expires_at"] != "2026-11-29T10:05:00Z" {
		t.Fatalf("near cap evidence, silence already flagged: %+v", v.Flags)
	}
}
