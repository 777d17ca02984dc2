package agent

import (
	"fmt"
	"time"

	"github.com/calltop/calltop/feed"
)

// applyLive accounts for one GPT-Live sideband frame received at now.
// Live usage is seconds, reported cumulatively (usage.seconds: the latest
// is the total, never a sum) and a last time, final, on session.closed,
// which also ends the session. Reflected audio, about fifty frames a
// second of base64 PCM, is recognised by its type and skipped without
// reading its payload.
func (a *account) applyLive(frame []byte, now time.Time) (change, error) {
	typ, err := peekType(frame)
	if err != nil {
		a.usage.Skipped++
		return changedCounters, fmt.Errorf("frame: %w", err)
	}
	switch string(typ) {
	case "session.input_audio.append", "session.output_audio.fixture.playing", "session.output_audio.fixture.played":
		return 0, nil
	case "session.input_transcript.delta", "session.output_transcript.delta", "decision.event",
		"decision.item.created", "session.commentary.appended":
		a.lastActivity = now
		return 0, nil
	case "session.started", "session.updated":
		f, err := decodeLive(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		return a.liveSession(f.session), nil
	case "session.usage.updated":
		f, err := decodeLive(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		// Cumulative: a lower or repeated figure (a re-attach, frames
		// out of order) changes nothing.
		if !f.hasSeconds || f.seconds <= a.usage.LiveSeconds {
			return 0, nil
		}
		a.usage.LiveSeconds = f.seconds
		return changedMeter, nil
	case "session.closed":
		f, err := decodeLive(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		ch := a.liveSession(f.session) | changedCost | sawClosed
		if f.hasSeconds {
			a.usage.LiveSeconds = f.seconds // final, as OpenAI bills it
		}
		a.closed = f.reason
		if a.closed == "" {
			a.closed = "unknown"
		}
		return ch, nil
	case "response.event":
		b, err := decodeBackend(frame)
		if err != nil {
			return a.skip(typ, err)
		}
		if b.usage == nil {
			return 0, nil
		}
		a.lastActivity = now
		if b.id != "" {
			key := "backend:" + b.id
			if _, dup := a.seen[key]; dup {
				return 0, nil
			}
			a.seen[key] = struct{}{}
		}
		a.usage.BackendTokens = a.usage.BackendTokens.Add(*b.usage)
		usd, ok := a.prices.BackendCost(b.model, *b.usage)
		a.usage.BackendUSD += usd
		if !ok {
			a.backendUnpriced = b.model
		}
		return changedCost, nil
	case "error":
		if _, err := decodeErrorCode(frame); err != nil {
			return a.skip(typ, err)
		}
		a.usage.Errors++
		return changedCounters, nil
	}
	if !knownLiveType(typ) {
		a.usage.Unknown++
		return changedCounters, nil
	}
	return 0, nil
}

// liveSession records what session.started (or .closed) says of the
// session.
func (a *account) liveSession(s liveSessionInfo) change {
	next := a.session
	if s.id != "" {
		next.SessionID = s.id
	}
	if s.model != "" {
		next.Model = s.model
	}
	if s.expiresAt > 0 {
		next.ExpiresAt = time.Unix(s.expiresAt, 0).UTC()
	}
	if next == a.session {
		return 0
	}
	a.session = next
	return changedSession
}

// liveFamilies are the prefixes of the Live sideband's server events
// (openai-realtime.md §8); info and error are whole types.
var liveFamilies = []string{"session.", "decision.", "response.", "transport."}

func knownLiveType(typ []byte) bool {
	if string(typ) == "info" {
		return true
	}
	for _, p := range liveFamilies {
		if len(typ) > len(p) && string(typ[:len(p)]) == p {
			return true
		}
	}
	return false
}

// liveSnapshot completes a Live session's usage as of now: standby is the
// time the session was open and not billed as audio (WebRTC only, once it
// has run; before, the creation minimum is what it costs), the
// cost its seconds at the model's rates plus its backend's tokens.
func (a *account) liveSnapshot(u *feed.Usage, model string) {
	if a.webrtc && u.LiveSeconds > 0 { // before it runs, the creation minimum is the bill
		u.StandbySeconds = roundMs(max(u.Seconds-u.LiveSeconds, 0))
	}
	u.LiveSeconds = roundMs(u.LiveSeconds)
	cost, ok := a.prices.LiveCost(model, u.LiveSeconds, u.StandbySeconds, a.webrtc)
	u.BackendUSD = feed.RoundUSD(u.BackendUSD)
	u.CostUSD, u.CostUnknown = feed.RoundUSD(cost+a.usage.BackendUSD), !ok
}

// liveEnd is how a Live session that OpenAI closed ended (reason of
// session.closed); own is the end our own hangup asked for, if any.
func liveEnd(reason string, own *feed.End, now time.Time) feed.End {
	var e feed.End
	switch reason {
	case "close_requested":
		if own != nil {
			return *own
		}
		e = feed.End{Reason: feed.ReasonHangup, Detail: "session.closed close_requested: the app or another client closed the session"}
	case "expired":
		e = feed.End{Reason: feed.ReasonExpired, Detail: "session.closed expired: hit GPT-Live's maximum session duration"}
	case "content":
		e = feed.End{Reason: feed.ReasonContent, Detail: "session.closed content: OpenAI's safety filter ended the session"}
	case "remote_hangup":
		e = feed.End{Reason: feed.ReasonHangup, Detail: "session.closed remote_hangup: the caller hung up"}
	case "connection_lost":
		e = feed.End{Reason: feed.ReasonGone, Detail: "session.closed connection_lost: the caller's connection dropped"}
	default:
		e = feed.End{Reason: feed.ReasonHangup, Detail: "session.closed " + feed.Printable(reason)}
	}
	if own != nil && reason != "close_requested" {
		// We asked, but OpenAI ended it for its own reason first: say
		// both.
		e.Detail += fmt.Sprintf(" (a hangup by %s was under way)", orDash(own.By))
	}
	e.EndedAt = now.UTC()
	return e
}
