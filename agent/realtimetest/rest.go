package realtimetest

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// secret is a minted ephemeral key: it lets a browser create calls with its
// session configuration until it expires (running calls are unaffected).
// Secrets are kept after they expire, for Secrets.
type secret struct {
	value     string
	created   time.Time
	ttl       time.Duration
	expiresAt time.Time
	sessID    string
	sess      sessionConfig
	requested json.RawMessage // the session as the client sent it
	calls     []string        // calls created with it, in order (guarded by Server.mu)
}

const (
	secretDefaultTTL = 600
	secretMinTTL     = 10
	secretMaxTTL     = 7200
)

// secret returns the unexpired ephemeral key, or nil.
func (s *Server) secret(key string) *secret {
	if !strings.HasPrefix(key, "ek_") {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key]
	if sec == nil || !time.Now().Before(sec.expiresAt) {
		return nil
	}
	return sec
}

// handleHangup serves POST /v1/realtime/calls/{call_id}/hangup: 200 with an
// empty body for a live call, whose sidebands then close 1000 (the call is
// ended before the answer, so a repeat gets 404 at once); 404
// call_id_not_found for unknown, pending or ended calls and for GPT-Live
// sessions. Every request is counted; Options.HangupStatus may fail
// authorized ones.
func (s *Server) handleHangup(w http.ResponseWriter, r *http.Request) {
	s.hangup(w, r, r.PathValue("call_id"), false)
}

// hangup serves a hangup on either surface: a Realtime call (live false)
// or a GPT-Live session (live true: session_id_not_found bodies, and the
// sidebands get session.closed "close_requested" before their close). A
// session of the other surface is unknown here.
func (s *Server) hangup(w http.ResponseWriter, r *http.Request, id string, live bool) {
	notFound := errCallNotFound
	if live {
		notFound = errSessionNotFound
	}
	key := bearer(r)
	status := http.StatusOK
	s.mu.Lock()
	s.hangups[id]++
	attempt := s.hangups[id]
	c := s.calls[id]
	switch {
	case key != s.opts.APIKey:
		status = http.StatusUnauthorized
	case c == nil || c.ended || c.pending || (c.live != nil) != live:
		status = http.StatusNotFound
	}
	s.mu.Unlock()
	injected := false
	if status != http.StatusUnauthorized && s.opts.HangupStatus != nil {
		if st := s.opts.HangupStatus(id, attempt); st != 0 && st != http.StatusOK {
			status, injected = st, true
		}
	}
	var sbs []*sideband
	var closed []byte // Live's session.closed
	if status == http.StatusOK {
		var ok bool
		if live {
			sbs, closed, ok = s.markLiveEnded(c, LiveCloseRequested, "", true)
		} else {
			sbs, ok = s.markEnded(c)
		}
		if !ok {
			status = http.StatusNotFound // another request ended it first
		}
	}
	if s.opts.OnHangup != nil {
		s.opts.OnHangup(id, status)
	}
	switch {
	case status == http.StatusOK:
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Teardown follows the answer.
		if live {
			s.closeLive(sbs, closed)
		} else {
			s.closeSidebands(sbs, endHangup)
		}
	case status == http.StatusUnauthorized && !injected:
		s.writeAuthError(w, key)
	case injected:
		s.writeStatusAs(w, status, notFound)
	default:
		writeError(w, http.StatusNotFound, notFound)
	}
}

// writeAuthError answers 401 for a missing or wrong key.
func (s *Server) writeAuthError(w http.ResponseWriter, key string) {
	if key == "" {
		writeError(w, http.StatusUnauthorized, errMissingKey)
		return
	}
	writeError(w, http.StatusUnauthorized, errIncorrectKey(key))
}

// handleClientSecrets serves POST /v1/realtime/client_secrets: it mints an
// ephemeral key ("ek_…") for a realtime session configuration.
func (s *Server) handleClientSecrets(w http.ResponseWriter, r *http.Request) {
	if key := bearer(r); key != s.opts.APIKey {
		s.writeAuthError(w, key)
		return
	}
	body, ok := readJSON(w, r)
	if !ok {
		return
	}
	var req struct {
		ExpiresAfter *struct {
			Anchor  *string  `json:"anchor"`
			Seconds *float64 `json:"seconds"`
		} `json:"expires_after"`
		Session json.RawMessage `json:"session"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, errParam("invalid_type", "", "Invalid type in request body: "+err.Error()))
		return
	}
	ttl := float64(secretDefaultTTL)
	if ea := req.ExpiresAfter; ea != nil {
		if ea.Anchor != nil && *ea.Anchor != "created_at" {
			writeError(w, http.StatusBadRequest, errParam("invalid_value", "expires_after.anchor",
				"Invalid value: '"+*ea.Anchor+"'. Supported values are: 'created_at'."))
			return
		}
		if ea.Seconds != nil {
			ttl = *ea.Seconds
		}
	}
	if aerr := checkTTL(ttl); aerr != nil {
		writeError(w, http.StatusBadRequest, *aerr)
		return
	}
	p, aerr := parseSessionParams(req.Session, true)
	if aerr != nil {
		writeError(w, http.StatusBadRequest, *aerr)
		return
	}
	cfg := defaultSession(deref(p.Model), s.childRNG())
	p.apply(&cfg)

	now := time.Now()
	sec := &secret{
		value:     newEphemeralKey(),
		created:   now,
		ttl:       time.Duration(ttl) * time.Second,
		expiresAt: now.Add(time.Duration(ttl) * time.Second),
		sessID:    newSessionID(),
		sess:      cfg,
		requested: append(json.RawMessage(nil), req.Session...),
	}
	s.mu.Lock()
	s.secrets[sec.value] = sec
	s.mu.Unlock()

	out, _ := json.Marshal(struct {
		Value     string        `json:"value"`
		ExpiresAt int64         `json:"expires_at"`
		Session   sessionObject `json:"session"`
	}{sec.value, sec.expiresAt.Unix(), cfg.object(sec.sessID, 0)})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// checkTTL validates expires_after.seconds (an integer in 10..7200).
func checkTTL(ttl float64) *apiError {
	var e apiError
	switch {
	case ttl != float64(int64(ttl)):
		e = errParam("invalid_type", "expires_after.seconds",
			"Invalid type for 'expires_after.seconds': expected an integer, but got a decimal number instead.")
	case ttl < secretMinTTL:
		e = errParam("integer_below_min_value", "expires_after.seconds",
			"Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= 10, but got "+formatNum(ttl)+" instead.")
	case ttl > secretMaxTTL:
		e = errParam("integer_above_max_value", "expires_after.seconds",
			"Invalid 'expires_after.seconds': integer above maximum value. Expected a value <= 7200, but got "+formatNum(ttl)+" instead.")
	default:
		return nil
	}
	return &e
}

// parseSessionParams validates a realtime session configuration from a
// request body. required says whether a missing session is an error.
func parseSessionParams(raw json.RawMessage, required bool) (*sessionParams, *apiError) {
	fail := func(code, param, msg string) (*sessionParams, *apiError) {
		e := errParam(code, param, msg)
		return nil, &e
	}
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return fail("missing_required_parameter", "session", "Missing required parameter: 'session'.")
		}
		return &sessionParams{}, nil
	}
	var p sessionParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return fail("invalid_type", "session", "Invalid type in 'session': "+err.Error())
	}
	switch t := deref(p.Type); t {
	case "realtime":
	case "":
		return fail("missing_required_parameter", "session.type", "Missing required parameter: 'session.type'.")
	case "transcription":
		return fail("invalid_value", "session.type", "realtimetest does not simulate transcription sessions; use 'realtime'.")
	default:
		return fail("invalid_value", "session.type", "Invalid value: '"+t+"'. Supported values are: 'realtime' and 'transcription'.")
	}
	if p.Model != nil {
		if aerr := checkRealtimeModel(*p.Model, "session.model"); aerr != nil {
			return nil, aerr
		}
	}
	return &p, nil
}

// validModel accepts Realtime model names (gpt-realtime*, gpt-4o-*realtime*);
// a GPT-Live model is rejected, as on the real endpoint.
func validModel(m string) bool {
	return strings.Contains(m, "realtime")
}

// isLiveModel reports whether m names a GPT-Live model (gpt-live-1,
// gpt-live-1.1, …).
func isLiveModel(m string) bool {
	return strings.HasPrefix(m, "gpt-live")
}

// checkRealtimeModel validates a model named on a Realtime endpoint. A
// GPT-Live model gets invalid_model, as the real /v1/realtime does
// (openai-realtime.md §8); any other non-Realtime model keeps the generic
// invalid_value.
func checkRealtimeModel(m, param string) *apiError {
	var e apiError
	switch {
	case validModel(m):
		return nil
	case isLiveModel(m):
		e = errParam("invalid_model", param, "The model '"+m+"' is a GPT-Live model and cannot be used with the Realtime API. Use POST /v1/live/sessions instead.")
	default:
		e = errParam("invalid_value", param, "Invalid value: '"+m+"'. The model is not a Realtime model (for example 'gpt-realtime').")
	}
	return &e
}

// handleCreateCall serves POST /v1/realtime/calls in both forms: a raw SDP
// offer (application/sdp, ephemeral or standard key) or the unified
// multipart form (parts "sdp" and "session"). It answers 201 with the SDP
// answer and the call id in Location.
func (s *Server) handleCreateCall(w http.ResponseWriter, r *http.Request) {
	key := bearer(r)
	rng := s.childRNG()
	var cfg sessionConfig
	var sec *secret
	var requested json.RawMessage
	switch {
	case key == s.opts.APIKey:
		model := r.URL.Query().Get("model")
		if model != "" {
			if aerr := checkRealtimeModel(model, "model"); aerr != nil {
				writeError(w, http.StatusBadRequest, *aerr)
				return
			}
		}
		cfg = defaultSession(model, rng)
	default:
		if sec = s.secret(key); sec == nil {
			s.writeAuthError(w, key) // unknown, expired or not a key
			return
		}
		cfg, requested = sec.sess, sec.requested
	}

	offer, params, raw, aerr := readOffer(w, r)
	if aerr != nil {
		writeError(w, http.StatusBadRequest, *aerr)
		return
	}
	if raw != nil {
		requested = raw
	}
	if params != nil {
		if params.Model != nil {
			cfg.model = *params.Model
		}
		params.apply(&cfg)
	}
	if strings.TrimSpace(offer) == "" {
		writeError(w, http.StatusBadRequest, errParam("missing_required_parameter", "sdp", "Missing required parameter: 'sdp'."))
		return
	}
	if !strings.HasPrefix(strings.TrimLeft(offer, " \t\r\n"), "v=0") {
		writeError(w, http.StatusBadRequest, errParam("invalid_offer", "sdp", "Invalid SDP offer: an offer must start with 'v=0'."))
		return
	}

	sc := Script{Model: cfg.model, Transcription: cfg.transcriptionMode(), TurnGap: s.opts.TurnGap}.normalized()
	id := s.newCall(sc, cfg, rng, requested)
	if sec != nil {
		s.mu.Lock()
		sec.calls = append(sec.calls, id)
		s.mu.Unlock()
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Location", "/v1/realtime/calls/"+id)
	h.Set("Access-Control-Expose-Headers", "Location, X-Request-Id")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdpAnswer(offer))
}

// readOffer extracts the SDP offer and, for the multipart form, the
// session parameters with their raw JSON (nil without a session part).
func readOffer(w http.ResponseWriter, r *http.Request) (string, *sessionParams, json.RawMessage, *apiError) {
	bad := func(msg string) (string, *sessionParams, json.RawMessage, *apiError) {
		e := errParam("invalid_request", "", msg)
		return "", nil, nil, &e
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	switch mt {
	case "application/sdp":
		b, err := io.ReadAll(body)
		if err != nil {
			return bad("The request body could not be read: " + err.Error())
		}
		return string(b), nil, nil, nil
	case "multipart/form-data":
		if mp["boundary"] == "" {
			return bad("Invalid multipart body: missing boundary.")
		}
		mr := multipart.NewReader(body, mp["boundary"])
		var offer string
		var sessionRaw []byte
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return bad("Invalid multipart body: " + err.Error())
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return bad("Invalid multipart body: " + err.Error())
			}
			switch part.FormName() {
			case "sdp":
				offer = string(b)
			case "session":
				sessionRaw = b
			}
		}
		if sessionRaw != nil && !json.Valid(sessionRaw) {
			return "", nil, nil, &errBadJSON
		}
		p, aerr := parseSessionParams(sessionRaw, false)
		if aerr != nil {
			return "", nil, nil, aerr
		}
		return offer, p, sessionRaw, nil
	default:
		return bad("Unsupported content type: '" + r.Header.Get("Content-Type") + "'. Send 'application/sdp' or 'multipart/form-data'.")
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func formatNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// readBody reads a request body of at most maxBody bytes, answering 400
// itself when it cannot.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, errParam("invalid_request", "", "The request body could not be read: "+err.Error()))
		return nil, false
	}
	return body, true
}

// readJSON is readBody for a JSON body, answering OpenAI's invalid JSON
// error when it is not.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, ok := readBody(w, r)
	if ok && !json.Valid(body) {
		writeError(w, http.StatusBadRequest, errBadJSON)
		return nil, false
	}
	return body, ok
}
