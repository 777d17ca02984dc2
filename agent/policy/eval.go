package policy

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/calltop/calltop/feed"
)

// Sample is a call's cost at a moment of its life, kept by the caller so
// the burn rate is measured over a recent window rather than since the
// start (a call that turns expensive late is still caught).
type Sample struct {
	Elapsed time.Duration
	CostUSD float64
}

// Marks is what has been said about a call already: the limits warned,
// the flags raised, whether the model was told to wrap up. Each is said
// once per call. The caller keeps one Marks per call and folds every
// Verdict into it with Note.
type Marks struct {
	Warned    map[feed.Limit]bool
	Flagged   map[feed.FlagKind]bool
	WrappedUp bool
}

// Note records what v said, so the next evaluation does not say it again.
func (m *Marks) Note(v Verdict) {
	for _, w := range v.Warn {
		if m.Warned == nil {
			m.Warned = make(map[feed.Limit]bool, 4)
		}
		m.Warned[w.Limit] = true
	}
	for _, f := range v.Flags {
		if m.Flagged == nil {
			m.Flagged = make(map[feed.FlagKind]bool, 4)
		}
		m.Flagged[f.Kind] = true
	}
	if v.WrapUp {
		m.WrappedUp = true
	}
}

// Input is everything Evaluate looks at, so a decision can be replayed in
// a test: no clock, no I/O.
type Input struct {
	// Credits is what the call may spend in all: the user's credit left
	// now plus what this call was charged so far (the agent re-reads it
	// as any of the user's calls spend); nil: no credit limit. The call is
	// cut when its cost reaches it.
	Credits *feed.Micros
	// Usage is the call's cumulative usage, cost included.
	Usage feed.Usage
	// Elapsed is the wall time attached (0: Usage.Seconds).
	Elapsed time.Duration
	// Now is the evaluation time; the call started at Now − Elapsed.
	Now time.Time
	// ExpiresAt is session.expires_at; zero if not seen yet, and then the
	// cap is estimated as start + Cap.
	ExpiresAt time.Time
	// Cap is OpenAI's maximum session duration for the call's API:
	// SessionCap (Realtime) if zero, LiveSessionCap for GPT-Live.
	Cap time.Duration
	// LastActivity is the last sign of conversation: speech started or
	// stopped, a response done, model audio playing. Zero: the start.
	LastActivity time.Time
	// AudioMinuteUSD prices the burn-rate threshold when the policy does
	// not set one: the call's model's price of a minute of continuous
	// two-way audio (agent.AudioMinuteUSD); 0 when the model has no price.
	AudioMinuteUSD float64
	// Model names the call's model in a burn_rate flag's evidence.
	Model string
	// Window, if set, is an earlier sample: the burn rate is measured from
	// it when it is at least BurnRateWindow old, else since the start.
	Window *Sample
	// Marks is what has been said already.
	Marks Marks
}

// Verdict is what a call's policy says now.
type Verdict struct {
	// Warn lists limits newly past the warn threshold, the one cut
	// included when it was crossed without a warning first.
	Warn []feed.Warning
	// Cut is the limit reached (100 %): hang up with reason policy and
	// detail CutDetail(*Cut). When several are reached, the one furthest
	// past its limit.
	Cut *feed.Limit
	// Flags are abuse signals newly raised.
	Flags []feed.Flag
	// WrapUp asks to tell the model to wrap up: the policy wants it, a
	// warning is new and the model has not been told yet.
	WrapUp bool
}

// Empty reports whether v asks for nothing.
func (v Verdict) Empty() bool {
	return len(v.Warn) == 0 && v.Cut == nil && len(v.Flags) == 0 && !v.WrapUp
}

// measure is one limit's use against its maximum.
type measure struct {
	limit     feed.Limit
	used, max float64
	unit      string
}

// Evaluate applies p to one call as in describes it. It is a pure
// function: the caller publishes the warnings and flags, hangs up on Cut,
// and notes the verdict in its Marks.
//
// Limits: seconds against MaxSeconds, total tokens against MaxTokens, cost
// against MaxCostUSD and against the credits at the start. A limit warns
// once at WarnAt of its maximum and cuts at 100 %. Credits of zero or less
// cut at once. A model without a price (Usage.CostUnknown) has no cost, so
// max_cost and credits cannot be enforced for it: load a price table.
//
// Signals: burn_rate when the cost per minute, over the last
// BurnRateWindow or more (Input.Window) or else since the start once the
// call is that old, exceeds BurnThreshold; near_cap when OpenAI's
// cap (session.expires_at, or start + Input.Cap while unknown)
// is NearCap away or less; silence when nothing happened for Silence.
func (p Policy) Evaluate(in Input) Verdict {
	var v Verdict
	elapsed := in.Elapsed
	if elapsed == 0 {
		elapsed = time.Duration(in.Usage.Seconds * float64(time.Second))
	}
	warnAt := p.warnAt()
	var worst float64
	for _, m := range p.measures(in, elapsed) {
		frac := math.Inf(1)
		if m.max > 0 {
			frac = m.used / m.max
		}
		if frac >= 1 && (v.Cut == nil || frac > worst) {
			l := m.limit
			v.Cut, worst = &l, frac
		}
		// A limit crossed in one step (one response past 80 % and 100 %)
		// is still warned, with the cut: whoever listens for warnings
		// always hears one before the ended event.
		if frac >= warnAt && !in.Marks.Warned[m.limit] && m.max > 0 {
			v.Warn = append(v.Warn, feed.Warning{Limit: m.limit, Used: m.used, Max: m.max,
				Message: fmt.Sprintf("%d%% of %s (%s of %s)", int(frac*100), m.limit, m.fmt(m.used), m.fmt(m.max))})
		}
	}
	if v.Cut != nil {
		v.WrapUp = false
	} else if p.WrapUp && len(v.Warn) > 0 && !in.Marks.WrappedUp {
		v.WrapUp = true
	}
	start := in.Now.Add(-elapsed)
	for _, f := range []*feed.Flag{p.burnRate(in, elapsed), p.nearCap(in, start), p.silence(in, start)} {
		if f != nil && !in.Marks.Flagged[f.Kind] {
			v.Flags = append(v.Flags, *f)
		}
	}
	return v
}

// measures lists the limits p sets, in a fixed order (credits first: ties
// are cut as credits).
func (p Policy) measures(in Input, elapsed time.Duration) []measure {
	ms := make([]measure, 0, 4)
	costKnown := !in.Usage.CostUnknown
	if in.Credits != nil && costKnown {
		// The cost to the micro-dollar, as it is charged: the cut comes
		// when the charge would reach the credit.
		cost := in.Usage.CostUSD
		if m, err := feed.MicrosFromUSD(cost); err == nil {
			cost = m.USD()
		}
		ms = append(ms, measure{feed.LimitCredits, cost, in.Credits.USD(), "$"})
	}
	if p.MaxCostUSD > 0 && costKnown {
		ms = append(ms, measure{feed.LimitCost, in.Usage.CostUSD, p.MaxCostUSD, "$"})
	}
	if p.MaxTokens > 0 {
		ms = append(ms, measure{feed.LimitTokens, float64(in.Usage.Tokens.Total), float64(p.MaxTokens), "tokens"})
	}
	if p.MaxSeconds > 0 {
		ms = append(ms, measure{feed.LimitSeconds, elapsed.Seconds(), p.MaxSeconds.Seconds(), "s"})
	}
	return ms
}

func (m measure) fmt(x float64) string {
	switch m.unit {
	case "$":
		return fmt.Sprintf("$%.4f", x)
	case "s":
		return fmt.Sprintf("%.0fs", x)
	}
	return strconv.FormatFloat(x, 'f', 0, 64) + " " + m.unit
}

func (p Policy) burnRate(in Input, elapsed time.Duration) *feed.Flag {
	if in.Usage.CostUnknown {
		return nil
	}
	threshold, ok := p.BurnThreshold(in.AudioMinuteUSD)
	if !ok {
		return nil
	}
	from := Sample{}
	if w := in.Window; w != nil && elapsed-w.Elapsed >= p.BurnWindowOrDefault() {
		from = *w
	}
	window := elapsed - from.Elapsed
	if window < p.BurnWindowOrDefault() {
		return nil
	}
	rate := (in.Usage.CostUSD - from.CostUSD) / window.Minutes()
	if rate <= threshold {
		return nil
	}
	return &feed.Flag{Kind: feed.FlagBurnRate,
		Message: fmt.Sprintf("$%.2f/min above $%.2f/min", rate, threshold),
		Evidence: map[string]string{
			"usd_per_min":    strconv.FormatFloat(rate, 'f', 4, 64),
			"threshold":      strconv.FormatFloat(threshold, 'f', 4, 64),
			"window_seconds": strconv.FormatFloat(window.Seconds(), 'f', 0, 64),
			"cost_usd":       strconv.FormatFloat(in.Usage.CostUSD, 'f', 4, 64),
			"model":          in.Model,
		}}
}

func (p Policy) nearCap(in Input, start time.Time) *feed.Flag {
	ahead := orDefault(p.NearCap, DefaultNearCap)
	if ahead < 0 {
		return nil
	}
	limit := orDefault(in.Cap, SessionCap)
	capAt, source := in.ExpiresAt, "session.expires_at"
	if capAt.IsZero() {
		capAt, source = start.Add(limit), fmt.Sprintf("estimated: start + %dm", limit/time.Minute)
	}
	left := capAt.Sub(in.Now)
	if left > ahead {
		return nil
	}
	return &feed.Flag{Kind: feed.FlagNearCap,
		Message: fmt.Sprintf("%s left before OpenAI's %s cap", left.Round(time.Second), capName(limit)),
		Evidence: map[string]string{
			"expires_at":        capAt.UTC().Format(time.RFC3339),
			"remaining_seconds": strconv.FormatFloat(max(left.Seconds(), 0), 'f', 0, 64),
			"source":            source,
		}}
}

func (p Policy) silence(in Input, start time.Time) *feed.Flag {
	after := orDefault(p.Silence, DefaultSilence)
	if after < 0 {
		return nil
	}
	last := in.LastActivity
	if last.IsZero() {
		last = start
	}
	idle := in.Now.Sub(last)
	if idle < after {
		return nil
	}
	return &feed.Flag{Kind: feed.FlagSilence,
		Message: fmt.Sprintf("no speech or response for %s on an open call", idle.Round(time.Second)),
		Evidence: map[string]string{
			"silent_seconds": strconv.FormatFloat(idle.Seconds(), 'f', 0, 64),
			"last_activity":  last.UTC().Format(time.RFC3339),
		}}
}

// WrapUpInstructions is the system message that asks the model to end the
// conversation, for Policy.WrapUp: sent as a conversation.item.create
// (role system) followed by a response.create.
func WrapUpInstructions(w feed.Warning) string {
	return fmt.Sprintf("This conversation is about to reach its limit (%s). "+
		"In your next reply, briefly wrap up: summarise if useful, and say goodbye politely. Do not start new topics.", w.Message)
}

// capName names a session cap as messages say it: "60-minute", "2-hour".
func capName(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d-hour", d/time.Hour)
	}
	return fmt.Sprintf("%d-minute", d/time.Minute)
}
