package feed

import (
	"strings"
	"time"
)

// Summary is one call as `calltop ls --json` prints it: one object per
// line, stable field names for scripts.
type Summary struct {
	CallID    string  `json:"call_id"`
	User      string  `json:"user"`
	State     State   `json:"state"`
	Model     string  `json:"model"`
	API       API     `json:"api"` // "realtime" or "live"
	Agent     string  `json:"agent"`
	SessionID string  `json:"session_id,omitempty"`
	Seconds   float64 `json:"seconds"`
	// LiveSeconds and StandbySeconds are a GPT-Live session's billed
	// seconds (see Usage); BackendTokens its Responses backend's tokens.
	LiveSeconds    float64    `json:"live_seconds,omitempty"`
	StandbySeconds float64    `json:"standby_seconds,omitempty"`
	BackendTokens  *Tokens    `json:"backend_tokens,omitempty"`
	Responses      int        `json:"responses"`
	Tokens         Tokens     `json:"tokens"`
	CostUSD        float64    `json:"cost_usd"`
	CostUnknown    bool       `json:"cost_unknown,omitempty"`
	EndReason      Reason     `json:"end_reason"`
	EndDetail      string     `json:"end_detail,omitempty"`
	EndedBy        string     `json:"ended_by,omitempty"`
	StartedAt      time.Time  `json:"started_at"`
	EndedAt        *time.Time `json:"ended_at"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	// DetachedSince is when a detached call's sideband dropped; Detail
	// why it is not back yet.
	DetachedSince *time.Time `json:"detached_since,omitempty"`
	DetachDetail  string     `json:"detach_detail,omitempty"`
	// GapSeconds is how long no agent read the call's sideband (see
	// Usage.Gaps): usage OpenAI billed then is not in these totals.
	GapSeconds float64          `json:"gap_seconds,omitempty"`
	Policy     *EffectivePolicy `json:"policy,omitempty"`
	Warnings   []Warning        `json:"warnings,omitempty"`
	Flags      []Flag           `json:"flags,omitempty"`
}

// Summarize returns c as of now.
func (c *Call) Summarize(now time.Time) Summary {
	s := Summary{
		CallID: c.ID, User: c.User, State: c.State, Model: c.Model, API: c.Kind(), Agent: c.Agent, SessionID: c.SessionID,
		Seconds:   float64(int64(c.Seconds(now)*10)) / 10,
		Responses: c.Usage.Responses, Tokens: c.Usage.Tokens,
		CostUSD: c.Usage.CostUSD, CostUnknown: c.Usage.CostUnknown,
		StartedAt: c.StartedAt.UTC(),
		Policy:    c.Policy, Warnings: c.Warnings, Flags: c.Flags,
		GapSeconds: float64(int64(c.Usage.GapSeconds*10)) / 10,
	}
	if s.API == APILive {
		s.LiveSeconds, s.StandbySeconds = c.Usage.LiveSeconds, c.Usage.StandbySeconds
		if t := c.Usage.BackendTokens; t != (Tokens{}) {
			s.BackendTokens = &t
		}
	}
	if c.State == StateDetached {
		t := c.DetachedSince.UTC()
		s.DetachedSince, s.DetachDetail = &t, c.DetachDetail
	}
	if !c.Live() {
		s.EndReason, s.EndDetail, s.EndedBy = c.End.Reason, c.End.Detail, c.End.By
		if c.End.Reason == ReasonPolicy && strings.HasPrefix(c.End.Detail, string(ReasonPolicy)+":") {
			// Name the limit where scripts look: "policy:max_tokens".
			s.EndReason = Reason(c.End.Detail)
		}
		t := c.EndedAt.UTC()
		s.EndedAt = &t
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt.UTC()
		s.ExpiresAt = &t
	}
	return s
}
