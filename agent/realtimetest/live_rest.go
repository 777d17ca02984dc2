package realtimetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// handleLiveCreate serves POST /v1/live/sessions, the WebRTC create:
// {"session":{model, instructions, audio, delegation, …},
// "transport":{"type":"webrtc","sdp":"<offer>"}} with the standard key or
// an unexpired ephemeral key from /v1/realtime/client_secrets. It answers
// 201 with JSON {"session":{"id":"live_u1_…",…},"transport":{"type":
// "webrtc","sdp":"<answer>"}} and no Location header. The session's
// script paces usage at Options.LiveUsageEvery and reflects audio at
// Options.LiveAudioEvery; a session delegating to Responses reports a
// backend completion every fifth update.
func (s *Server) handleLiveCreate(w http.ResponseWriter, r *http.Request) {
	key := bearer(r)
	var sec *secret
	if key != s.opts.APIKey {
		if sec = s.secret(key); sec == nil {
			s.writeAuthError(w, key) // unknown, expired or not a key
			return
		}
	}
	body, ok := readJSON(w, r)
	if !ok {
		return
	}
	var req struct {
		Session   json.RawMessage `json:"session"`
		Transport *struct {
			Type *string `json:"type"`
			SDP  *string `json:"sdp"`
		} `json:"transport"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, errParam("invalid_type", "", "Invalid type in request body: "+err.Error()))
		return
	}
	p, aerr := parseLiveParams(req.Session, "session.")
	if aerr != nil {
		writeError(w, http.StatusBadRequest, *aerr)
		return
	}
	var offer string
	switch t := req.Transport; {
	case t == nil:
		writeError(w, http.StatusBadRequest, errParam("missing_required_parameter", "transport", "Missing required parameter: 'transport'."))
		return
	case t.Type != nil && *t.Type != "webrtc":
		writeError(w, http.StatusBadRequest, errParam("invalid_value", "transport.type", "Invalid value: '"+*t.Type+"'. Supported values are: 'webrtc'."))
		return
	case t.SDP == nil || strings.TrimSpace(*t.SDP) == "":
		writeError(w, http.StatusBadRequest, errParam("missing_required_parameter", "transport.sdp", "Missing required parameter: 'transport.sdp'."))
		return
	default:
		offer = *t.SDP
	}
	if !strings.HasPrefix(strings.TrimLeft(offer, " \t\r\n"), "v=0") {
		writeError(w, http.StatusBadRequest, errParam("invalid_offer", "transport.sdp", "Invalid SDP offer: an offer must start with 'v=0'."))
		return
	}

	cfg := p.config()
	id := s.newLive(newLiveSessionID(), s.liveScriptFor(cfg), cfg, "webrtc", req.Session)
	if sec != nil {
		s.mu.Lock()
		sec.calls = append(sec.calls, id)
		s.mu.Unlock()
	}
	var resp liveCreated
	resp.Session.ID, resp.Session.Object, resp.Session.Model = id, "live.session", cfg.model
	resp.Transport.Type, resp.Transport.SDP = "webrtc", sdpAnswer(offer)
	out, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(out)
}

// liveCreated is the 201 body of POST /v1/live/sessions (openai-go's
// LiveNewResponse, with the object and model the project's notes record).
type liveCreated struct {
	Session struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Model  string `json:"model"`
	} `json:"session"`
	Transport struct {
		Type string `json:"type"`
		SDP  string `json:"sdp"`
	} `json:"transport"`
}

// liveScriptFor is the script of a session created over REST or accepted
// over SIP: Options' pace, and backend completions only when the session
// delegates to Responses.
func (s *Server) liveScriptFor(cfg liveConfig) LiveScript {
	sc := LiveScript{Model: cfg.model, UsageEvery: s.opts.LiveUsageEvery, AudioEvery: s.opts.LiveAudioEvery}
	if cfg.delegatesToResponses() {
		sc.BackendResponses = 1 << 30 // one every fifth update, for as long as it runs
	}
	return sc.normalized()
}

// handleLiveHangup serves POST /v1/live/sessions/{session_id}/hangup: 200
// with an empty body for a live session, whose sidebands then get
// session.closed "close_requested" and close 1000; 404
// session_id_not_found for unknown, pending or ended sessions and for
// Realtime calls. Hangups counts it; Options.HangupStatus may fail it and
// Options.OnHangup hears of it, with the session id as callID.
func (s *Server) handleLiveHangup(w http.ResponseWriter, r *http.Request) {
	s.hangup(w, r, r.PathValue("session_id"), true)
}

// handleLiveAccept serves POST /v1/live/sessions/{session_id}/accept for a
// pending SIP call (IncomingLiveSIPCall, or IncomingSIPCall: the first
// accept on either surface decides). The body is openai-go's
// {"session":{"type":"live","model":"gpt-live-1",…}}, or the session
// object alone. A valid one is answered 200 with an empty body and the
// call becomes a live GPT-Live session under the same id: attach and
// hang up on the /v1/live paths. Unlike Realtime's accept, a session that
// does not validate (no model, a model that is not a GPT-Live model) gets
// 400 and the call stays pending. Anything but a pending SIP call gets 404
// session_id_not_found.
func (s *Server) handleLiveAccept(w http.ResponseWriter, r *http.Request) {
	c, body, ok := s.claimPending(w, r, r.PathValue("session_id"), errSessionNotFound)
	if !ok {
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, errBadJSON)
		return
	}
	raw, prefix := json.RawMessage(body), ""
	var wrapped struct {
		Session json.RawMessage `json:"session"`
	}
	if json.Unmarshal(body, &wrapped) == nil && len(wrapped.Session) > 0 {
		raw, prefix = wrapped.Session, "session."
	}
	p, aerr := parseLiveParams(raw, prefix)
	if aerr != nil {
		writeError(w, http.StatusBadRequest, *aerr)
		return
	}
	cfg := p.config()
	sc := s.liveScriptFor(cfg)

	s.mu.Lock()
	if !c.pending || c.ended { // a concurrent accept, reject or EndCall won
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, errSessionNotFound)
		return
	}
	now := time.Now()
	c.pending = false
	c.requested = append(json.RawMessage(nil), body...)
	c.sip.state, c.sip.accepted, c.sip.model, c.sip.live = SIPAccepted, true, cfg.model, true
	c.created, c.expires = now, now.Add(s.opts.LiveMaxDuration)
	c.live = &liveState{script: sc, transport: "sip", cfg: cfg}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.runLive(c)
	writeEmpty200(w)
}

// handleLiveReject serves POST /v1/live/sessions/{session_id}/reject with
// {"status_code":486} (a SIP status from 300 to 699; 603 if omitted): a
// pending SIP call is answered 200 with an empty body and ends, as with
// Realtime's reject. Anything but a pending SIP call gets 404
// session_id_not_found.
func (s *Server) handleLiveReject(w http.ResponseWriter, r *http.Request) {
	s.reject(w, r, r.PathValue("session_id"), 300, errSessionNotFound)
}
