package realtimetest

import (
	"math/rand/v2"
	"strings"
)

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	hexset = "0123456789abcdef"

	// opaqueLen is the length of the random part of event, item, response,
	// conversation and session ids in real traffic (e.g. "resp_CsZyL5IuqSgPEut0cI82K").
	opaqueLen = 21
)

// randFrom returns n characters drawn from set. IDs are never seeded: they
// only need to be unique, and the global math/rand/v2 source is safe for
// concurrent use and randomly seeded.
func randFrom(set string, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(set[rand.IntN(len(set))])
	}
	return b.String()
}

// newCallID returns a WebRTC call id shaped like the observed
// "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn".
func newCallID() string { return "rtc_u1_" + randFrom(alnum, 32) }

// newLiveSessionID returns a GPT-Live session id shaped like the observed
// "live_u1_…" (same form as a WebRTC call id).
func newLiveSessionID() string { return "live_u1_" + randFrom(alnum, 32) }

// sessionIDFor returns the session id behind a call: the same suffix with
// "sess_" (observed: rtc_u1_X ↔ sess_u1_X).
func sessionIDFor(callID string) string {
	return "sess_" + strings.TrimPrefix(callID, "rtc_")
}

// newEventID returns a server event id like "event_CsZyNdzXT4hWhvq6Pv8ad".
func newEventID() string { return "event_" + randFrom(alnum, opaqueLen) }

// newAudioBufferEventID returns the hex style observed on the sideband for
// output_audio_buffer.* events ("event_fd8cb17ab18a4a3f").
func newAudioBufferEventID() string { return "event_" + randFrom(hexset, 16) }

func newResponseID() string     { return "resp_" + randFrom(alnum, opaqueLen) }
func newItemID() string         { return "item_" + randFrom(alnum, opaqueLen) }
func newConversationID() string { return "conv_" + randFrom(alnum, opaqueLen) }
func newSessionID() string      { return "sess_" + randFrom(alnum, opaqueLen) }

// newEphemeralKey returns a client secret like "ek_68af296e8e408191a1120ab6383263c2".
func newEphemeralKey() string { return "ek_" + randFrom(hexset, 32) }

// newRequestID returns an X-Request-Id value.
func newRequestID() string { return "req_" + randFrom(hexset, 32) }
