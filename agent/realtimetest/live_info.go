package realtimetest

import (
	"encoding/json"
	"slices"
	"time"
)

// LiveSessionInfo is the server's truth about one GPT-Live session, for
// tests that compare an agent's view with it.
type LiveSessionInfo struct {
	ID        string
	Model     string
	Transport string // "webrtc" (NewLiveSession, POST /v1/live/sessions) or "sip" (accepted SIP call)
	CreatedAt time.Time
	ExpiresAt time.Time       // CreatedAt + Options.LiveMaxDuration; session.started's expires_at is its Unix()
	Session   json.RawMessage // the configuration as the client sent it (the create body's session, the accept body); nil for NewLiveSession

	// MinimumBilledSeconds is what OpenAI bills a WebRTC session at
	// creation (15 s, credited once it runs); 0 for SIP. It never appears
	// on the sideband.
	MinimumBilledSeconds float64

	Started bool    // a sideband has attached and the script runs
	Updates int     // session.usage.updated events so far, delivered or not
	Seconds float64 // as LiveSeconds

	// Backend sums the delegated Responses completions that reached a
	// sideband, as LiveBackendUsage.
	BackendResponses                          int
	BackendInput, BackendOutput, BackendTotal int64
	BackendCached, BackendReasoning           int64

	AudioFrames int // reflected session.input_audio.append frames that reached a sideband

	// Appended are the instructions sidebands appended
	// (session.instructions.append's content) while the session was
	// live, oldest first: a test checks that a wrap-up reached the model
	// before a hangup.
	Appended []string

	Ended  bool
	Reason string // session.closed's reason once ended ("" after Server.Close)
}

// LiveSession returns what is known about a GPT-Live session; ok is false
// for unknown ids, Realtime calls and SIP calls not accepted as Live.
func (s *Server) LiveSession(id string) (info LiveSessionInfo, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[id]
	if c == nil || c.live == nil {
		return LiveSessionInfo{}, false
	}
	st := c.live
	info = LiveSessionInfo{
		ID:               c.id,
		Model:            st.cfg.model,
		Transport:        st.transport,
		CreatedAt:        c.created,
		ExpiresAt:        c.expires,
		Started:          !st.started.IsZero(),
		Updates:          st.updates,
		Appended:         slices.Clone(st.appended),
		Seconds:          st.seconds,
		BackendResponses: st.backend.responses,
		BackendInput:     st.backend.input,
		BackendOutput:    st.backend.output,
		BackendTotal:     st.backend.total,
		BackendCached:    st.backend.cachedInput,
		BackendReasoning: st.backend.reasoning,
		AudioFrames:      st.audioFrames,
		Ended:            c.ended,
		Reason:           st.reason,
	}
	if st.transport == "webrtc" {
		info.MinimumBilledSeconds = webRTCMinimumSeconds
	}
	if c.requested != nil {
		info.Session = append(json.RawMessage(nil), c.requested...)
	}
	return info, true
}
