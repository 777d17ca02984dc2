package realtimetest

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// attachFailure is a FailAttaches order: the next n authorized handshakes
// of a call fail with status.
type attachFailure struct{ status, n int }

// FailAttaches makes the next n authorized sideband handshakes for the call
// fail before the upgrade with the given HTTP status and the matching
// OpenAI error body (404 and 410: call_id_not_found; 429 with Retry-After;
// 500, 502, 503: server errors). The call itself is unaffected, so an
// agent's re-attach succeeds once the n failures are used up: 503 then
// success tests the backoff, 410 forever (a large n) tests giving up. A
// later call replaces an unused order; n <= 0 cancels it. Handshakes
// without the right key fail with 401 as usual and use up nothing.
func (s *Server) FailAttaches(callID string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.failAttaches, callID)
		return
	}
	s.failAttaches[callID] = &attachFailure{status: status, n: n}
}

// Attaches returns how many sideband handshakes (GET /v1/realtime?call_id=…)
// the server received for the call id, whatever their outcome: upgrades,
// 401s, 404s for ended calls and injected failures alike. Tests use it to
// prove "at most 3 tries" and "no retry storm".
func (s *Server) Attaches(callID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attaches[callID]
}

// Attached returns how many sidebands are attached to the call right now.
func (s *Server) Attached(callID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[callID]; c != nil {
		return len(c.sidebands)
	}
	return 0
}

// countAttach records one handshake for the call id and returns its
// number (1 for the first).
func (s *Server) countAttach(callID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attaches[callID]++
	return s.attaches[callID]
}

// injectedAttachStatus returns the status an authorized handshake must
// fail with (FailAttaches first, then Options.AttachStatus), or 0.
func (s *Server) injectedAttachStatus(callID string, attempt int) int {
	s.mu.Lock()
	if f := s.failAttaches[callID]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.failAttaches, callID)
		}
		s.mu.Unlock()
		return f.status
	}
	s.mu.Unlock()
	if s.opts.AttachStatus != nil {
		if st := s.opts.AttachStatus(callID, attempt); st != 0 && st != http.StatusSwitchingProtocols {
			return st
		}
	}
	return 0
}

// sidebandsOf returns the sidebands attached to the call now (a Live one
// once its session.started is out).
func (s *Server) sidebandsOf(callID string) []*sideband {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[callID]
	if c == nil {
		return nil
	}
	sbs := make([]*sideband, 0, len(c.sidebands))
	for sb := range c.sidebands {
		if !sb.starting {
			sbs = append(sbs, sb)
		}
	}
	return sbs
}

// Inject sends one raw frame, as is, to every sideband attached to the
// call, as a binary frame if binary is set: malformed JSON, binary frames,
// frames larger than a client's read limit, unknown event types. The
// server does not count it in Emitted. It returns how many sidebands it
// was written to. A frame larger than the client accepts makes a
// coder/websocket client fail the connection with 1009; the call stays live.
func (s *Server) Inject(callID string, frame []byte, binary bool) int {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	n := 0
	for _, sb := range s.sidebandsOf(callID) {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		if sb.conn.Write(ctx, typ, frame) == nil {
			n++
		}
		cancel()
	}
	return n
}

// Flood sends n realistic events a client should ignore
// (response.output_audio_transcript.delta of one made-up response, each
// with its own event_id; session.output_transcript.delta for a GPT-Live
// session) to every sideband of the call, back to back as
// fast as the connection takes them, alongside the call's own events. They
// carry no usage and are not counted in Emitted. It returns how many of
// the n reached at least one sideband.
func (s *Server) Flood(callID string, n int) int {
	sbs := s.sidebandsOf(callID)
	if len(sbs) == 0 {
		return 0
	}
	respID, itemID := newResponseID(), newItemID()
	words := strings.Fields(assistantLines[0])
	sent := 0
	for i := range n {
		frame := encodeEvent(newEventID(), "response.output_audio_transcript.delta",
			kv{"response_id", respID}, kv{"item_id", itemID}, kv{"output_index", 0}, kv{"content_index", 0},
			kv{"delta", " " + words[i%len(words)]})
		if sbs[0].live {
			frame = encodeEvent(newEventID(), "session.output_transcript.delta",
				kv{"delta", " " + words[i%len(words)]}, kv{"start_ms", 0}, kv{"end_ms", 0})
		}
		ok := false
		for _, sb := range sbs {
			if sb.send(frame) == nil {
				ok = true
			}
		}
		if !ok {
			break // every sideband is gone
		}
		sent++
	}
	return sent
}

// CloseSideband closes every sideband attached to the call with the given
// WebSocket close code and reason (a code a close frame may carry:
// 1000–1003, 1007–1014, 3000–4999) and returns how many it closed. For
// codes of 3000 and above an error event comes first, in the same
// millisecond as on the real server: its code is what follows the last '.'
// of reason ("invalid_request_error.invalid_api_key" → invalid_api_key),
// or "server_error".
//
// The call stays live whatever the code: on the real service a 3000/4000
// close reports a failed connection (bad key, bad request shape), not the
// end of the call, and a clean 1000/1001 close can also come from a proxy
// restart (openai-realtime.md §2). A client that re-attaches finds the call
// still talking; use EndCall, a hangup or MaxDuration for a real end.
func (s *Server) CloseSideband(callID string, code int, reason string) int {
	s.mu.Lock()
	var sbs []*sideband
	if c := s.calls[callID]; c != nil {
		sbs = c.takeSidebands()
	}
	s.mu.Unlock()
	req := closeRequest{code: websocket.StatusCode(code), reason: reason}
	var errCode, msg string
	if code >= 3000 {
		errCode = "server_error"
		if i := strings.LastIndexByte(reason, '.'); i >= 0 && i < len(reason)-1 {
			errCode = reason[i+1:]
		} else if reason != "" && !strings.Contains(reason, " ") {
			errCode = reason
		}
		msg = reason
		if msg == "" {
			msg = "The server closed the connection."
		}
	}
	for _, sb := range sbs {
		r := req
		switch {
		case errCode == "":
		case sb.live:
			r.first = liveErrorEvent(errCode, msg, nil, "")
		default:
			r.first = errorEvent(errCode, msg, nil, nil)
		}
		sb.requestClose(r)
	}
	return len(sbs)
}

// SetReachable(false) makes the server unreachable, as a network outage
// or an OpenAI incident would: every sideband loses its TCP connection at
// once, and every new connection (sideband or REST) is reset as soon as
// it is accepted. Calls go on meanwhile: scripts keep running and what
// they emit with nothing attached is lost, as with OpenAI. SetReachable(
// true) ends the outage; the same calls can be attached again.
func (s *Server) SetReachable(ok bool) {
	s.mu.Lock()
	s.unreachable = !ok
	var sbs []*sideband
	var conns []net.Conn
	if !ok {
		for _, c := range s.calls {
			sbs = append(sbs, c.takeSidebands()...)
		}
		for c := range s.conns {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, sb := range sbs {
		sb.drop()
	}
	for _, c := range conns {
		_ = c.Close() // idle keep-alive connections of REST clients
	}
}

// trackConn follows the HTTP connections that are not sidebands, so an
// outage cuts the idle keep-alive ones too.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(s.conns, c)
	}
}

// Refused counts the connections reset while the server was unreachable.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// outageListener resets the connections it accepts while its server is
// unreachable.
type outageListener struct {
	net.Listener
	s *Server
}

func (l outageListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		down := l.s.unreachable
		if down {
			l.s.refused++
		}
		l.s.mu.Unlock()
		if !down {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not an orderly close
		}
		_ = c.Close()
	}
}
