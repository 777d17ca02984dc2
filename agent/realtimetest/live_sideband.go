package realtimetest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// liveClientEventTypes are the client events a Live sideband accepts
// (openai-go's SidebandClientEvent union). session.update and
// session.close are acted on; the others are validated and ignored.
var liveClientEventTypes = []string{
	"session.update", "session.close",
	"session.input_audio.mute", "session.input_audio.unmute",
	"session.output_audio.fixture.play", "transport.dtmf.send",
	"session.instructions.append", "session.thinking.append", "session.commentary.append",
	"decision.create", "decision.item.create", "decision.item.delete",
	"response.item.create", "response.create",
}

// livePrimaryOnly are client events of the primary Live connection that a
// sideband must not send (openai-realtime.md §8).
var livePrimaryOnly = []string{"session.start", "session.input_audio.append"}

// handleLiveAttach serves GET /v1/live/sessions/{session_id}/attach, the
// GPT-Live sideband: auth, injected failures (FailAttaches, AttachStatus)
// and session lookup fail before the upgrade (401/4xx/5xx JSON, 404
// session_id_not_found). The first frame is session.started; there is no
// replay of earlier events. ?graceful_close=true makes the end of the
// session wait for the client's own close after session.closed. Every
// handshake is counted (Attaches).
func (s *Server) handleLiveAttach(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("session_id")
	attempt := s.countAttach(id)
	switch key := bearer(r); {
	case key == "":
		writeError(w, http.StatusUnauthorized, errMissingKey)
		return
	case key == s.opts.APIKey:
	case s.secret(key) != nil:
		// As on the Realtime sideband: an ephemeral key finds no session.
		writeError(w, http.StatusNotFound, errSessionNotFound)
		return
	default:
		writeError(w, http.StatusUnauthorized, errIncorrectKey(key))
		return
	}
	if status := s.injectedAttachStatus(id, attempt); status != 0 {
		s.writeStatusAs(w, status, errSessionNotFound)
		return
	}
	c := s.liveSession(id)
	if c == nil {
		writeError(w, http.StatusNotFound, errSessionNotFound)
		return
	}

	conn, raw, ok := acceptSideband(w, r)
	if !ok {
		return
	}
	sb := &sideband{s: s, c: c, conn: conn, raw: raw, live: true,
		graceful: strings.EqualFold(r.URL.Query().Get("graceful_close"), "true"),
		starting: true, ready: make(chan struct{})}
	sb.ctx, sb.cancel = context.WithCancel(context.Background())
	defer sb.cancel()

	started, closed, ok := s.attachLive(sb)
	if !ok {
		close(sb.ready)
		code := websocket.StatusGoingAway
		if closed != nil { // it ended meanwhile: say so, as to any sideband
			_ = sb.send(closed)
			code = websocket.StatusNormalClosure
		}
		s.closeConn(conn, raw, code, "")
		return
	}
	// session.started is the first frame: the session's events reach the
	// sideband only after it, and what it emitted before is not replayed,
	// as on the real service.
	err := sb.send(started)
	s.liveReady(sb)
	if err != nil {
		s.detach(sb)
		_ = conn.CloseNow()
		return
	}
	s.serveSideband(sb)
}

// liveSession returns the GPT-Live session if it exists and is live.
func (s *Server) liveSession(id string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil && c.live != nil && !c.ended && !c.pending {
		return c
	}
	return nil
}

// attachLive adds a Live sideband to its session, still starting, and
// returns the session.started frame to send it first. If the session has
// ended it returns the session's session.closed frame (nil after
// Server.Close) and false.
func (s *Server) attachLive(sb *sideband) (started, closed []byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := sb.c
	if s.closed || c.ended {
		return nil, c.live.closed, false
	}
	c.sidebands[sb] = struct{}{}
	obj := c.live.cfg.object(c.id, c.expires.Unix())
	return encodeEvent(newEventID(), "session.started", kv{"session", obj}), nil, true
}

// liveReady lets the session's events and a pending close reach a Live
// sideband whose session.started is out, and starts the session's script
// on its first sideband.
func (s *Server) liveReady(sb *sideband) {
	s.mu.Lock()
	sb.starting = false
	c := sb.c
	if !c.configured && !c.ended {
		c.configured = true
		close(c.start)
	}
	s.mu.Unlock()
	close(sb.ready)
}

// liveErrorEvent encodes a Live sideband error event: openai-go's
// ErrorEvent, whose error carries client_event_id (not Realtime's
// event_id), repeated at the top level when the client named its event.
func liveErrorEvent(code, message string, param any, clientEventID string) []byte {
	e := struct {
		Type          string `json:"type"`
		Code          string `json:"code"`
		Message       string `json:"message"`
		Param         any    `json:"param"`
		ClientEventID string `json:"client_event_id,omitempty"`
	}{invalidRequest, code, message, param, clientEventID}
	fields := []kv{{"error", e}}
	if clientEventID != "" {
		fields = append(fields, kv{"client_event_id", clientEventID})
	}
	return encodeEvent(newEventID(), "error", fields...)
}

// handleLiveClientEvent validates one client event of a Live sideband.
// Bad input gets a non-fatal error event, as on the Realtime sideband.
func (s *Server) handleLiveClientEvent(sb *sideband, data []byte) {
	fail := func(code, msg string, param any, evID string) {
		_ = sb.send(liveErrorEvent(code, msg, param, evID))
	}
	if !json.Valid(data) {
		fail("invalid_json", "Could not parse the client event: the message is not valid JSON.", nil, "")
		return
	}
	var head struct {
		Type    json.RawMessage `json:"type"`
		EventID json.RawMessage `json:"event_id"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		fail("invalid_event", "Expected a JSON object as the client event.", nil, "")
		return
	}
	var evID, typ string
	_ = json.Unmarshal(head.EventID, &evID)
	if len(head.Type) == 0 || string(head.Type) == "null" {
		fail("invalid_event", "The 'type' field is missing.", nil, evID)
		return
	}
	if json.Unmarshal(head.Type, &typ) != nil {
		fail("invalid_type", "Invalid type for 'type': expected a string.", "type", evID)
		return
	}
	switch {
	case typ == "session.close":
		s.endLive(sb.c, LiveCloseRequested, evID)
	case typ == "session.update":
		s.handleLiveSessionUpdate(sb, data, evID)
	case contains(livePrimaryOnly, typ):
		fail("invalid_event", "'"+typ+"' is not allowed on a sideband connection; only the primary Live connection may send it.", "type", evID)
	case typ == "session.instructions.append":
		var ev struct {
			Content *string `json:"content"`
		}
		if json.Unmarshal(data, &ev) != nil || ev.Content == nil {
			fail("missing_required_parameter", "Missing required parameter: 'content'.", "content", evID)
			return
		}
		s.mu.Lock()
		if st := sb.c.live; st != nil && !sb.c.ended { // what arrives after the end reaches no model
			st.appended = append(st.appended, *ev.Content)
		}
		s.mu.Unlock()
	case contains(liveClientEventTypes, typ):
		// Accepted and not simulated.
	default:
		shown := typ
		if len(shown) > 100 {
			shown = shown[:100] + "…"
		}
		fail("invalid_value", "Invalid value: '"+shown+"'. Supported values are: '"+strings.Join(liveClientEventTypes, "', '")+"'.", "type", evID)
	}
}

// handleLiveSessionUpdate applies a sideband's session.update (delegation
// settings and transcript triggers only) and answers every sideband with
// the full session.updated.
func (s *Server) handleLiveSessionUpdate(sb *sideband, data []byte, evID string) {
	var ev struct {
		Session json.RawMessage `json:"session"`
	}
	_ = json.Unmarshal(data, &ev)
	if len(ev.Session) == 0 || string(ev.Session) == "null" {
		_ = sb.send(liveErrorEvent("missing_required_parameter", "Missing required parameter: 'session'.", "session", evID))
		return
	}
	c := sb.c
	s.mu.Lock()
	code, param, msg := c.live.cfg.applyUpdate(ev.Session)
	obj := c.live.cfg.object(c.id, c.expires.Unix())
	s.mu.Unlock()
	if code != "" {
		_ = sb.send(liveErrorEvent(code, msg, param, evID))
		return
	}
	fields := []kv{{"session", obj}}
	if evID != "" {
		fields = append(fields, kv{"client_event_id", evID})
	}
	s.broadcast(c, "session.updated", encodeEvent(newEventID(), "session.updated", fields...), nil)
}
