package realtimetest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// sideband is one attached server-side-controls WebSocket. Only its HTTP
// handler goroutine lives as long as it does (reading client events); pings
// run on a timer and a requested close on a short-lived goroutine, so an
// attached sideband costs one goroutine.
type sideband struct {
	s    *Server
	c    *call
	conn *websocket.Conn
	raw  net.Conn // the TCP connection under conn (nil if unknown)

	ctx    context.Context // cancelled when the reader has stopped
	cancel context.CancelFunc
	ping   atomic.Pointer[time.Timer] // the next keepalive ping

	// closeOnce guards the end of the connection: the first of a close
	// request, a drop or the reader's own cleanup wins.
	closeOnce   sync.Once
	handshaking atomic.Bool // a requested close handshake is under way

	live     bool // a GPT-Live sideband (/v1/live/sessions/{id}/attach)
	graceful bool // a Live sideband attached with ?graceful_close=true

	// A Live sideband is attached before its session.started is written,
	// so Attached counts it once a client has read that frame. Until then
	// starting (guarded by Server.mu) keeps the session's events away
	// from it, and ready (closed once session.started is out; nil for
	// Realtime sidebands) holds back a close request's session.closed.
	starting bool
	ready    chan struct{}
}

// closeRequest is how a call ends a sideband: an optional event first (the
// session_expired error, Live's session.closed), then a close frame. With
// graceful set the server first gives the client closeGrace to close the
// connection itself (Live's graceful_close=true).
type closeRequest struct {
	code     websocket.StatusCode
	reason   string
	first    []byte
	graceful bool
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

// handleSideband serves GET /v1/realtime?call_id=…: auth, injected
// failures (FailAttaches, AttachStatus) and call lookup fail before the
// upgrade (401/4xx/5xx JSON), the beta header after it. Every handshake is
// counted (Attaches).
func (s *Server) handleSideband(w http.ResponseWriter, r *http.Request) {
	callID := r.URL.Query().Get("call_id")
	attempt := 0
	if callID != "" {
		attempt = s.countAttach(callID)
	}
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
	if callID == "" {
		writeError(w, http.StatusBadRequest, errParam("missing_required_parameter", "call_id",
			"Missing required parameter: 'call_id'. realtimetest only serves sideband connections (?call_id=…)."))
		return
	}
	if status := s.injectedAttachStatus(callID, attempt); status != 0 {
		s.writeStatus(w, status)
		return
	}
	c := s.realtimeCall(callID)
	if c == nil {
		writeError(w, http.StatusNotFound, errCallNotFound)
		return
	}

	conn, raw, ok := acceptSideband(w, r)
	if !ok {
		return
	}

	if r.Header.Get("OpenAI-Beta") != "" {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		_ = conn.Write(ctx, websocket.MessageText, errorEvent("beta_api_shape_disabled",
			"The beta Realtime API shape is no longer supported. Remove the 'OpenAI-Beta: realtime=v1' header to use the GA interface.", nil, nil))
		cancel()
		s.closeConn(conn, raw, 4000, "invalid_request_error.beta_api_shape_disabled")
		return
	}

	sb := &sideband{
		s:    s,
		c:    c,
		conn: conn,
		raw:  raw,
	}
	sb.ctx, sb.cancel = context.WithCancel(context.Background())
	defer sb.cancel()

	if !s.attach(sb) {
		s.closeConn(conn, raw, websocket.StatusNormalClosure, "")
		return
	}
	s.serveSideband(sb)
}

// serveSideband runs an attached sideband until its connection ends: pings
// every PingInterval, client events read and answered, then the cleanup.
// It runs on the sideband's HTTP handler goroutine.
func (s *Server) serveSideband(sb *sideband) {
	conn := sb.conn
	interval := s.opts.PingInterval
	ping := time.AfterFunc(time.Hour, func() { sb.keepalive(interval) })
	sb.ping.Store(ping)
	ping.Reset(interval)

	sb.readLoop()

	s.detach(sb)
	sb.cancel()
	ping.Stop()
	sb.closeOnce.Do(func() {}) // no close handshake can start any more
	if !sb.handshaking.Load() {
		_ = conn.CloseNow()
	}
}

// attach adds sb to its call unless the call or the server has ended.
func (s *Server) attach(sb *sideband) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || sb.c.ended {
		return false
	}
	sb.c.sidebands[sb] = struct{}{}
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
			const msg = "Binary frames are not supported. Send client events as JSON text frames."
			if sb.live {
				_ = sb.send(liveErrorEvent("invalid_event", msg, nil, ""))
			} else {
				_ = sb.send(errorEvent("invalid_event", msg, nil, nil))
			}
			continue
		}
		if sb.live {
			sb.s.handleLiveClientEvent(sb, data)
		} else {
			sb.s.handleClientEvent(sb, data)
		}
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
	case typ == "conversation.item.create":
		// Accepted and not simulated (the script drives the talk), but a
		// system message is recorded: SystemMessages.
		s.noteSystemMessage(sb.c.id, data)
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

	s.broadcast(c, "session.updated", encodeEvent(newEventID(), "session.updated", kv{"session", obj}), nil)
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

// requestClose closes the sideband the way the call asks (an optional
// event first, then a close handshake) on a short-lived goroutine; only the
// first request counts, and none once the reader has stopped.
//
// The goroutine is added to the server's WaitGroup safely: if the Do body
// runs, the handler goroutine has not passed its own closeOnce.Do yet, so
// the group's counter is above zero.
func (sb *sideband) requestClose(req closeRequest) {
	sb.closeOnce.Do(func() {
		sb.handshaking.Store(true)
		sb.s.wg.Add(1)
		go func() {
			defer sb.s.wg.Done()
			if sb.ready != nil {
				select {
				case <-sb.ready:
				case <-sb.ctx.Done():
				}
			}
			if req.first != nil {
				_ = sb.send(req.first)
			}
			if req.graceful {
				// The client may close first; its close frame stops the
				// reader, whose handshake answer ends the connection.
				t := time.NewTimer(closeGrace)
				select {
				case <-sb.ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
			sb.s.closeConn(sb.conn, sb.raw, req.code, req.reason)
		}()
	})
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

// keepalive sends one WebSocket ping, like the real server (~20 s), and
// arms the next once the pong is in (or writeTimeout passed: a missing
// pong is tolerated, a peer too slow to take the ping frame is
// disconnected, like for any write). It runs on the ping timer's
// goroutine, registered with the server for its duration.
func (sb *sideband) keepalive(interval time.Duration) {
	if !sb.s.track() {
		return
	}
	defer sb.s.wg.Done()
	ctx, cancel := context.WithTimeout(sb.ctx, writeTimeout)
	_ = sb.conn.Ping(ctx)
	cancel()
	if sb.ctx.Err() == nil {
		sb.ping.Load().Reset(interval)
	}
}

// closeConn performs a close handshake, giving the peer closeGrace to
// answer before its TCP connection is closed.
func (s *Server) closeConn(conn *websocket.Conn, raw net.Conn, code websocket.StatusCode, reason string) {
	t := time.AfterFunc(closeGrace, func() {
		if raw != nil {
			_ = raw.Close()
		} else {
			_ = conn.CloseNow()
		}
	})
	defer t.Stop()
	_ = conn.Close(code, reason)
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

// noteSystemMessage records the text of a system message item a sideband
// created, unless the call was already asked to hang up.
func (s *Server) noteSystemMessage(callID string, data []byte) {
	var ev struct {
		Item struct {
			Role    string `json:"role"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"item"`
	}
	if json.Unmarshal(data, &ev) != nil || ev.Item.Role != "system" {
		return
	}
	var text strings.Builder
	for _, c := range ev.Item.Content {
		text.WriteString(c.Text)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hangups[callID] == 0 {
		s.system[callID] = append(s.system[callID], text.String())
	}
}

// SystemMessages returns the texts of the system messages sidebands added
// to a Realtime call (conversation.item.create, role system) before any
// hangup request for it, oldest first: a test checks that a budget's
// wrap-up reached the model before the agent hung up.
func (s *Server) SystemMessages(callID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.system[callID])
}

// acceptSideband upgrades a sideband request to a WebSocket with the read
// limit both APIs' sidebands share, and returns the TCP connection under
// it so a fault can drop it; ok false when Accept failed (and answered).
func acceptSideband(w http.ResponseWriter, r *http.Request) (conn *websocket.Conn, raw net.Conn, ok bool) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil, nil, false
	}
	conn.SetReadLimit(readLimit)
	raw, _ = r.Context().Value(rawConnKey{}).(net.Conn)
	return conn, raw, true
}
