package realtimetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/coder/websocket"
)

// Script describes how a call talks once its first sideband has attached
// and sent a valid session.update.
type Script struct {
	Model         string        // default "gpt-realtime"
	Turns         int           // number of user→assistant turns; 0 = talk until ended/expired
	TurnGap       time.Duration // pause between turns (default 300ms); every other delay in a turn scales with it
	Transcription string        // "" (none), "tokens" (gpt-4o-mini-transcribe style usage) or "duration" (whisper style)
	Chaos         bool          // sometimes non-completed statuses and non-fatal error events
	EndAfterTurns bool          // when Turns are done the call ends by itself (sidebands close 1000); otherwise it stays open idle

	// Instructions replaces the default (long-ish) session instructions;
	// use a very long one to exercise clients' WebSocket read limits.
	Instructions string
}

const defaultTurnGap = 300 * time.Millisecond

// normalized fills Script defaults.
func (sc Script) normalized() Script {
	if sc.Model == "" {
		sc.Model = "gpt-realtime"
	}
	if sc.TurnGap <= 0 {
		sc.TurnGap = defaultTurnGap
	}
	if sc.Turns < 0 {
		sc.Turns = 0
	}
	switch sc.Transcription {
	case "tokens", "duration":
	default:
		sc.Transcription = ""
	}
	return sc
}

// call is one live or ended Realtime call. Fields below mu are guarded by
// Server.mu.
type call struct {
	id      string
	sessID  string
	script  Script
	created time.Time
	expires time.Time
	rng     *rand.Rand    // used only by the call's runner goroutine
	start   chan struct{} // closed by the first valid session.update
	done    chan struct{} // closed when the call ends

	// guarded by Server.mu
	sess       sessionConfig
	configured bool
	ended      bool
	pending    bool            // a SIP call not yet accepted or rejected
	sip        *sipCall        // nil for WebRTC calls
	live       *liveState      // non-nil for a GPT-Live session (see live.go)
	requested  json.RawMessage // the session configuration the call was created with, as sent
	sidebands  map[*sideband]struct{}
	emitted    Usage
}

// endKind says why a call ended; it picks the sidebands' close frame.
type endKind int

const (
	endHangup endKind = iota
	endBrowser
	endScript
	endExpired
	endServerClosed
)

// NewCall registers a live call as if a browser had created it over WebRTC
// and returns its id ("rtc_u1_<32 alnum>"). Its script starts once a
// sideband has attached and sent a valid session.update. After Close the
// call is born ended.
func (s *Server) NewCall(sc Script) string {
	sc = sc.normalized()
	rng := s.childRNG()
	cfg := defaultSession(sc.Model, rng)
	cfg.setTranscription(sc.Transcription)
	if sc.Instructions != "" {
		cfg.instructions = sc.Instructions
	}
	return s.newCall(sc, cfg, rng, nil)
}

// newCall registers a call and starts its runner. requested is the
// session configuration as the client sent it (nil if none).
func (s *Server) newCall(sc Script, cfg sessionConfig, rng *rand.Rand, requested json.RawMessage) string {
	c := s.makeCall(newCallID(), sc, cfg, rng)
	c.requested = requested
	return s.register(c, s.runCall)
}

// register adds a call built by makeCall and starts run, its runner; a
// call registered after Close is born ended.
func (s *Server) register(c *call, run func(*call)) string {
	s.mu.Lock()
	s.calls[c.id] = c
	if s.closed {
		c.ended = true
		close(c.done)
		s.mu.Unlock()
		return c.id
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go run(c)
	return c.id
}

// makeCall builds an unregistered call whose session starts now.
func (s *Server) makeCall(id string, sc Script, cfg sessionConfig, rng *rand.Rand) *call {
	now := time.Now()
	c := &call{
		id:        id,
		sessID:    sessionIDFor(id),
		script:    sc,
		created:   now,
		expires:   now.Add(s.opts.MaxDuration),
		rng:       rng,
		start:     make(chan struct{}),
		done:      make(chan struct{}),
		sess:      cfg,
		sidebands: map[*sideband]struct{}{},
		emitted:   Usage{ByStatus: map[string]int{}},
	}
	return c
}

// EndCall ends the call as if the browser hung up: its sidebands close with
// 1000 and the call is gone (404 afterwards). A pending SIP call ends as if
// the caller gave up before it was answered. A GPT-Live session ends with
// session.closed reason "remote_hangup" (see CloseLiveSession). Unknown or
// ended calls are ignored.
func (s *Server) EndCall(callID string) {
	if c := s.lookup(callID); c != nil {
		s.endCall(c, endBrowser)
	}
}

// DropSideband simulates a transport failure: every sideband of the call
// loses its TCP connection without a WebSocket close frame (the client
// reads what was already sent, then EOF). The call stays live and can be
// attached again; its script keeps running meanwhile and the events
// emitted while nothing is attached are lost.
func (s *Server) DropSideband(callID string) {
	s.mu.Lock()
	var sbs []*sideband
	if c := s.calls[callID]; c != nil {
		sbs = c.takeSidebands()
	}
	s.mu.Unlock()
	for _, sb := range sbs {
		sb.drop()
	}
}

// lookup returns the call with the id, live or ended, or nil.
func (s *Server) lookup(callID string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[callID]
}

// liveCall returns the call if it exists, has not ended and is not a
// pending SIP call.
func (s *Server) liveCall(callID string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[callID]; c != nil && !c.ended && !c.pending {
		return c
	}
	return nil
}

// realtimeCall is liveCall for the Realtime surface: a GPT-Live session is
// not a Realtime call (its id gets 404 call_id_not_found there).
func (s *Server) realtimeCall(callID string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[callID]; c != nil && !c.ended && !c.pending && c.live == nil {
		return c
	}
	return nil
}

// endCall marks the call ended and asks each attached sideband to close
// the way the reason calls for. It reports whether this call ended now.
// A GPT-Live session ends with session.closed (see endLive), except when
// the server shuts down.
func (s *Server) endCall(c *call, kind endKind) bool {
	if kind != endServerClosed {
		if ok, live := s.endIfLive(c, kind); live {
			return ok
		}
	}
	sbs, ok := s.markEnded(c)
	if ok {
		s.closeSidebands(sbs, kind)
	}
	return ok
}

// markEnded marks the call ended (404 from now on, script stopped) and
// detaches its sidebands, which the caller must close with closeSidebands.
// It reports false if the call had already ended.
func (s *Server) markEnded(c *call) ([]*sideband, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ended {
		return nil, false
	}
	c.ended = true
	if c.pending {
		c.pending = false
		c.sip.state = SIPCancelled
	}
	close(c.done)
	return c.takeSidebands(), true
}

// takeSidebands detaches every sideband from the call and returns them,
// for the caller to close or drop outside the server's lock. Called with
// s.mu held.
func (c *call) takeSidebands() []*sideband {
	sbs := make([]*sideband, 0, len(c.sidebands))
	for sb := range c.sidebands {
		sbs = append(sbs, sb)
	}
	clear(c.sidebands)
	return sbs
}

// closeSidebands asks each sideband of an ended call to close the way the
// reason calls for: 1000 normally, session_expired then 1001 at the cap,
// 1001 when the server shuts down.
func (s *Server) closeSidebands(sbs []*sideband, kind endKind) {
	req := closeRequest{code: websocket.StatusNormalClosure}
	switch kind {
	case endExpired:
		msg := expiryMessage(s.opts.MaxDuration)
		req = closeRequest{
			code:   websocket.StatusGoingAway,
			reason: msg,
			first:  errorEvent("session_expired", msg, nil, nil),
		}
	case endServerClosed:
		req = closeRequest{code: websocket.StatusGoingAway, reason: "server shutting down"}
	}
	for _, sb := range sbs {
		sb.requestClose(req)
	}
}

// expiryMessage is the session_expired text: the real one for the 60-minute
// cap, the same sentence with the configured cap otherwise.
func expiryMessage(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("Your session hit the maximum duration of %d minutes.", int(d/time.Minute))
	}
	return fmt.Sprintf("Your session hit the maximum duration of %s.", d)
}

// broadcast sends one event of type typ to every sideband attached to the
// call and reports whether at least one write succeeded. The usage delta d
// (may be nil) is counted as emitted before the writes, so a client that
// has read the event always finds it in Emitted, and uncounted if none
// succeeded. A delivered event is reported to Options.OnEmit.
func (s *Server) broadcast(c *call, typ string, data []byte, d *Usage) bool {
	var count func(sign int)
	if d != nil {
		count = func(sign int) { c.emitted.add(d, sign) }
	}
	return s.broadcastCounted(c, typ, data, count)
}

// broadcastCounted is broadcast with any accounting: count (may be nil)
// runs with s.mu held, with +1 before the writes when a sideband is
// attached and with -1 after them when none succeeded.
func (s *Server) broadcastCounted(c *call, typ string, data []byte, count func(sign int)) bool {
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		return false
	}
	sbs := make([]*sideband, 0, len(c.sidebands))
	for sb := range c.sidebands {
		if !sb.starting {
			sbs = append(sbs, sb)
		}
	}
	counted := count != nil && len(sbs) > 0
	if counted {
		count(1)
	}
	s.mu.Unlock()

	delivered := false
	at := time.Now()
	for _, sb := range sbs {
		if sb.send(data) == nil {
			delivered = true
		}
	}
	if counted && !delivered {
		s.mu.Lock()
		count(-1)
		s.mu.Unlock()
	}
	if delivered && s.opts.OnEmit != nil {
		s.opts.OnEmit(c.id, typ, at)
	}
	return delivered
}

// runCall is the call's only long-lived goroutine: it waits for the first
// session.update, plays the script and enforces the duration cap.
func (s *Server) runCall(c *call) {
	defer s.wg.Done()
	expiry := time.NewTimer(time.Until(c.expires))
	defer expiry.Stop()

	select {
	case <-c.start:
	case <-c.done:
		return
	case <-expiry.C:
		s.endCall(c, endExpired)
		return
	}

	r := newRunner(s, c, expiry)
	defer r.timer.Stop()
	if !r.play() {
		return
	}
	if c.script.EndAfterTurns {
		s.endCall(c, endScript)
		return
	}
	select {
	case <-c.done:
	case <-expiry.C:
		s.endCall(c, endExpired)
	}
}
