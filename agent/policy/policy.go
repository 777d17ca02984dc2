package policy

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/calltop/calltop/feed"
)

// Policy defaults and fixed facts of the Realtime API.
const (
	// DefaultWarnAt is the fraction of a limit at which a warning is
	// published, unless Policy.WarnAt says otherwise.
	DefaultWarnAt = 0.8
	// SessionCap is OpenAI's maximum session duration: every Realtime
	// session ends 60 minutes after it was created (session.expires_at),
	// with error session_expired and close 1001.
	SessionCap = 60 * time.Minute
	// LiveSessionCap is a GPT-Live session's: expires_at was observed 2 h
	// after creation (openai-realtime.md §8; inferred, not documented).
	LiveSessionCap = 2 * time.Hour
	// DefaultNearCap is how long before the cap a near_cap flag is raised.
	DefaultNearCap = 5 * time.Minute
	// DefaultSilence is how long a call may go without activity before a
	// silence flag is raised.
	DefaultSilence = 2 * time.Minute
	// BurnRateFactor times the price of a minute of continuous two-way
	// audio is the default burn-rate threshold.
	BurnRateFactor = 2.0
	// BurnRateWindow is the least time a burn rate is measured over: a
	// rate over a few seconds (one response right after the start) says
	// nothing about the call.
	BurnRateWindow = time.Minute
)

// Policy is the limits one call runs under and the abuse thresholds it is
// watched with. Zero values mean "no limit" for the limits (MaxSeconds,
// MaxTokens, MaxCostUSD, MaxConcurrent, MaxPerHour) and "the default" for
// the thresholds (WarnAt, BurnRateUSDPerMin, NearCap, Silence), where a
// negative value turns the signal off. Credits are not part of the policy:
// they are the user's, shared by all their calls (see Input.Credits).
type Policy struct {
	// MaxSeconds ends a call after this much wall time attached.
	MaxSeconds time.Duration
	// MaxTokens ends a call when its responses' total tokens reach it.
	MaxTokens int64
	// MaxCostUSD ends a call when its estimated cost reaches it.
	MaxCostUSD float64
	// WarnAt is the fraction of a limit at which a warning is published;
	// 0 means DefaultWarnAt. Must be in (0, 1].
	WarnAt float64
	// WrapUp, at the first warning, tells the model to wrap up (a system
	// message over the sideband, then a response). Off by default: it
	// changes the conversation.
	WrapUp bool
	// MaxConcurrent refuses a user's call while the user has this many
	// live calls (429).
	MaxConcurrent int
	// MaxPerHour refuses a user's call when the user started this many in
	// the last hour (429).
	MaxPerHour int
	// BurnRateUSDPerMin flags a call spending faster than this. 0 derives
	// it from the model's prices: BurnRateFactor × one minute of
	// continuous two-way audio (600 audio tokens in, 1200 out), $0.19/min
	// for gpt-realtime. Negative: off.
	BurnRateUSDPerMin float64
	// BurnWindow is the least time a burn rate is measured over (0:
	// BurnRateWindow). Shorter reacts faster and flags short bursts.
	BurnWindow time.Duration
	// NearCap flags a call this long before OpenAI's 60-minute cap;
	// 0 means DefaultNearCap, negative off.
	NearCap time.Duration
	// Silence flags a call without activity (speech or response) for this
	// long; 0 means DefaultSilence, negative off.
	Silence time.Duration
	// CreditsUnavailable says what to do when the user's credit cannot be
	// read (the credit store is down): CreditsRefuse (the default) refuses
	// new calls with 503 and lets calls OpenAI already has run, flagged,
	// until the credit can be read; CreditsAllow admits new calls too;
	// CreditsHangup refuses new calls and cuts the others. Either way the
	// state is a flag on the call and on the agent, never only a log line.
	CreditsUnavailable string
}

// What to do when credits cannot be read (Policy.CreditsUnavailable).
const (
	CreditsAllow  = "allow"
	CreditsRefuse = "refuse"
	CreditsHangup = "hangup"
)

// CreditsUnavailableMode is CreditsUnavailable with its default filled
// in: CreditsRefuse when unset.
func (p Policy) CreditsUnavailableMode() string {
	if p.CreditsUnavailable == "" {
		return CreditsRefuse
	}
	return p.CreditsUnavailable
}

// Validate says what is wrong with p, naming the field, so a bad policy is
// refused when it is configured rather than misread while calls run.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, why string, v any) { errs = append(errs, fmt.Errorf("%s: %s (got %v)", field, why, v)) }
	if p.MaxSeconds < 0 {
		bad("max_seconds", "must be ≥ 0", p.MaxSeconds)
	}
	if p.MaxTokens < 0 {
		bad("max_tokens", "must be ≥ 0", p.MaxTokens)
	}
	if p.MaxCostUSD < 0 || math.IsNaN(p.MaxCostUSD) || math.IsInf(p.MaxCostUSD, 0) {
		bad("max_cost_usd", "must be a finite amount ≥ 0", p.MaxCostUSD)
	}
	if p.WarnAt < 0 || p.WarnAt > 1 || math.IsNaN(p.WarnAt) {
		bad("warn_at", "must be a fraction in (0, 1]", p.WarnAt)
	}
	if p.MaxConcurrent < 0 {
		bad("max_concurrent", "must be ≥ 0", p.MaxConcurrent)
	}
	if p.MaxPerHour < 0 {
		bad("max_per_hour", "must be ≥ 0", p.MaxPerHour)
	}
	if math.IsNaN(p.BurnRateUSDPerMin) || math.IsInf(p.BurnRateUSDPerMin, 0) {
		bad("burn_rate_usd_per_min", "must be a finite amount", p.BurnRateUSDPerMin)
	}
	switch p.CreditsUnavailable {
	case "", CreditsAllow, CreditsRefuse, CreditsHangup:
	default:
		bad("credits_unavailable", `must be "allow", "refuse" or "hangup"`, p.CreditsUnavailable)
	}
	return errors.Join(errs...)
}

// BurnWindowOrDefault is BurnWindow with its default filled in.
func (p Policy) BurnWindowOrDefault() time.Duration { return orDefault(p.BurnWindow, BurnRateWindow) }

func (p Policy) warnAt() float64 {
	if p.WarnAt <= 0 || p.WarnAt > 1 || math.IsNaN(p.WarnAt) {
		return DefaultWarnAt
	}
	return p.WarnAt
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Effective is the policy as it travels on started and usage events, with
// the user's credits at the call's start (nil: no credit limit).
func (p Policy) Effective(credits *feed.Micros) feed.EffectivePolicy {
	fp := feed.EffectivePolicy{
		MaxSeconds: p.MaxSeconds.Seconds(),
		MaxTokens:  p.MaxTokens,
		MaxCostUSD: p.MaxCostUSD,
		WarnAt:     p.warnAt(),
	}
	if credits != nil {
		c := credits.USD()
		fp.CreditsUSD = &c
	}
	return fp
}

// BurnThreshold is the $/min above which a call is flagged:
// BurnRateUSDPerMin if set, else BurnRateFactor × audioMinuteUSD, the
// price of one minute of continuous two-way audio for the call's model
// (agent.AudioMinuteUSD; 0 or less: the model has no price). ok is false
// when the signal is off or there is nothing to derive it from.
func (p Policy) BurnThreshold(audioMinuteUSD float64) (usdPerMin float64, ok bool) {
	switch {
	case p.BurnRateUSDPerMin > 0:
		return p.BurnRateUSDPerMin, true
	case p.BurnRateUSDPerMin < 0 || audioMinuteUSD <= 0:
		return 0, false
	}
	return BurnRateFactor * audioMinuteUSD, true
}

// CutDetail is the ended event's detail for a call cut at limit:
// "policy:max_tokens".
func CutDetail(limit feed.Limit) string { return "policy:" + string(limit) }
