package realtimetest

import (
	"math"
	"math/rand/v2"
	"time"
)

// LiveScript drives one GPT-Live session (openai-realtime.md §8) once its
// first sideband has attached: cumulative session.usage.updated events at
// a steady pace, optional reflected input audio, a few other Live events a
// client must skip, and delegated Responses backend completions carrying
// token usage.
type LiveScript struct {
	Model string // default "gpt-live-1"

	// UsageEvery is the pace of session.usage.updated events; default 1s.
	UsageEvery time.Duration
	// SecondsPerUpdate is how many usage seconds each update adds; default
	// UsageEvery in seconds (real time). A larger value makes a fast test
	// session bill like a long one.
	SecondsPerUpdate float64
	// Updates, if positive, ends the session right after that many usage
	// updates with CloseReason (session.closed, then close 1000); 0 runs
	// until hung up, closed or expired.
	Updates int
	// CloseReason is the session.closed reason when Updates are done;
	// default "remote_hangup".
	CloseReason string

	// AudioEvery is the pace of reflected input audio: one
	// session.input_audio.append frame (20 ms of PCM16 24 kHz mono, 960
	// bytes, base64 in "audio", no event_id) per AudioEvery; 0 sends none.
	AudioEvery time.Duration

	// BackendResponses is how many delegated Responses backend completions
	// the session reports: response.event frames wrapping a
	// response.completed whose response carries model and usage
	// {input_tokens, input_tokens_details{cached_tokens}, output_tokens,
	// output_tokens_details{reasoning_tokens}, total_tokens}. With Updates
	// set they are spread evenly over the updates (all sent by the last);
	// otherwise one follows every fifth update until all are sent.
	BackendResponses int
}

// The reasons a GPT-Live session ends with (session.closed's reason).
const (
	LiveCloseRequested = "close_requested" // session.close on a sideband, or a hangup
	LiveExpired        = "expired"         // the duration limit (Options.LiveMaxDuration)
	LiveContent        = "content"         // a safety filter
	LiveRemoteHangup   = "remote_hangup"   // the caller or browser hung up gracefully
	LiveConnectionLost = "connection_lost" // the primary or upstream connection dropped
)

const (
	defaultLiveModel       = "gpt-live-1"
	defaultLiveUsageEvery  = time.Second
	defaultLiveMaxDuration = 2 * time.Hour
	defaultBackendModel    = "gpt-5.2"
	// liveBackendEvery is the update interval of backend completions in a
	// session without Updates.
	liveBackendEvery = 5
	// webRTCMinimumSeconds is what OpenAI bills a WebRTC session at
	// creation (credited once it runs); not observable on the sideband.
	webRTCMinimumSeconds = 15
)

// normalized fills LiveScript defaults.
func (sc LiveScript) normalized() LiveScript {
	if sc.Model == "" {
		sc.Model = defaultLiveModel
	}
	if sc.UsageEvery <= 0 {
		sc.UsageEvery = defaultLiveUsageEvery
	}
	if sc.SecondsPerUpdate <= 0 {
		sc.SecondsPerUpdate = sc.UsageEvery.Seconds()
	}
	if sc.Updates < 0 {
		sc.Updates = 0
	}
	if sc.CloseReason == "" {
		sc.CloseReason = LiveRemoteHangup
	}
	if sc.AudioEvery < 0 {
		sc.AudioEvery = 0
	}
	if sc.BackendResponses < 0 {
		sc.BackendResponses = 0
	}
	return sc
}

// liveState is what a call has when it is a GPT-Live session. Fields below
// the comment are guarded by Server.mu.
type liveState struct {
	script    LiveScript
	transport string // "webrtc" or "sip"

	// guarded by Server.mu
	cfg         liveConfig
	started     time.Time // when the script started (zero before)
	lastTick    time.Time // when seconds last grew
	updates     int
	seconds     float64 // cumulative usage seconds (the truth, delivered or not)
	backend     backendTotals
	audioFrames int
	// appended are the texts of the session.instructions.append events
	// sidebands sent, in order.
	appended []string
	reason   string // session.closed's reason once ended; "" if none was sent
	closed   []byte // the session.closed frame once ended (nil for Server.Close)
}

// backendTotals sums the delegated Responses completions delivered to at
// least one sideband.
type backendTotals struct {
	responses              int
	input, output, total   int64
	cachedInput, reasoning int64
}

// NewLiveSession registers a live GPT-Live session as if a browser had
// created it over WebRTC and returns its id ("live_u1_<32 alnum>"). Its
// script starts when its first sideband attaches
// (GET /v1/live/sessions/{id}/attach); it expires Options.LiveMaxDuration
// after now. After Close the session is born ended.
func (s *Server) NewLiveSession(sc LiveScript) string {
	sc = sc.normalized()
	cfg := defaultLiveConfig(sc.Model)
	return s.newLive(newLiveSessionID(), sc, cfg, "webrtc", nil)
}

// newLive registers a GPT-Live session and starts its runner.
func (s *Server) newLive(id string, sc LiveScript, cfg liveConfig, transport string, requested []byte) string {
	c := s.makeCall(id, Script{Model: sc.Model}, sessionConfig{model: sc.Model}, s.childRNG())
	c.expires = c.created.Add(s.opts.LiveMaxDuration)
	c.live = &liveState{script: sc, transport: transport, cfg: cfg}
	c.requested = requested
	return s.register(c, s.runLive)
}

// CloseLiveSession ends a live GPT-Live session the way OpenAI does:
// session.closed {reason, session, usage{seconds}} to every attached
// sideband, then close 1000 (after the client's own close, up to about a
// second, for sidebands attached with graceful_close=true). reason is any
// session.closed reason (LiveContent, LiveConnectionLost, LiveExpired,
// LiveRemoteHangup, LiveCloseRequested; "" means LiveRemoteHangup). The
// final usage includes the seconds since the last update. It reports false
// for unknown, pending, ended and Realtime ids.
func (s *Server) CloseLiveSession(id, reason string) bool {
	if reason == "" {
		reason = LiveRemoteHangup
	}
	c := s.lookup(id)
	if c == nil {
		return false
	}
	return s.endLive(c, reason, "")
}

// LiveSeconds returns the session's cumulative usage seconds so far: the
// value of its last session.usage.updated, whether or not a sideband
// received it, and once ended the final value session.closed carried. It
// is 0 for unknown ids.
func (s *Server) LiveSeconds(id string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil && c.live != nil {
		return c.live.seconds
	}
	return 0
}

// LiveBackendUsage returns the delegated Responses token usage the session
// reported: the sums of input_tokens and output_tokens over the
// response.completed events (inside response.event) that reached at least
// one sideband. Like Emitted, a completion sent while nothing was attached
// is lost and not counted.
func (s *Server) LiveBackendUsage(id string) (input, output int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil && c.live != nil {
		return c.live.backend.input, c.live.backend.output
	}
	return 0, 0
}

// LiveEnded reports whether the GPT-Live session has ended and with which
// session.closed reason; the reason is "" when it ended without one
// (Server.Close closes sidebands with 1001 and sends no session.closed).
// ok is false for live, pending, unknown and Realtime ids.
func (s *Server) LiveEnded(id string) (reason string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil && c.live != nil && c.ended {
		return c.live.reason, true
	}
	return "", false
}

// runLive is the session's only long-lived goroutine: it waits for the
// first sideband, plays the script and enforces the duration limit.
func (s *Server) runLive(c *call) {
	defer s.wg.Done()
	expiry := time.NewTimer(time.Until(c.expires))
	defer expiry.Stop()
	select {
	case <-c.start:
	case <-c.done:
		return
	case <-expiry.C:
		s.endLive(c, LiveExpired, "")
		return
	}
	newLiveRunner(s, c).run(expiry)
}

// endIfLive ends c with the session.closed reason that kind calls for if
// c is a GPT-Live session; live reports whether it is one.
func (s *Server) endIfLive(c *call, kind endKind) (ok, live bool) {
	s.mu.Lock()
	st := c.live
	s.mu.Unlock()
	if st == nil {
		return false, false
	}
	reason := LiveRemoteHangup
	switch kind {
	case endHangup:
		reason = LiveCloseRequested
	case endExpired:
		reason = LiveExpired
	case endScript:
		reason = st.script.CloseReason
	}
	return s.endLive(c, reason, ""), true
}

// endLive ends a GPT-Live session with reason: session.closed to every
// sideband, then their close. clientEventID names the session.close that
// asked for it, if any. It reports whether the session ended now.
func (s *Server) endLive(c *call, reason, clientEventID string) bool {
	sbs, closed, ok := s.markLiveEnded(c, reason, clientEventID, true)
	if ok {
		s.closeLive(sbs, closed)
	}
	return ok
}

// markLiveEnded marks a GPT-Live session ended with reason, settles its
// final usage (with the seconds since the last update if partial) and
// returns its sidebands and the session.closed frame for closeLive. It
// reports false if c is not a live GPT-Live session.
func (s *Server) markLiveEnded(c *call, reason, clientEventID string, partial bool) ([]*sideband, []byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := c.live
	if st == nil || c.ended || c.pending {
		return nil, nil, false
	}
	c.ended = true
	close(c.done)
	if partial && !st.lastTick.IsZero() {
		frac := min(1, float64(time.Since(st.lastTick))/float64(st.script.UsageEvery))
		st.seconds = roundMs(st.seconds + frac*st.script.SecondsPerUpdate)
	}
	st.reason = reason
	fields := []kv{{"reason", reason}, {"session", st.cfg.object(c.id, c.expires.Unix())}, {"usage", liveUsage{Seconds: st.seconds}}}
	if clientEventID != "" {
		fields = append(fields, kv{"client_event_id", clientEventID})
	}
	st.closed = encodeEvent(newEventID(), "session.closed", fields...)
	return c.takeSidebands(), st.closed, true
}

// closeLive sends session.closed to each sideband of an ended session and
// closes it with 1000, waiting for the client's close first on graceful
// sidebands.
func (s *Server) closeLive(sbs []*sideband, closed []byte) {
	for _, sb := range sbs {
		sb.requestClose(closeRequest{code: 1000, first: closed, graceful: sb.graceful})
	}
}

// liveUsage is session.usage.updated's and session.closed's usage.
type liveUsage struct {
	Seconds float64 `json:"seconds"`
}

// roundMs rounds seconds to the millisecond, so repeated additions stay
// exact enough for tests to compare.
func roundMs(sec float64) float64 { return math.Round(sec*1000) / 1000 }

// liveRunner plays one session's LiveScript on runLive's goroutine.
type liveRunner struct {
	s   *Server
	c   *call
	st  *liveState
	sc  LiveScript
	rng *rand.Rand

	backendSent int   // completions sent (delivered or not)
	prevInput   int64 // the previous completion's input (the cacheable prefix)
	audioSeq    int
}

func newLiveRunner(s *Server, c *call) *liveRunner {
	return &liveRunner{s: s, c: c, st: c.live, sc: c.live.script, rng: c.rng}
}

// run emits the script's events until the session ends.
func (r *liveRunner) run(expiry *time.Timer) {
	usage := time.NewTicker(r.sc.UsageEvery)
	defer usage.Stop()
	var audio <-chan time.Time
	if r.sc.AudioEvery > 0 {
		t := time.NewTicker(r.sc.AudioEvery)
		defer t.Stop()
		audio = t.C
	}
	r.s.mu.Lock()
	r.st.started = time.Now()
	r.st.lastTick = r.st.started
	r.s.mu.Unlock()
	r.emit("info", kv{"code", "data_channel_permissions"},
		kv{"message", "The frontend data channel uses the session's default client event permissions."})
	for {
		select {
		case <-r.c.done:
			return
		case <-expiry.C:
			r.s.endLive(r.c, LiveExpired, "")
			return
		case <-audio:
			r.audio()
		case <-usage.C:
			if !r.tick() {
				return
			}
		}
	}
}

// emit broadcasts one Live event with a fresh event_id.
func (r *liveRunner) emit(typ string, fields ...kv) bool {
	return r.s.broadcast(r.c, typ, encodeEvent(newEventID(), typ, fields...), nil)
}

// tick sends one usage update and what follows it; it reports false once
// the session has ended.
func (r *liveRunner) tick() bool {
	r.s.mu.Lock()
	if r.c.ended {
		r.s.mu.Unlock()
		return false
	}
	st := r.st
	st.updates++
	st.seconds = roundMs(float64(st.updates) * r.sc.SecondsPerUpdate)
	st.lastTick = time.Now()
	n, seconds := st.updates, st.seconds
	r.s.mu.Unlock()

	ratio := math.Min(0.95, 0.02+float64(n)*0.004)
	r.emit("session.usage.updated", kv{"usage", liveUsage{Seconds: seconds}},
		kv{"context_window", struct {
			UsageRatio float64 `json:"usage_ratio"`
		}{math.Round(ratio*1000) / 1000}})
	r.transcript(n, seconds)
	for range r.backendDue(n) {
		r.backendResponse(seconds)
	}
	if r.sc.Updates > 0 && n >= r.sc.Updates {
		// The script's end comes with its last update: the final usage is
		// that update's, exactly.
		if sbs, closed, ok := r.s.markLiveEnded(r.c, r.sc.CloseReason, "", false); ok {
			r.s.closeLive(sbs, closed)
		}
		return false
	}
	return true
}

// transcript sends a transcript delta now and then: the caller's words on
// one update, the model's on the next, nothing on the third.
func (r *liveRunner) transcript(n int, seconds float64) {
	endMs := int64(seconds * 1000)
	startMs := max(0, endMs-int64(r.sc.SecondsPerUpdate*1000))
	switch n % 3 {
	case 1:
		line := userLines[r.rng.IntN(len(userLines))]
		r.emit("session.input_transcript.delta", kv{"delta", line}, kv{"start_ms", startMs}, kv{"end_ms", endMs})
	case 2:
		line := assistantLines[r.rng.IntN(len(assistantLines))]
		r.emit("session.output_transcript.delta", kv{"delta", line}, kv{"start_ms", startMs}, kv{"end_ms", endMs})
	}
}

// backendDue returns how many backend completions follow update n.
func (r *liveRunner) backendDue(n int) int {
	b := r.sc.BackendResponses
	if b == 0 || r.backendSent >= b {
		return 0
	}
	if u := r.sc.Updates; u > 0 {
		return min(b-r.backendSent, n*b/u-(n-1)*b/u)
	}
	if n%liveBackendEvery == 0 {
		return 1
	}
	return 0
}
