package agent

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/calltop/calltop/feed"
)

// change says what one frame changed in an account.
type change uint8

const (
	// changedCost: the call's tokens or cost moved (a response or a
	// transcription counted): published at once, bursts coalesced.
	changedCost change = 1 << iota
	// changedCounters: only counters moved (speech seconds, errors,
	// skipped or unknown frames): they ride along with the next publish
	// or go out at a slow cadence.
	changedCounters
	changedSession
	sawExpired
	// changedMeter: a GPT-Live session's billed seconds moved; they go
	// out every LiveInterval (Config.LiveInterval).
	changedMeter
	// sawClosed: a GPT-Live session.closed, OpenAI's word that the
	// session is over (account.closed says why).
	sawClosed
)

// account is one call's accountant: it folds sideband frames into
// cumulative usage. Not safe for concurrent use; the call's mutex guards it.
type account struct {
	usage   feed.Usage
	session feed.Session
	// seen dedupes response.done by response id and input transcriptions
	// by item id (and content index), also across re-attaches: a sideband
	// attached again may be sent one it already counted.
	seen map[string]struct{}
	// speechStartMs is the audio_start_ms of the open user turn (-1: none).
	speechStartMs int64
	// agentSince is when the agent started speaking (zero: silent).
	agentSince time.Time
	// lastActivity is the last sign of conversation (speech, a response,
	// model audio), for the silence signal.
	lastActivity time.Time
	// transcriptionModel prices input transcription (from session.updated).
	transcriptionModel string
	// transcriptionUnpriced is set once a transcription could not be priced.
	transcriptionUnpriced bool
	prices                *Prices

	// live: a GPT-Live session, whose frames applyLive reads; webrtc: it
	// runs over WebRTC, which bills standby time and a creation minimum.
	live, webrtc bool
	// closed is session.closed's reason, once OpenAI said it.
	closed string
	// backendUnpriced is the last backend model without a price (its
	// tokens count, its cost does not).
	backendUnpriced string
}

func newAccount(prices *Prices) *account {
	return &account{seen: make(map[string]struct{}), speechStartMs: -1, prices: prices}
}

// apply accounts for one text frame received at now. It returns an error
// (and changes nothing but the skipped count) for a frame it cannot read.
func (a *account) apply(frame []byte, now time.Time) (change, error) {
	if a.live {
		return a.applyLive(frame, now)
	}
	typ, err := peekType(frame)
	if err != nil {
		a.usage.Skipped++
		return changedCounters, fmt.Errorf("frame: %w", err)
	}
	switch string(typ) {
	case "response.done", "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
		"output_audio_buffer.started", "output_audio_buffer.stopped":
		a.lastActivity = now
	}
	switch string(typ) {
	case "response.done":
		return a.responseDone(frame)
	case "session.updated", "session.created":
		s, err := decodeSession(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		if s.hasTranscription {
			a.transcriptionModel = s.transcriptionModel
		}
		next := feed.Session{SessionID: s.id, Model: s.model}
		if s.expiresAt > 0 {
			next.ExpiresAt = time.Unix(s.expiresAt, 0).UTC()
		}
		// session.updated repeats unchanged (the agent asks for it on
		// every attach, and the app's own updates echo it): publish only
		// what is news.
		if next == a.session {
			return 0, nil
		}
		a.session = next
		return changedSession, nil
	case "conversation.item.input_audio_transcription.completed":
		t, err := decodeTranscription(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		if t.usage == nil {
			return 0, nil
		}
		if t.itemID != "" {
			key := "transcription:" + t.itemID + ":" + strconv.FormatInt(t.contentIndex, 10)
			if _, dup := a.seen[key]; dup {
				return 0, nil
			}
			a.seen[key] = struct{}{}
		}
		u := t.usage
		switch u.kind {
		case "tokens":
			a.usage.TranscriptionTokens += u.total
		case "duration":
			a.usage.TranscriptionSeconds += u.seconds
		}
		usd, ok := a.prices.TranscriptionCost(a.transcriptionModel, u.audioIn, u.textIn, u.output, u.seconds)
		a.usage.TranscriptionUSD += usd
		a.transcriptionUnpriced = a.transcriptionUnpriced || !ok
		return changedCost, nil
	case "input_audio_buffer.speech_started":
		ms, err := decodeSpeechMark(frame, "audio_start_ms")
		if err != nil {
			return a.skip(typ, err)
		}
		a.speechStartMs = ms
		return 0, nil
	case "input_audio_buffer.speech_stopped":
		end, err := decodeSpeechMark(frame, "audio_end_ms")
		if err != nil {
			return a.skip(typ, err)
		}
		if a.speechStartMs >= 0 && end > a.speechStartMs {
			a.usage.UserSpeechSeconds += float64(end-a.speechStartMs) / 1000
		}
		a.speechStartMs = -1
		return changedCounters, nil
	case "output_audio_buffer.started":
		if a.agentSince.IsZero() {
			a.agentSince = now
		}
		return 0, nil
	case "output_audio_buffer.stopped", "output_audio_buffer.cleared":
		if !a.agentSince.IsZero() {
			a.usage.AgentSpeechSeconds += now.Sub(a.agentSince).Seconds()
			a.agentSince = time.Time{}
			return changedCounters, nil
		}
		return 0, nil
	case "error":
		code, err := decodeErrorCode(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		a.usage.Errors++
		if code == "session_expired" {
			return changedCounters | sawExpired, nil
		}
		return changedCounters, nil
	}
	if !knownType(typ) {
		a.usage.Unknown++
		return changedCounters, nil
	}
	return 0, nil
}

// knownFamilies are the prefixes of every Realtime server event type in
// the API reference; the agent reads a few and skips the rest.
var knownFamilies = []string{"session.", "conversation.", "input_audio_buffer.", "output_audio_buffer.",
	"response.", "rate_limits.", "transcription_session.", "mcp_list_tools."}

// knownType reports whether typ is a Realtime server event type, without
// allocating.
func knownType(typ []byte) bool {
	for _, p := range knownFamilies {
		if len(typ) > len(p) && string(typ[:len(p)]) == p {
			return true
		}
	}
	return false
}

func (a *account) skip(typ []byte, err error) (change, error) {
	a.usage.Skipped++
	return changedCounters, fmt.Errorf("%s: %w", typ, err)
}

func (a *account) responseDone(frame []byte) (change, error) {
	r, err := decodeResponseDone(frame)
	if err != nil {
		return a.skip([]byte("response.done"), err)
	}
	if r.id != "" {
		if _, dup := a.seen[r.id]; dup {
			return 0, nil
		}
		a.seen[r.id] = struct{}{}
	}
	a.usage.Responses++
	if r.status != "" {
		if a.usage.ByStatus == nil {
			a.usage.ByStatus = make(map[string]int, 4)
		}
		a.usage.ByStatus[r.status]++
	}
	if r.reason != "" {
		if a.usage.ByReason == nil {
			a.usage.ByReason = make(map[string]int, 2)
		}
		a.usage.ByReason[r.reason]++
	}
	if r.usage != nil {
		a.usage.Tokens = a.usage.Tokens.Add(*r.usage)
	}
	return changedCost, nil
}

// snapshot returns the usage as of now, with wall seconds since start,
// agent speech still in progress, and the cost for model: responses plus
// transcription. The cost is unknown when either part has no price.
// Amounts are rounded to the micro-dollar and durations to the
// millisecond, what they mean and what the wire carries, so a call's live
// numbers, its final record and its charge are the same numbers.
func (a *account) snapshot(now, start time.Time, model string) feed.Usage {
	u := a.usage
	u.ByStatus = maps.Clone(a.usage.ByStatus)
	u.ByReason = maps.Clone(a.usage.ByReason)
	u.Seconds = now.Sub(start).Round(time.Millisecond).Seconds()
	if !a.agentSince.IsZero() {
		u.AgentSpeechSeconds += now.Sub(a.agentSince).Seconds()
	}
	u.AgentSpeechSeconds, u.UserSpeechSeconds = roundMs(u.AgentSpeechSeconds), roundMs(u.UserSpeechSeconds)
	u.TranscriptionSeconds, u.GapSeconds = roundMs(u.TranscriptionSeconds), roundMs(u.GapSeconds)
	if a.live {
		a.liveSnapshot(&u, model)
		return u
	}
	cost, ok := a.prices.Cost(model, &u)
	u.TranscriptionUSD = feed.RoundUSD(u.TranscriptionUSD)
	u.CostUSD, u.CostUnknown = feed.RoundUSD(cost+a.usage.TranscriptionUSD), !ok || a.transcriptionUnpriced
	return u
}

func roundMs(s float64) float64 {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).Seconds()
}
