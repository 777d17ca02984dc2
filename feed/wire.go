package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Schema 2 is the compact encoding of events: what a call-minute costs on
// NATS is mostly usage events, so each says only what it must. On a live
// subject the subject already names the call (or user, or agent) and the
// kind, so the payload does not; zero fields are left out; costs are
// integer micro-dollars and durations milliseconds (no float noise);
// times are unix milliseconds; tokens are the per-modality counts (totals
// are their sums). It is still JSON, readable with `nats sub`;
// docs/EVENTS.md has the field names. Records, which must stand alone
// (final records, webhook copies), are schema 2 with kind, call_id and
// user in the payload (RecordMessage). Schema 1 is the verbose form of
// agents before; it is still read.
const (
	VersionVerbose = 1 // every field, RFC 3339 times, float dollars; read, no longer written
	VersionCompact = 2 // what agents publish now
)

// wireEvent is a schema 2 payload.
type wireEvent struct {
	V         int              `json:"v"`
	Kind      Kind             `json:"kind,omitempty"`    // records only: live subjects say it
	CallID    string           `json:"call_id,omitempty"` // records only
	Term      uint64           `json:"term,omitempty"`    // absent: 1
	Seq       uint64           `json:"seq,omitempty"`
	At        int64            `json:"at"`
	Agent     string           `json:"agent,omitempty"`
	User      string           `json:"user,omitempty"`
	Start     *wireStart       `json:"start,omitempty"`
	Session   *wireSession     `json:"session,omitempty"`
	Usage     *wireUsage       `json:"usage,omitempty"`
	End       *wireEnd         `json:"end,omitempty"`
	Policy    *EffectivePolicy `json:"policy,omitempty"`
	Warning   *Warning         `json:"warning,omitempty"`
	Flag      *Flag            `json:"flag,omitempty"`
	Refusal   *Refusal         `json:"refusal,omitempty"`
	Heartbeat *wireHeartbeat   `json:"heartbeat,omitempty"`
	Sideband  *wireSideband    `json:"sideband,omitempty"`
	Goodbye   *Goodbye         `json:"goodbye,omitempty"`
	Flags     []Flag           `json:"flags,omitempty"`
	Warnings  []Warning        `json:"warnings,omitempty"`
}

type wireStart struct {
	User      string `json:"user,omitempty"`
	Model     string `json:"model,omitempty"`
	StartedAt int64  `json:"started_at"`
	API       API    `json:"api,omitempty"` // only "live": absent is Realtime
}

type wireSession struct {
	SessionID string `json:"session_id,omitempty"`
	Model     string `json:"model,omitempty"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
}

type wireEnd struct {
	Reason  Reason `json:"reason"`
	Detail  string `json:"detail,omitempty"`
	By      string `json:"by,omitempty"`
	EndedAt int64  `json:"ended_at"`
}

type wireSideband struct {
	State  string `json:"state"`
	Since  int64  `json:"since"`
	Detail string `json:"detail,omitempty"`
}

type wireHeartbeat struct {
	Calls                   int    `json:"calls"`
	StartedAt               int64  `json:"started_at"`
	Version                 string `json:"version,omitempty"`
	Instance                string `json:"instance,omitempty"`
	Detached                int    `json:"detached,omitempty"`
	CreditsUnavailableSince int64  `json:"credits_unavailable_since,omitempty"`
	Outbox                  int    `json:"outbox,omitempty"`
}

// wireUsage is Usage without what a reader can derive: token totals are
// sums of the per-modality counts (sent only when OpenAI's differ), the
// completed responses are the responses less the others, and seconds run
// from the start (sent only on ended, where they are final).
type wireUsage struct {
	Tok         *wireTokens    `json:"tok,omitempty"`
	Resp        int            `json:"resp,omitempty"`
	Status      map[string]int `json:"status,omitempty"` // all but completed
	Reason      map[string]int `json:"reason,omitempty"`
	TrTok       int64          `json:"tr_tok,omitempty"`
	TrMs        int64          `json:"tr_ms,omitempty"`
	TrCost      int64          `json:"tr_cost,omitempty"` // micro-dollars
	Ms          int64          `json:"ms,omitempty"`
	UserMs      int64          `json:"user_ms,omitempty"`
	AgentMs     int64          `json:"agent_ms,omitempty"`
	Cost        int64          `json:"cost,omitempty"` // micro-dollars
	CostUnknown bool           `json:"cost_unknown,omitempty"`
	Errors      int            `json:"errors,omitempty"`
	Skipped     int            `json:"skipped,omitempty"`
	Unknown     int            `json:"unknown,omitempty"`
	Gaps        int            `json:"gaps,omitempty"`
	GapMs       int64          `json:"gap_ms,omitempty"`
	LiveMs      int64          `json:"live_ms,omitempty"`    // GPT-Live billed seconds
	StandbyMs   int64          `json:"standby_ms,omitempty"` // GPT-Live standby seconds
	BeTok       *wireTokens    `json:"be_tok,omitempty"`     // GPT-Live backend tokens
	BeCost      int64          `json:"be_cost,omitempty"`    // micro-dollars
}

// wireTokens: it/ia/ii are input text/audio/image, ct/ca/ci their cached
// parts, ot/oa output text/audio; in, out, cached and total only when
// they are not the sums of those.
type wireTokens struct {
	IT     int64 `json:"it,omitempty"`
	IA     int64 `json:"ia,omitempty"`
	II     int64 `json:"ii,omitempty"`
	CT     int64 `json:"ct,omitempty"`
	CA     int64 `json:"ca,omitempty"`
	CI     int64 `json:"ci,omitempty"`
	OT     int64 `json:"ot,omitempty"`
	OA     int64 `json:"oa,omitempty"`
	In     int64 `json:"in,omitempty"`
	Out    int64 `json:"out,omitempty"`
	Cached int64 `json:"cached,omitempty"`
	Total  int64 `json:"total,omitempty"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Micro is a USD amount in whole micro-dollars, rounded half away from
// zero: what costs are on the wire and in records.
func Micro(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// RoundUSD rounds an amount to the micro-dollar, so every reader sees the
// same cost, and no float noise (1.8470285469999999).
func RoundUSD(usd float64) float64 { return float64(Micro(usd)) / 1e6 }

func durMs(seconds float64) int64 { return int64(math.Round(seconds * 1000)) }

func secs(ms int64) float64 { return float64(ms) / 1000 }

// compact encodes e in schema 2 for its live subject.
func compact(e *Event) ([]byte, error) { return encodeCompact(e, false) }

// encodeCompact encodes e in schema 2; a record also says its kind, call
// and user, so it reads on its own, wherever it was stored.
func encodeCompact(e *Event, record bool) ([]byte, error) {
	w := wireEvent{V: VersionCompact, Seq: e.Seq, At: ms(e.At), Policy: e.Policy, Warning: e.Warning,
		Flag: e.Flag, Refusal: e.Refusal, Goodbye: e.Goodbye, Flags: e.Flags, Warnings: e.Warnings}
	if e.Term != 1 {
		w.Term = e.Term
	}
	switch e.Scope() {
	case ScopeUser:
		w.User, w.Agent = e.User, e.Agent
	case ScopeAgent:
		w.Agent = e.Agent
	default:
		if record || e.Kind == KindStarted || e.Kind == KindEnded {
			w.Agent = e.Agent // the owner; other live call events leave it to them
		}
	}
	if record {
		w.Kind, w.CallID, w.User = e.Kind, e.CallID, e.User
	}
	if s := e.Start; s != nil {
		w.Start = &wireStart{User: s.User, Model: s.Model, StartedAt: ms(s.StartedAt)}
		if s.API == APILive {
			w.Start.API = APILive
		}
	}
	if s := e.Session; s != nil {
		w.Session = &wireSession{SessionID: s.SessionID, Model: s.Model, ExpiresAt: ms(s.ExpiresAt)}
	}
	if u := e.Usage; u != nil {
		w.Usage = compactUsage(u, e.Kind == KindEnded)
	}
	if x := e.End; x != nil {
		w.End = &wireEnd{Reason: x.Reason, Detail: x.Detail, By: x.By, EndedAt: ms(x.EndedAt)}
	}
	if h := e.Heartbeat; h != nil {
		w.Heartbeat = &wireHeartbeat{Calls: h.Calls, StartedAt: ms(h.StartedAt), Version: h.Version, Instance: h.Instance,
			Detached: h.Detached, Outbox: h.Outbox}
		if h.CreditsUnavailableSince != nil {
			w.Heartbeat.CreditsUnavailableSince = ms(*h.CreditsUnavailableSince)
		}
	}
	if s := e.Sideband; s != nil {
		w.Sideband = &wireSideband{State: s.State, Since: ms(s.Since), Detail: s.Detail}
	}
	return json.Marshal(w)
}

func compactUsage(u *Usage, final bool) *wireUsage {
	w := &wireUsage{Resp: u.Responses, Reason: u.ByReason, TrTok: u.TranscriptionTokens, TrMs: durMs(u.TranscriptionSeconds),
		TrCost: Micro(u.TranscriptionUSD), UserMs: durMs(u.UserSpeechSeconds), AgentMs: durMs(u.AgentSpeechSeconds),
		Cost: Micro(u.CostUSD), CostUnknown: u.CostUnknown, Errors: u.Errors, Skipped: u.Skipped, Unknown: u.Unknown,
		Gaps: u.Gaps, GapMs: durMs(u.GapSeconds)}
	if final {
		w.Ms = durMs(u.Seconds)
	}
	for s, n := range u.ByStatus {
		if s != "completed" {
			if w.Status == nil {
				w.Status = make(map[string]int, 2)
			}
			w.Status[s] = n
		}
	}
	w.Tok = compactTokens(u.Tokens)
	w.LiveMs, w.StandbyMs, w.BeTok, w.BeCost = durMs(u.LiveSeconds), durMs(u.StandbySeconds), compactTokens(u.BackendTokens), Micro(u.BackendUSD)
	return w
}

// compactTokens is t without its derivable sums; nil when t is zero.
func compactTokens(t Tokens) *wireTokens {
	if t == (Tokens{}) {
		return nil
	}
	wt := &wireTokens{IT: t.InputText, IA: t.InputAudio, II: t.InputImage, CT: t.CachedText, CA: t.CachedAudio,
		CI: t.CachedImage, OT: t.OutputText, OA: t.OutputAudio}
	in, out, cached := t.InputText+t.InputAudio+t.InputImage, t.OutputText+t.OutputAudio, t.CachedText+t.CachedAudio+t.CachedImage
	if t.Input != in {
		wt.In = t.Input
	}
	if t.Output != out {
		wt.Out = t.Output
	}
	if t.InputCached != cached {
		wt.Cached = t.InputCached
	}
	if t.Total != t.Input+t.Output {
		wt.Total = t.Total
	}
	return wt
}

// tokens restores the sums compactTokens left out.
func (t *wireTokens) tokens() Tokens {
	if t == nil {
		return Tokens{}
	}
	u := Tokens{InputText: t.IT, InputAudio: t.IA, InputImage: t.II, CachedText: t.CT, CachedAudio: t.CA,
		CachedImage: t.CI, OutputText: t.OT, OutputAudio: t.OA,
		Input: t.IT + t.IA + t.II, Output: t.OT + t.OA, InputCached: t.CT + t.CA + t.CI}
	if t.In != 0 {
		u.Input = t.In
	}
	if t.Out != 0 {
		u.Output = t.Out
	}
	if t.Cached != 0 {
		u.InputCached = t.Cached
	}
	u.Total = u.Input + u.Output
	if t.Total != 0 {
		u.Total = t.Total
	}
	return u
}

func (w *wireUsage) usage(t *wireTokens) *Usage {
	u := &Usage{Responses: w.Resp, ByReason: w.Reason, TranscriptionTokens: w.TrTok, TranscriptionSeconds: secs(w.TrMs),
		TranscriptionUSD: float64(w.TrCost) / 1e6, Seconds: secs(w.Ms), UserSpeechSeconds: secs(w.UserMs),
		AgentSpeechSeconds: secs(w.AgentMs), CostUSD: float64(w.Cost) / 1e6, CostUnknown: w.CostUnknown,
		Errors: w.Errors, Skipped: w.Skipped, Unknown: w.Unknown, Gaps: w.Gaps, GapSeconds: secs(w.GapMs)}
	if w.Resp > 0 {
		u.ByStatus = make(map[string]int, len(w.Status)+1)
		done := w.Resp
		for s, n := range w.Status {
			u.ByStatus[s] = n
			done -= n
		}
		if done > 0 {
			u.ByStatus["completed"] = done
		}
	}
	u.Tokens = t.tokens()
	u.LiveSeconds, u.StandbySeconds, u.BackendTokens, u.BackendUSD = secs(w.LiveMs), secs(w.StandbyMs), w.BeTok.tokens(), float64(w.BeCost)/1e6
	return u
}

// ErrNotEvent: a message on a subject that is not an event's.
var ErrNotEvent = errors.New("not an event subject")

// DecodeMsg parses and checks one message of the live state: schema 2,
// whose subject says the kind and whom it is about, or schema 1 (agents of
// the previous version), which says it all in the payload. It never
// panics on bad input and says what is wrong, so a consumer can count and
// skip it.
func (s Subjects) DecodeMsg(subject string, data []byte) (Event, error) {
	if strings.HasSuffix(subject, ".usage") {
		if e, ok, err := s.decodeUsageMsg(subject, data); ok {
			return e, err
		}
	}
	return s.decodeMsg(subject, data)
}

// decodeMsg is DecodeMsg's general path, for every kind and shape.
func (s Subjects) decodeMsg(subject string, data []byte) (Event, error) {
	w, e, done, err := readWire(data)
	if done {
		return e, err
	}
	if w.Kind != "" { // a record says whom it is about itself
		return w.event(Event{Kind: w.Kind, CallID: w.CallID, User: w.User})
	}
	if e, err = s.fromSubject(subject); err != nil {
		return Event{}, fmt.Errorf("decode event on %q: %w", subject, err)
	}
	return w.event(e)
}

// readWire reads a payload of either schema: an event of schema 1 comes
// back whole (done, or its error), one of schema 2 as its wire form.
func readWire(data []byte) (w wireEvent, e Event, done bool, err error) {
	if !bytes.HasPrefix(data, compactPrefix) {
		if e, v, err := decodeVerbose(data); v != VersionCompact {
			return wireEvent{}, e, true, err
		}
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return wireEvent{}, Event{}, true, fmt.Errorf("decode event: %w", err)
	}
	return w, Event{}, false, nil
}

// compactPrefix starts every schema 2 payload this package writes: the
// fast path past schema 1's decoding.
var compactPrefix = []byte(`{"v":2`)

// Decode parses and checks one event that says whom it is about: a record
// (schema 2 with its kind; final records, webhook copies) or any event of
// schema 1. A live event of schema 2 needs its subject: DecodeMsg. It
// never panics on bad input and says what is wrong, so a consumer can
// count and skip it.
func Decode(data []byte) (Event, error) {
	w, e, done, err := readWire(data)
	if done {
		return e, err
	}
	if w.Kind == "" {
		return Event{}, errors.New("decode event: a live event of schema 2 says its kind and call in its subject: DecodeMsg")
	}
	return w.event(Event{Kind: w.Kind, CallID: w.CallID, User: w.User})
}

// event is the Event w encodes, about what e says (kind, call or user).
func (w *wireEvent) event(e Event) (Event, error) {
	if w.V != VersionCompact {
		return Event{}, fmt.Errorf("decode event: schema version %d", w.V)
	}
	e.V, e.Seq, e.At, e.Agent, e.Policy, e.Warning, e.Flag = VersionCompact, w.Seq, fromMs(w.At), w.Agent, w.Policy, w.Warning, w.Flag
	e.Refusal, e.Goodbye, e.Flags, e.Warnings = w.Refusal, w.Goodbye, w.Flags, w.Warnings
	if e.Scope() == ScopeUser || e.User == "" {
		e.User = w.User
	}
	if e.Scope() == ScopeCall && e.Seq > 0 {
		e.Term = max(w.Term, 1)
	}
	if x := w.Start; x != nil {
		e.Start = &Start{User: x.User, Model: x.Model, StartedAt: fromMs(x.StartedAt), API: x.API}
	}
	if x := w.Session; x != nil {
		e.Session = &Session{SessionID: x.SessionID, Model: x.Model, ExpiresAt: fromMs(x.ExpiresAt)}
	}
	if x := w.Usage; x != nil {
		e.Usage = x.usage(x.Tok)
	}
	if x := w.End; x != nil {
		e.End = &End{Reason: x.Reason, Detail: x.Detail, By: x.By, EndedAt: fromMs(x.EndedAt)}
	}
	if x := w.Heartbeat; x != nil {
		e.Heartbeat = &Heartbeat{Calls: x.Calls, StartedAt: fromMs(x.StartedAt), Version: x.Version, Instance: x.Instance,
			Detached: x.Detached, Outbox: x.Outbox}
		if x.CreditsUnavailableSince != 0 {
			t := fromMs(x.CreditsUnavailableSince)
			e.Heartbeat.CreditsUnavailableSince = &t
		}
	}
	if x := w.Sideband; x != nil {
		e.Sideband = &Sideband{State: x.State, Since: fromMs(x.Since), Detail: x.Detail}
	}
	if err := e.check(); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}

// fromSubject reads the kind and whom an event is about from its subject:
// <prefix>.v1.call.<id>.<kind>[.<qualifier>], <prefix>.v1.user.<key>.<kind>[.…],
// <prefix>.v1.agent.<name>.<kind>.
func (s Subjects) fromSubject(subject string) (Event, error) {
	rest, ok := strings.CutPrefix(subject, s.prefix())
	if !ok {
		return Event{}, ErrNotEvent
	}
	if rest, ok = strings.CutPrefix(rest, ".v1."); !ok {
		return Event{}, ErrNotEvent
	}
	scope, rest, _ := strings.Cut(rest, ".")
	who, rest, _ := strings.Cut(rest, ".")
	kind, _, _ := strings.Cut(rest, ".")
	if who == "" || kind == "" {
		return Event{}, ErrNotEvent
	}
	e := Event{Kind: Kind(kind)}
	switch scope {
	case "call":
		e.CallID = who
	case "user", "agent":
	default:
		return Event{}, ErrNotEvent
	}
	return e, nil
}
