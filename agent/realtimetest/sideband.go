package realtimetest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// sideband is one attached server-side-controls WebSocket. Three goroutines
// serve it: the HTTP handler reads client events, control performs the
// close the call asks for, and pinger keeps it alive.
type sideband struct {
	s    *Server
	c    *call
	conn *websocket.Conn
	raw  net.Conn // the TCP connection under conn (nil if unknown)

	ctx        context.Context // cancelled when the reader has stopped
	cancel     context.CancelFunc
	readerDone chan struct{}
	closeReq   chan closeRequest
	closeOnce  sync.Once
}

// closeRequest is how a call ends a sideband: an optional event first (the
// session_expired error), then a close frame.
type closeRequest struct {
	code   websocket.StatusCode
	reason string
	first  []byte
}

// clientEventTypes are the client events the real server's validator
// accepts (capture-0918). Only session.update is acted on.
var clientEventTypes = []string{
	"session.update", "session.close",
	"input_audio_buffer.append", "session.input_audio_buffer.append",
	"input_audio_buffer.commit", "input_audio_buffer.clear",
	"conversation.item.create", "conversation.item.truncate",
	"conversation.item.delete", "conversation.item.retrieve",
	"response.create", "response.cancel",
}

// handleSideband serves GET /v1/realtime?call_id=…: auth and call lookup
// fail before the upgrade (401/404 JSON), the beta header after it.
func (s *Server) handleSideband(w http.ResponseWriter, r *http.Request) {
	switch key := bearer(r); {
	case key == "":
		writeError(w, http.StatusUnauthorized, errMissingKey)
		return
	case key == s.opts.APIKey:
	case s.secret(key) != nil:
		// Observed since 2026-09-09: an ephemeral key on the sideband
		// fails with 404 call_id_not_found.
		writeError(w, http.StatusNotFound, errCallNotFound)
		return
	default:
		writeError(w, http.StatusUnauthorized, errIncorrectKey(key))
		return
	}
	callID := r.URL.Query().Get("call_id")
	if callID == "" {
		writeError(w, http.StatusBadRequest, errParam("missing_required_parameter", "call_id",
			"Missing required parameter: 'call_id'. realtimetest only serves sideband connections (?call_id=…)."))
		return
	}
	c := s.liveCall(callID)
	if c == nil {
		writeError(w, http.StatusNotFound, errCallNotFound)
		return
	}

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(readLimit)
	raw, _ := r.Context().Value(rawConnKey{}).(net.Conn)

	if r.Header.Get("OpenAI-Beta") != "" {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		_ = conn.Write(ctx, websocket.MessageText, errorEvent("beta_api_shape_disabled",
			"The beta Realtime API shape is no longer supported. Remove the 'OpenAI-Beta: realtime=v1' header to use the GA interface.", nil, nil))
		cancel()
		s.closeConn(conn, raw, 4000, "invalid_request_error.beta_api_shape_disabled")
		return
	}

	sb := &sideband{
		s:          s,
		c:          c,
		conn:       conn,
		raw:        raw,
		readerDone: make(chan struct{}),
		closeReq:   make(chan closeRequest, 1),
	}
	sb.ctx, sb.cancel = context.WithCancel(context.Background())
	defer sb.cancel()

	if !s.attach(sb) {
		s.closeConn(conn, raw, websocket.StatusNormalClosure, "")
		return
	}
	go sb.control()
	go sb.pinger(s.opts.PingInterval)

	sb.readLoop()

	s.detach(sb)
	sb.cancel()
	close(sb.readerDone)
}

// attach adds sb to its call unless the call or the server has ended, and
// accounts for its control and pinger goroutines.
func (s *Server) attach(sb *sideband) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || sb.c.ended {
		return false
	}
	sb.c.sidebands[sb] = struct{}{}
	s.wg.Add(2)
	return true
}

// detach removes sb from its call (no-op if already removed).
func (s *Server) detach(sb *sideband) {
	s.mu.Lock()
	delete(sb.c.sidebands, sb)
	s.mu.Unlock()
}

// readLoop reads client events until the connection ends. Bad input gets
// an error event and the loop goes on, as on the real server.
func (sb *sideband) readLoop() {
	for {
		typ, data, err := sb.conn.Read(context.Background())
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			_ = sb.send(errorEvent("invalid_event",
				"Binary frames are not supported. Send client events as JSON text frames.", nil, nil))
			continue
		}
		sb.s.handleClientEvent(sb, data)
	}
}

// handleClientEvent validates one client event and acts on session.update.
func (s *Server) handleClientEvent(sb *sideband, data []byte) {
	if !json.Valid(data) {
		_ = sb.send(errorEvent("invalid_json",
			"Could not parse the client event: the message is not valid JSON.", nil, nil))
		return
	}
	var head struct {
		Type    json.RawMessage `json:"type"`
		EventID json.RawMessage `json:"event_id"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		_ = sb.send(errorEvent("invalid_event", "Expected a JSON object as the client event.", nil, nil))
		return
	}
	var evID any
	var id string
	if json.Unmarshal(head.EventID, &id) == nil && id != "" {
		evID = id
	}
	var typ string
	if len(head.Type) == 0 || string(head.Type) == "null" {
		_ = sb.send(errorEvent("invalid_event", "The 'type' field is missing.", nil, evID))
		return
	}
	if json.Unmarshal(head.Type, &typ) != nil {
		_ = sb.send(errorEvent("invalid_type", "Invalid type for 'type': expected a string.", "type", evID))
		return
	}
	switch {
	case typ == "session.update":
		s.handleSessionUpdate(sb, data, evID)
	case contains(clientEventTypes, typ):
		// Accepted and not simulated: the call's script drives the talk.
	default:
		shown := typ
		if len(shown) > 100 {
			shown = shown[:100] + "…"
		}
		_ = sb.send(errorEvent("invalid_value",
			"Invalid value: '"+shown+"'. Supported values are: '"+strings.Join(clientEventTypes, "', '")+"'.", "type", evID))
	}
}

// handleSessionUpdate applies a session.update. It must carry
// session.type "realtime"; a good one is answered with a full
// session.updated to every sideband and starts the call's script.
func (s *Server) handleSessionUpdate(sb *sideband, data []byte, evID any) {
	var ev struct {
		Session json.RawMessage `json:"session"`
	}
	_ = json.Unmarshal(data, &ev)
	if len(ev.Session) == 0 || string(ev.Session) == "null" {
		_ = sb.send(errorEvent("missing_required_parameter", "Missing required parameter: 'session'.", "session", evID))
		return
	}
	var p sessionParams
	if err := json.Unmarshal(ev.Session, &p); err != nil {
		_ = sb.send(errorEvent("invalid_type", "Invalid type in 'session': "+err.Error(), "session", evID))
		return
	}
	if p.Type == nil || *p.Type == "" {
		_ = sb.send(errorEvent("missing_required_parameter", "Missing required parameter: 'session.type'.", "session.type", evID))
		return
	}
	if *p.Type != "realtime" {
		_ = sb.send(errorEvent("invalid_value",
			"Invalid value: '"+*p.Type+"'. This session is a 'realtime' session and its type cannot be changed.", "session.type", evID))
		return
	}
	c := sb.c
	s.mu.Lock()
	p.apply(&c.sess)
	obj := c.sess.object(c.sessID, c.expires.Unix())
	first := !c.configured
	c.configured = true
	s.mu.Unlock()

	s.broadcast(c, encodeEvent(newEventID(), "session.updated", kv{"session", obj}), nil)
	if first {
		close(c.start)
	}
}

// send writes one event; a peer slower than writeTimeout is disconnected
// by the WebSocket library.
func (sb *sideband) send(data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return sb.conn.Write(ctx, websocket.MessageText, data)
}

// requestClose asks the control goroutine to close the sideband; only the
// first request counts.
func (sb *sideband) requestClose(req closeRequest) {
	sb.closeOnce.Do(func() { sb.closeReq <- req })
}

// drop closes the TCP connection without a close frame. It is not a
// reset: bytes already written still reach the client, so every event
// counted in Emitted stays readable.
func (sb *sideband) drop() {
	sb.closeOnce.Do(func() {})
	if sb.raw != nil {
		_ = sb.raw.Close()
		return
	}
	_ = sb.conn.CloseNow()
}

// control waits for a close request or for the reader to stop.
func (sb *sideband) control() {
	defer sb.s.wg.Done()
	select {
	case req := <-sb.closeReq:
		if req.first != nil {
			_ = sb.send(req.first)
		}
		sb.s.closeConn(sb.conn, sb.raw, req.code, req.reason)
	case <-sb.readerDone:
		_ = sb.conn.CloseNow()
	}
}

// pinger sends a WebSocket ping every interval, like the real server
// (~20 s). A missing pong is tolerated.
func (sb *sideband) pinger(interval time.Duration) {
	defer sb.s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-sb.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(sb.ctx, interval)
			_ = sb.conn.Ping(ctx)
			cancel()
		}
	}
}

// closeConn performs a close handshake, giving the peer closeGrace to
// answer before its TCP connection is closed. The caller must be a tracked
// goroutine.
func (s *Server) closeConn(conn *websocket.Conn, raw net.Conn, code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		_ = conn.Close(code, reason)
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		if raw != nil {
			_ = raw.Close()
		}
		<-done
	}
}

// bearer returns the token of an "Authorization: Bearer …" header, "" when
// there is no header.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return ""
	}
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return "?" // not Bearer auth: never matches a key
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
