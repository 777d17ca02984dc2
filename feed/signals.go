package feed

import "time"

// EffectivePolicy is the limits a call runs under, as the owning agent
// enforces them; zero means no limit. It is what travels on the wire (the
// "policy" field of started and usage events) so dashboards show budget
// left and a projected cut-off; the policy the agent is configured with,
// abuse thresholds and admission limits included, is policy.Policy.
type EffectivePolicy struct {
	MaxSeconds float64 `json:"max_seconds,omitempty"`
	MaxTokens  int64   `json:"max_tokens,omitempty"`
	MaxCostUSD float64 `json:"max_cost_usd,omitempty"`
	// CreditsUSD is what the user had left when the call started (nil: no
	// credit limit). The call ends when its cost reaches it.
	CreditsUSD *float64 `json:"credits_usd,omitempty"`
	// WarnAt is the fraction of a limit at which a warning is published
	// (default 0.8).
	WarnAt float64 `json:"warn_at,omitempty"`
}

// Limit names a limit in warnings and in policy end reasons
// ("policy:max_tokens").
type Limit string

// Limits.
const (
	LimitSeconds Limit = "max_seconds"
	LimitTokens  Limit = "max_tokens"
	LimitCost    Limit = "max_cost"
	LimitCredits Limit = "credits"
	// LimitCreditsUnavailable cuts a call whose user's credit cannot be
	// read, under the credits_unavailable "hangup" policy.
	LimitCreditsUnavailable Limit = "credits_unavailable"
)

// Warning says a call crossed the warning threshold of one limit.
type Warning struct {
	Limit   Limit   `json:"limit"`
	Used    float64 `json:"used"`
	Max     float64 `json:"max"`
	Message string  `json:"message,omitempty"`
}

// FlagKind names an abuse signal.
type FlagKind string

// Abuse signals.
const (
	FlagKeyUnclaimed FlagKind = "key_unclaimed"  // an ephemeral key expired without a call registered for it
	FlagKeyReused    FlagKind = "key_reused"     // a key claimed by more than one call
	FlagKeyOtherUser FlagKind = "key_other_user" // a call registered for another user than its key's
	FlagConcurrency  FlagKind = "concurrency"    // a user above the concurrency limit
	FlagBurnRate     FlagKind = "burn_rate"      // a call's $/min above the threshold
	FlagNearCap      FlagKind = "near_cap"       // a call approaching OpenAI's 60-minute cap
	FlagSilence      FlagKind = "silence"        // a long silence on an open call (idle cost)
	FlagZombie       FlagKind = "zombie"         // a call still billing after our hangup succeeded
	FlagAgentSilent  FlagKind = "agent_silent"   // reserved for dashboards: the owning agent stopped beating
	// FlagCreditsUnavailable: the user's credit could not be read when
	// the call started; the call runs as the credits_unavailable policy
	// says until the store answers again.
	FlagCreditsUnavailable FlagKind = "credits_unavailable"
	// FlagGap: for a while no agent read the call's sideband (it was
	// detached, or its owner died before another adopted it), so its
	// totals miss what OpenAI billed meanwhile (see Usage.Gaps).
	FlagGap FlagKind = "gap"
	// FlagAPIMismatch: a GPT-Live model on a Realtime call, or a Realtime
	// model on a Live session (the app mixed the two APIs up; OpenAI
	// refuses such a session with invalid_model, or it runs on a model the
	// app did not mean).
	FlagAPIMismatch FlagKind = "api_mismatch"
)

// Flag is one abuse signal with its evidence.
type Flag struct {
	Kind     FlagKind          `json:"kind"`
	Message  string            `json:"message,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
}

// Refusal is a call refused at admission, before OpenAI was contacted.
type Refusal struct {
	Mode   string `json:"mode"`   // relay, client_secret, sip
	Status int    `json:"status"` // the HTTP (or SIP) status answered
	Reason string `json:"reason"` // credits, concurrency, hourly, app
	Detail string `json:"detail,omitempty"`
}

// Heartbeat says an agent is alive and how many calls it owns; agents beat
// every HeartbeatInterval, so a dashboard can mark calls whose agent went
// silent and other agents can adopt them.
type Heartbeat struct {
	Calls     int       `json:"calls"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version,omitempty"`
	// Instance identifies this run of the agent: a name can be reused by
	// a restarted agent, an instance never is. Call ownership names it.
	Instance string `json:"instance,omitempty"`
	// Detached counts the agent's calls whose sideband is down.
	Detached int `json:"detached,omitempty"`
	// CreditsUnavailableSince is set while the credit store cannot be
	// read: credit limits then follow the credits_unavailable policy.
	CreditsUnavailableSince *time.Time `json:"credits_unavailable_since,omitempty"`
	// Outbox counts final records waiting for NATS to store them.
	Outbox int `json:"outbox,omitempty"`
}

// HeartbeatInterval is how often agents beat.
const HeartbeatInterval = 5 * time.Second

// Sideband states.
const (
	SidebandAttached = "attached"
	SidebandDetached = "detached"
)

// Sideband says whether the agent reads the call's sideband. Detached
// since Since: the socket dropped and re-attaching has not worked yet
// (Detail says why); the agent keeps trying for the call's whole life.
type Sideband struct {
	State  string    `json:"state"`
	Since  time.Time `json:"since"`
	Detail string    `json:"detail,omitempty"`
}

// Goodbye is an agent's last word when it stops cleanly. Calls it owned
// are either handed to another agent (Handoff) or left detached: the next
// agent to start adopts them.
type Goodbye struct {
	Instance string `json:"instance"`
	Calls    int    `json:"calls"`
	Handoff  bool   `json:"handoff"`
}
