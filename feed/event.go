package feed

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the schema version of the live events this package writes
// (VersionCompact); every event says its own ("v"). A consumer skips
// events of a version it does not know instead of misreading them. The
// "v1" in subjects is their layout, unchanged since schema 1.
const Version = VersionCompact

// Kind names what an event says about a call; it is also the last token of
// the event's subject.
type Kind string

// The kinds of call event.
const (
	// KindStarted: an agent began tracking the call (who, which model was asked for).
	KindStarted Kind = "started"
	// KindSession: the sideband told us the session's id, model and expiry.
	KindSession Kind = "session"
	// KindUsage: the call's cumulative usage changed.
	KindUsage Kind = "usage"
	// KindEnded: the call is over, with its reason and final usage.
	KindEnded Kind = "ended"
	// KindWarning: the call crossed the warning threshold of a limit.
	KindWarning Kind = "warning"
	// KindFlag: an abuse signal, on a call or (without call_id) on a user.
	KindFlag Kind = "flag"
	// KindRefused: a call was refused before OpenAI was contacted (user
	// events only: there is no call yet).
	KindRefused Kind = "refused"
	// KindHeartbeat: an agent is alive (agent events only).
	KindHeartbeat Kind = "heartbeat"
	// KindSideband: the call's sideband dropped (detached) or is back
	// (attached). A detached call goes on at OpenAI: it is still live,
	// metered by the clock and under its budget.
	KindSideband Kind = "sideband"
	// KindGoodbye: an agent stopped cleanly (agent events only); its calls
	// were handed to another agent, or left detached for the next one.
	KindGoodbye Kind = "goodbye"
)

// Kinds lists every kind this version publishes.
var Kinds = []Kind{KindStarted, KindSession, KindUsage, KindEnded, KindWarning, KindFlag, KindRefused, KindHeartbeat, KindSideband, KindGoodbye}

// Scope says which subject family an event belongs to.
type Scope int

// Event scopes.
const (
	ScopeCall  Scope = iota // <prefix>.v1.call.<call_id>.<kind>
	ScopeUser               // <prefix>.v1.user.<user key>.<kind>: no call (yet)
	ScopeAgent              // <prefix>.v1.agent.<agent>.<kind>
)

// Scope is where e is published: a call's events go on the call's subject;
// a flag or refusal without a call goes on its user's; heartbeats on the
// agent's.
func (e *Event) Scope() Scope {
	switch {
	case e.Kind == KindHeartbeat, e.Kind == KindGoodbye:
		return ScopeAgent
	case e.CallID == "" && (e.Kind == KindFlag || e.Kind == KindRefused):
		return ScopeUser
	}
	return ScopeCall
}

// Event is one message on a call subject. Exactly the payload matching Kind
// is set, except on ended events, which are the call's final record: they
// carry End and the final Usage, and also Start, Session, Policy, Flags and
// Warnings, so an ended event alone says everything about the call.
type Event struct {
	V      int    `json:"v"`
	Kind   Kind   `json:"kind"`
	CallID string `json:"call_id,omitempty"`
	// Term is the call's ownership term: 1 for the agent that first
	// tracked it, one more for every agent that took it over (handoff or
	// adoption after its owner died). Seq increases by one with every event
	// the owner publishes for the call in its term, whatever its kind. The
	// Board keeps the newest totals by (Term, Seq), so duplicates, losses,
	// reordering and a former owner that still publishes cannot corrupt
	// them. Events without a term (older agents) count as term 0.
	Term  uint64    `json:"term,omitempty"`
	Seq   uint64    `json:"seq,omitempty"`
	At    time.Time `json:"at"`
	Agent string    `json:"agent"`

	// User is set on user events (flag, refused without a call).
	User string `json:"user,omitempty"`

	Start     *Start           `json:"start,omitempty"`
	Session   *Session         `json:"session,omitempty"`
	Usage     *Usage           `json:"usage,omitempty"`
	End       *End             `json:"end,omitempty"`
	Policy    *EffectivePolicy `json:"policy,omitempty"` // on started and usage: the call's effective policy
	Warning   *Warning         `json:"warning,omitempty"`
	Flag      *Flag            `json:"flag,omitempty"`
	Refusal   *Refusal         `json:"refusal,omitempty"`
	Heartbeat *Heartbeat       `json:"heartbeat,omitempty"`
	Sideband  *Sideband        `json:"sideband,omitempty"`
	Goodbye   *Goodbye         `json:"goodbye,omitempty"`

	// Flags and Warnings are set on ended events only: every flag raised
	// on the call (the first of each kind) and the newest warning per
	// limit, for the final record.
	Flags    []Flag    `json:"flags,omitempty"`
	Warnings []Warning `json:"warnings,omitempty"`
}

// Newer reports whether an event at (term, seq) is newer than one at
// (haveTerm, haveSeq): a later owner's events win over an earlier
// owner's, whatever their sequence numbers.
func Newer(term, seq, haveTerm, haveSeq uint64) bool {
	if term != haveTerm {
		return term > haveTerm
	}
	return seq > haveSeq
}

// Start describes a call when tracking begins.
type Start struct {
	User      string    `json:"user,omitempty"`
	Model     string    `json:"model,omitempty"` // the model the app configured, if it said
	StartedAt time.Time `json:"started_at"`
	// API is the voice API the call runs on; empty (older agents) reads
	// as Realtime.
	API API `json:"api,omitempty"`
}

// Session is what the sideband's session.updated revealed.
type Session struct {
	SessionID string    `json:"session_id,omitempty"`
	Model     string    `json:"model,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Tokens are cumulative token counts of a call's responses. Input counts
// include cached tokens, as OpenAI reports them; the Cached* fields are the
// cached subset per modality.
type Tokens struct {
	Total       int64 `json:"total"`
	Input       int64 `json:"input"`
	Output      int64 `json:"output"`
	InputText   int64 `json:"input_text"`
	InputAudio  int64 `json:"input_audio"`
	InputImage  int64 `json:"input_image"`
	InputCached int64 `json:"input_cached"`
	CachedText  int64 `json:"input_cached_text"`
	CachedAudio int64 `json:"input_cached_audio"`
	CachedImage int64 `json:"input_cached_image"`
	OutputText  int64 `json:"output_text"`
	OutputAudio int64 `json:"output_audio"`
}

// Add returns the element-wise sum of t and u.
func (t Tokens) Add(u Tokens) Tokens {
	return Tokens{
		Total: t.Total + u.Total, Input: t.Input + u.Input, Output: t.Output + u.Output,
		InputText: t.InputText + u.InputText, InputAudio: t.InputAudio + u.InputAudio, InputImage: t.InputImage + u.InputImage,
		InputCached: t.InputCached + u.InputCached,
		CachedText:  t.CachedText + u.CachedText, CachedAudio: t.CachedAudio + u.CachedAudio, CachedImage: t.CachedImage + u.CachedImage,
		OutputText: t.OutputText + u.OutputText, OutputAudio: t.OutputAudio + u.OutputAudio,
	}
}

// Usage is a call's cumulative usage, as counted by its agent.
type Usage struct {
	Tokens Tokens `json:"tokens"`
	// Responses counts response.done events (each once, by response id);
	// ByStatus splits them by final status (completed, cancelled, …).
	Responses int            `json:"responses"`
	ByStatus  map[string]int `json:"by_status,omitempty"`
	// ByReason counts non-completed responses by status_details.reason
	// (turn_detected, client_cancelled, max_output_tokens, content_filter).
	ByReason map[string]int `json:"by_reason,omitempty"`
	// TranscriptionTokens and TranscriptionSeconds are input-transcription
	// usage, billed apart from responses at the transcription model's rates.
	TranscriptionTokens  int64   `json:"transcription_tokens,omitempty"`
	TranscriptionSeconds float64 `json:"transcription_seconds,omitempty"`
	// TranscriptionUSD is the part of CostUSD spent on input transcription,
	// priced by the transcription model.
	TranscriptionUSD float64 `json:"transcription_usd,omitempty"`
	// Seconds is wall time attached; UserSpeech and AgentSpeech are the
	// seconds each side spoke.
	Seconds            float64 `json:"seconds"`
	UserSpeechSeconds  float64 `json:"user_speech_seconds,omitempty"`
	AgentSpeechSeconds float64 `json:"agent_speech_seconds,omitempty"`
	// CostUSD is an estimate from the agent's price table. CostUnknown is set
	// when the model has no price: tokens still count, the cost is not zero
	// but unknown.
	CostUSD     float64 `json:"cost_usd"`
	CostUnknown bool    `json:"cost_unknown,omitempty"`
	// Errors counts OpenAI error events (non-fatal); Skipped counts frames the
	// agent could not read (malformed, binary, oversized).
	Errors  int `json:"errors,omitempty"`
	Skipped int `json:"skipped,omitempty"`
	// Unknown counts frames of event types this agent does not know (a
	// newer API); they are skipped, and a rising count says to upgrade.
	Unknown int `json:"unknown,omitempty"`
	// Gaps counts the stretches during which no agent read the call's
	// sideband: a detach, or an owner that died before another adopted
	// the call. OpenAI does not replay a sideband's events, so what it
	// billed in a gap is missing from these totals; GapSeconds is how long
	// the gaps lasted, so a reader knows how much is unaccounted.
	Gaps       int     `json:"gaps,omitempty"`
	GapSeconds float64 `json:"gap_seconds,omitempty"`

	// GPT-Live sessions are billed by the second, not by the token.
	// LiveSeconds is OpenAI's cumulative count of the session's billed
	// audio seconds (session.usage.updated, final on session.closed);
	// StandbySeconds the rest of the time the session was open, billed at
	// the standby rate over WebRTC. Both are zero on Realtime calls.
	LiveSeconds    float64 `json:"live_seconds,omitempty"`
	StandbySeconds float64 `json:"standby_seconds,omitempty"`
	// BackendTokens are the tokens of a Live session's delegated Responses
	// backend (response.event), billed apart at the backend model's
	// rates; BackendUSD is their part of CostUSD (zero when the backend
	// model has no price: the tokens still count).
	BackendTokens Tokens  `json:"backend_tokens,omitzero"`
	BackendUSD    float64 `json:"backend_usd,omitempty"`
}

// Reason says why a call ended.
type Reason string

// End reasons.
const (
	ReasonOperator Reason = "operator" // a person asked (dashboard or `calltop kill`)
	ReasonApp      Reason = "app"      // the app's backend asked (the sidecar's POST /v1/calls/{id}/hangup)
	ReasonPolicy   Reason = "policy"   // a budget or limit of the agent
	ReasonExpired  Reason = "expired"  // OpenAI's 60-minute cap (session_expired)
	ReasonHangup   Reason = "hangup"   // the sideband closed cleanly: the caller or the app hung up
	ReasonGone     Reason = "gone"     // OpenAI does not know the call (404/410 on attach or hangup)
	// ReasonContent: OpenAI closed a GPT-Live session for its content
	// (session.closed reason "content", a safety filter).
	ReasonContent Reason = "content"
	// ReasonError is kept for events of older agents, which ended a call
	// on an error close or failed attaches. Agents now end a call only
	// when OpenAI says it ended, and show it detached meanwhile.
	ReasonError Reason = "error"
)

// End says how and why a call ended.
type End struct {
	Reason  Reason    `json:"reason"`
	Detail  string    `json:"detail,omitempty"` // e.g. the close reason or the operator's text
	By      string    `json:"by,omitempty"`     // who asked: "user@host" for an operator
	EndedAt time.Time `json:"ended_at"`
}

// decodeVerbose parses and checks one event of schema 1. v is the
// version the payload says, so a schema 2 payload that does not start with
// {"v":2 (another writer's spacing) is read as schema 2.
func decodeVerbose(data []byte) (e Event, v int, err error) {
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, 0, fmt.Errorf("decode event: %w", err)
	}
	if e.V != VersionVerbose {
		return Event{}, e.V, fmt.Errorf("decode event: schema version %d, want %d or %d", e.V, VersionVerbose, VersionCompact)
	}
	if err := e.check(); err != nil {
		return Event{}, e.V, fmt.Errorf("decode event: %w", err)
	}
	return e, e.V, nil
}

// check verifies that e names what its scope needs and carries the payload
// its kind needs.
func (e *Event) check() error {
	switch e.Scope() {
	case ScopeCall:
		if err := ValidateCallID(e.CallID); err != nil {
			return err
		}
	case ScopeUser:
		if e.User == "" {
			return fmt.Errorf("%s without call_id or user", e.Kind)
		}
	case ScopeAgent:
		if e.Agent == "" {
			return fmt.Errorf("%s without agent", e.Kind)
		}
	}
	missing := false
	switch e.Kind {
	case KindStarted:
		missing = e.Start == nil
	case KindSession:
		missing = e.Session == nil
	case KindUsage:
		missing = e.Usage == nil
	case KindEnded:
		missing = e.End == nil
	case KindWarning:
		missing = e.Warning == nil
	case KindFlag:
		missing = e.Flag == nil
	case KindRefused:
		missing = e.Refusal == nil
	case KindHeartbeat:
		missing = e.Heartbeat == nil
	case KindSideband:
		missing = e.Sideband == nil
	case KindGoodbye:
		missing = e.Goodbye == nil
	default:
		return fmt.Errorf("%s: unknown kind %q", e.CallID, e.Kind)
	}
	if missing {
		return fmt.Errorf("%s/%s: no %s payload", e.CallID, e.Kind, e.Kind)
	}
	return nil
}
