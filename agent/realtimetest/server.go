package realtimetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	APIKey       string        // the accepted standard key; default "sk-realtimetest"
	MaxDuration  time.Duration // session cap (real: 60 min); default 60*time.Minute
	PingInterval time.Duration // server WebSocket pings; default 20s
	Seed         int64         // RNG seed for scripted turns (0 = time-based)

	// Listener, if set, is where the server serves instead of a new
	// listener on 127.0.0.1:0; the server owns it and Close closes it.
	// `calltop standin` passes one on the address its user chose, so it
	// can refuse a taken port with an error rather than NewServer's panic.
	Listener net.Listener

	// TurnGap is the Script.TurnGap of calls created through
	// POST /v1/realtime/calls (default 300ms, real time); lower it to run
	// SDP-relay tests fast.
	TurnGap time.Duration

	// LiveMaxDuration is the GPT-Live session limit: expires_at is a
	// session's creation plus this, and at that time it ends with
	// session.closed reason "expired" (observed: 2 h); default 2*time.Hour.
	LiveMaxDuration time.Duration
	// LiveUsageEvery is the LiveScript.UsageEvery of GPT-Live sessions
	// created through POST /v1/live/sessions or accepted over SIP (default
	// 1s, real time: each update adds as many usage seconds).
	LiveUsageEvery time.Duration
	// LiveAudioEvery is the LiveScript.AudioEvery of those sessions: the
	// pace of reflected input audio frames (real: every 20 ms); default 0,
	// none.
	LiveAudioEvery time.Duration

	// OnEmit, if set, is told about every event a call sends to its
	// sidebands (its script's events and session.updated), once per event
	// and only if a write of it to an attached sideband succeeded: events
	// lost while no sideband is attached are not reported, as they are not
	// counted in Emitted. at is when the first write of the frame began,
	// so a client that has read the frame read it after at. It runs on
	// the goroutine that sent the event, after the write: keep it short.
	// Load generators use it to time what follows OpenAI's words (a
	// response.done until a dashboard shows its usage). Error replies to
	// one sideband's bad client events, the session_expired before a
	// close, a GPT-Live session's session.started and session.closed, and
	// Inject's and Flood's frames are not reported; a Live session's
	// usage updates, reflected audio and response.event frames are.
	OnEmit func(callID, eventType string, at time.Time)

	// OnHangup, if set, is called for every hangup request with the HTTP
	// status answered (200, 401, 404 or what HangupStatus chose), before
	// the response is written.
	OnHangup func(callID string, status int)

	// HangupStatus, if set, is asked about every authorized hangup request
	// (attempt counts the call's hangup requests, 1 for the first). A
	// return of 0 or 200 means "behave normally"; any other status is
	// answered with an OpenAI error body of that kind (429 rate limit with
	// Retry-After and Retry-After-Ms headers, 5xx server errors, 404
	// call_id_not_found, …) and the call stays live, so tests can make the
	// first hangups fail and a later one succeed.
	HangupStatus func(callID string, attempt int) int
	// HangupRetryAfter is the delay a 429 from HangupStatus asks for
	// (Retry-After in whole seconds, rounded up, and Retry-After-Ms);
	// default 1s.
	HangupRetryAfter time.Duration

	// AttachStatus, if set, is asked about every authorized sideband
	// handshake that FailAttaches has not already failed (attempt counts
	// the call's handshakes, see Attaches). A return of 0 or 101 means
	// "behave normally"; any other status fails the upgrade with an
	// OpenAI error body of that kind (404/410 call_id_not_found, 429, 5xx).
	AttachStatus func(callID string, attempt int) int

	// Webhook is where IncomingSIPCall delivers its signed
	// realtime.call.incoming event (see SetWebhook to set it later). With
	// an empty URL nothing is delivered; tests can still deliver the event
	// themselves with DeliverWebhook.
	Webhook WebhookTarget
	// WebhookSecret is the signing secret when Webhook.Secret is empty. If
	// both are empty the server makes one with NewWebhookSecret (see
	// Server.WebhookSecret).
	WebhookSecret string
	// WebhookAttempts is how many times one event is sent before giving up
	// (default 4: the first try and 3 retries). Real OpenAI retries for up
	// to 72 hours.
	WebhookAttempts int
	// WebhookBackoff is the delay before the first retry; it doubles for
	// each further retry (default 50ms, a scaled-down exponential backoff).
	WebhookBackoff time.Duration
	// WebhookTimeout bounds one delivery attempt; a slower receiver counts
	// as failed (default 5s: OpenAI expects a 2xx "within a few seconds").
	WebhookTimeout time.Duration
}

const (
	defaultAPIKey       = "sk-realtimetest"
	defaultMaxDuration  = 60 * time.Minute
	defaultPingInterval = 20 * time.Second

	defaultHangupRetryAfter = time.Second
	defaultWebhookAttempts  = 4
	defaultWebhookBackoff   = 50 * time.Millisecond
	defaultWebhookTimeout   = 5 * time.Second

	// closeGrace bounds a close handshake: a peer that does not answer a
	// close frame in time loses its TCP connection instead.
	closeGrace = time.Second
	// writeTimeout bounds one event write; a slower peer is disconnected.
	writeTimeout = 5 * time.Second
	// readLimit is the largest client frame accepted.
	readLimit = 16 << 20
	// maxBody bounds REST request bodies.
	maxBody = 1 << 20
)

// Server is an in-process stand-in for OpenAI's Realtime call-control
// surface, listening on 127.0.0.1. Create it with NewServer and stop it
// with Close.
type Server struct {
	opts Options
	ln   net.Listener
	hs   *http.Server
	mux  *http.ServeMux
	base string
	cert *x509.Certificate // nil: plain HTTP (NewServer)

	closing chan struct{}   // closed by Close; stops Simulate and webhook retries
	ctx     context.Context // cancelled by Close; bounds webhook requests
	stop    context.CancelFunc
	wg      sync.WaitGroup // every goroutine the server starts

	mu      sync.Mutex
	closed  bool
	rng     *rand.Rand // seeds per-call generators
	calls   map[string]*call
	hangups map[string]int
	system  map[string][]string // SystemMessages
	secrets map[string]*secret

	attaches     map[string]int            // sideband handshakes per call id
	failAttaches map[string]*attachFailure // pending FailAttaches per call id
	webhook      WebhookTarget             // where SIP webhooks go; Secret always set
	unreachable  bool                      // SetReachable(false): connections are reset
	refused      int
	conns        map[net.Conn]struct{} // HTTP connections not hijacked (see trackConn)
	deliveries   []WebhookDelivery
	hookClient   *http.Client
}

// rawConnKey stores the accepted net.Conn in each request's context, so a
// sideband can be dropped at the TCP level and so Close can force it shut.
type rawConnKey struct{}

// NewServer starts a Server on 127.0.0.1 with a random port, serving
// plain HTTP and ws://. Like httptest.NewServer it panics if it cannot
// listen.
func NewServer(opts Options) *Server { return newServer(opts, false) }

// NewTLSServer is NewServer serving HTTPS and wss://, as OpenAI does, with
// a certificate of its own for 127.0.0.1 that no system trusts: give
// clients Client, or a transport trusting Certificate. Like
// httptest.NewTLSServer it panics if it cannot listen.
func NewTLSServer(opts Options) *Server { return newServer(opts, true) }

func newServer(opts Options, secure bool) *Server {
	if opts.APIKey == "" {
		opts.APIKey = defaultAPIKey
	}
	if opts.MaxDuration <= 0 {
		opts.MaxDuration = defaultMaxDuration
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = defaultPingInterval
	}
	if opts.LiveMaxDuration <= 0 {
		opts.LiveMaxDuration = defaultLiveMaxDuration
	}
	if opts.LiveUsageEvery <= 0 {
		opts.LiveUsageEvery = defaultLiveUsageEvery
	}
	if opts.LiveAudioEvery < 0 {
		opts.LiveAudioEvery = 0
	}
	if opts.HangupRetryAfter <= 0 {
		opts.HangupRetryAfter = defaultHangupRetryAfter
	}
	if opts.WebhookAttempts <= 0 {
		opts.WebhookAttempts = defaultWebhookAttempts
	}
	if opts.WebhookBackoff <= 0 {
		opts.WebhookBackoff = defaultWebhookBackoff
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = defaultWebhookTimeout
	}
	hook := opts.Webhook
	if hook.Secret == "" {
		hook.Secret = opts.WebhookSecret
	}
	if hook.Secret == "" {
		hook.Secret = NewWebhookSecret()
	}
	seed := uint64(opts.Seed)
	if opts.Seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			panic("realtimetest: failed to listen on 127.0.0.1: " + err.Error())
		}
	}
	s := &Server{
		opts:    opts,
		ln:      ln,
		mux:     http.NewServeMux(),
		base:    "http://" + ln.Addr().String() + "/v1",
		closing: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		calls:   map[string]*call{},
		hangups: map[string]int{},
		system:  map[string][]string{},
		secrets: map[string]*secret{},

		attaches:     map[string]int{},
		failAttaches: map[string]*attachFailure{},
		webhook:      hook,
		hookClient:   newHookClient(),
		conns:        map[net.Conn]struct{}{},
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.routes()
	s.hs = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn() // a drop is at the TCP level, under TLS
			}
			return context.WithValue(ctx, rawConnKey{}, c)
		},
	}
	s.hs.ConnState = s.trackConn
	if secure {
		cert, err := newCertificate()
		if err != nil {
			panic("realtimetest: " + err.Error())
		}
		s.cert = cert.Leaf
		s.hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.base = "https://" + ln.Addr().String() + "/v1"
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if secure {
			_ = s.hs.ServeTLS(outageListener{Listener: ln, s: s}, "", "")
			return
		}
		_ = s.hs.Serve(outageListener{Listener: ln, s: s})
	}()
	return s
}

// routes registers the endpoints of openai-realtime.md §1–§3 and the
// GPT-Live ones of §8; everything else is OpenAI's 404 "Invalid URL".
func (s *Server) routes() {
	s.mux.HandleFunc("GET /v1/realtime", s.handleSideband)
	s.mux.HandleFunc("POST /v1/realtime/client_secrets", s.handleClientSecrets)
	s.mux.HandleFunc("POST /v1/realtime/calls", s.handleCreateCall)
	s.mux.HandleFunc("POST /v1/realtime/calls/{call_id}/hangup", s.handleHangup)
	s.mux.HandleFunc("POST /v1/realtime/calls/{call_id}/accept", s.handleAccept)
	s.mux.HandleFunc("POST /v1/realtime/calls/{call_id}/reject", s.handleReject)
	s.mux.HandleFunc("POST /v1/live/sessions", s.handleLiveCreate)
	s.mux.HandleFunc("GET /v1/live/sessions/{session_id}/attach", s.handleLiveAttach)
	s.mux.HandleFunc("POST /v1/live/sessions/{session_id}/hangup", s.handleLiveHangup)
	s.mux.HandleFunc("POST /v1/live/sessions/{session_id}/accept", s.handleLiveAccept)
	s.mux.HandleFunc("POST /v1/live/sessions/{session_id}/reject", s.handleLiveReject)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errInvalidURL(r.Method, r.URL.Path))
	})
}

// serveHTTP tracks every request so Close can wait for it, then routes it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.track() {
		writeError(w, http.StatusServiceUnavailable, apiError{Message: "The server is shutting down.", Type: "server_error"})
		return
	}
	defer s.wg.Done()
	w.Header().Set("X-Request-Id", newRequestID())
	s.mux.ServeHTTP(w, r)
}

// track registers one more running goroutine unless the server is closed.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// BaseURL returns what OPENAI_BASE_URL would be: "http://127.0.0.1:PORT/v1"
// ("https://…" for NewTLSServer). The sideband lives at the same host under
// ws://…/v1/realtime?call_id=… (wss://…).
func (s *Server) BaseURL() string { return s.base }

// APIKey returns the standard key the server accepts.
func (s *Server) APIKey() string { return s.opts.APIKey }

// Close ends every live or pending call and GPT-Live session (sidebands
// close with 1001, Live ones without session.closed), closes the listener, stops webhook deliveries and waits for every
// goroutine the server started. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	close(s.closing)
	s.stop()
	var live []*call
	for _, c := range s.calls {
		if !c.ended {
			live = append(live, c)
		}
	}
	s.mu.Unlock()

	_ = s.hs.Close()
	for _, c := range live {
		s.endCall(c, endServerClosed)
	}
	s.wg.Wait()
	s.hookClient.CloseIdleConnections()
}

// Live returns the ids of live calls and GPT-Live sessions, sorted. A SIP
// call is live once accepted (on either surface); a pending one is not.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.calls))
	for id, c := range s.calls {
		if !c.ended && !c.pending {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Emitted returns the usage the server actually sent on the call's
// sidebands so far (see Usage). Unknown calls give a zero Usage.
func (s *Server) Emitted(callID string) Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[callID]; c != nil {
		return c.emitted.clone()
	}
	return Usage{ByStatus: map[string]int{}}
}

// Hangups returns how many hangup requests the server received for the
// call id, whatever their status.
func (s *Server) Hangups(callID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hangups[callID]
}

// childRNG returns a generator derived from the server seed, so a given
// Seed yields the same scripts in the same creation order.
func (s *Server) childRNG() *rand.Rand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rand.New(rand.NewPCG(s.rng.Uint64(), s.rng.Uint64()))
}
