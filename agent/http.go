package agent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/calltop/calltop/feed"
)

// maxRequestBody bounds what the sidecar API reads from a JSON request.
const maxRequestBody = 256 << 10

// SidecarConfig configures the sidecar's HTTP API.
type SidecarConfig struct {
	// Token is the bearer token the app's backend sends on every call but
	// the webhook (which is signed instead); its name is "app". Empty
	// (with no Tokens) disables the check: only for an API bound to
	// loopback.
	Token string
	// Tokens are more bearer tokens, by name (name → token): a call hung
	// up with one is recorded as ended by its name (ended_by), so apps and
	// services sharing a sidecar are told apart.
	Tokens map[string]string
	// WebhookSecret verifies OpenAI's SIP webhook; empty disables the
	// webhook endpoint (404).
	WebhookSecret string
	// SIPAPI is the voice API SIP calls are answered on (see SIPConfig.API).
	SIPAPI feed.API
}

// DefaultTokenName names SidecarConfig.Token in ended_by.
const DefaultTokenName = "app"

// route is one endpoint of the sidecar's API. docs/openapi.yaml describes
// every one, and a test keeps the two in step.
type route struct {
	pattern string // "METHOD /path", as http.ServeMux takes it
	open    bool   // no bearer token (signed, or a health probe)
	handler http.Handler
}

// routes is the sidecar's API: the one list Handler serves and the
// contract test reads.
func (a *Agent) routes(cfg SidecarConfig) []route {
	rs := []route{
		{pattern: "POST /v1/relay", handler: http.HandlerFunc(a.handleRelay)},
		{pattern: "POST /v1/client_secrets", handler: http.HandlerFunc(a.handleMint)},
		{pattern: "POST /v1/calls", handler: http.HandlerFunc(a.handleTrack)},
		{pattern: "GET /v1/calls", handler: http.HandlerFunc(a.handleList)},
		{pattern: "GET /v1/calls/{call_id}", handler: http.HandlerFunc(a.handleStatus)},
		{pattern: "POST /v1/calls/{call_id}/hangup", handler: http.HandlerFunc(a.handleHangup)},
		{pattern: "GET /healthz", open: true, handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A probe without the token learns only that the agent is
			// up, not its name or how busy it is.
			if _, ok := cfg.caller(r); !ok {
				writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "agent": a.cfg.Name, "calls": len(a.Calls())})
		})},
	}
	if cfg.WebhookSecret != "" {
		rs = append(rs, route{pattern: "POST /v1/webhooks/openai", open: true, handler: a.SIPWebhook(SIPConfig{Secret: cfg.WebhookSecret, API: cfg.SIPAPI})})
	}
	return rs
}

// Handler is the sidecar's HTTP API, for backends not written in Go. The
// backend has authenticated its user; it passes who they are.
//
//	POST /v1/relay?user=USER[&api=live] SDP offer in, SDP answer out (201, Location: /v1/calls/<id>);
//	                                session config in X-Calltop-Session (JSON) or the default;
//	                                api=live creates a GPT-Live session instead of a Realtime call
//	POST /v1/client_secrets         {"user":"…","session":{…},"ttl_seconds":60} → OpenAI's client-secret JSON
//	POST /v1/calls                  {"call_id":"rtc_…","user":"…","model":"…","client_secret":"ek_…","api":"realtime|live"} → 202
//	GET  /v1/calls/{call_id}        the call as `calltop ls --json` prints it, whichever agent tracks it
//	GET  /v1/calls?user=U&state=S   {"calls":[…],"next_cursor":"…"}: live or ended calls, paginated
//	POST /v1/calls/{call_id}/hangup {"reason":"…"} → the ended call, once OpenAI confirmed
//	POST /v1/webhooks/openai        OpenAI's signed realtime.call.incoming webhook (SIP)
//	GET  /healthz                   200 {"ok":true} while the agent runs; with the token, its name and calls too
//
// Errors are JSON {"error":{"code":"…","message":"…"}}. An invalid call ID
// is refused 400 and nothing is dialled; a body over its limit 413
// request_too_large. The token is checked before any body is read. The
// whole contract is docs/openapi.yaml.
func (a *Agent) Handler(cfg SidecarConfig) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes(cfg) {
		h := rt.handler
		if !rt.open {
			h = cfg.auth(h)
		}
		mux.Handle(rt.pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		refuse(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// callerKey carries the calling token's name in a request's context.
type callerKey struct{}

// auth refuses a request without a valid bearer token, before its body
// is read, and tells the handler whose token it was.
func (cfg SidecarConfig) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := cfg.caller(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="calltop"`)
			refuse(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, name)))
	})
}

// callerOf is the name of the token a request came with (DefaultTokenName
// when the API needs none).
func callerOf(r *http.Request) string {
	if name, ok := r.Context().Value(callerKey{}).(string); ok && name != "" {
		return name
	}
	return DefaultTokenName
}

func (a *Agent) handleRelay(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		writeError(w, http.StatusBadRequest, "missing_user", "POST /v1/relay?user=USER: the caller, as your backend authenticated them")
		return
	}
	var session json.RawMessage
	if h := r.Header.Get("X-Calltop-Session"); h != "" {
		if !json.Valid([]byte(h)) {
			writeError(w, http.StatusBadRequest, "invalid_session", "X-Calltop-Session must be a JSON session config")
			return
		}
		session = json.RawMessage(h)
	}
	api := feed.APIRealtime
	if s := r.URL.Query().Get("api"); s != "" {
		var ok bool
		if api, ok = feed.ParseAPI(s); !ok {
			writeError(w, http.StatusBadRequest, "invalid_api", fmt.Sprintf("api %q: want realtime or live", s))
			return
		}
	}
	a.relay(w, r, user, api, session, nil)
}

// mintRequest is the body of POST /v1/client_secrets.
type mintRequest struct {
	User       string          `json:"user"`
	Session    json.RawMessage `json:"session"`
	TTLSeconds int             `json:"ttl_seconds"`
}

func (a *Agent) handleMint(w http.ResponseWriter, r *http.Request) {
	var req mintRequest
	if !decodeJSON(w, r, &req, `{"user":"…","session":{…},"ttl_seconds":60}`) {
		return
	}
	if req.User == "" {
		writeError(w, http.StatusBadRequest, "missing_user", "user is required: whom the key is for")
		return
	}
	out, err := a.MintClientSecret(r.Context(), req.User, req.Session, time.Duration(req.TTLSeconds)*time.Second)
	var ref *RefusedError
	switch {
	case errors.As(err, &ref):
		writeError(w, ref.Status, ref.Reason, ref.Detail)
	case errors.Is(err, ErrInvalidRequest):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case err != nil:
		writeError(w, http.StatusBadGateway, "openai_error", err.Error())
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// trackRequest is the body of POST /v1/calls.
type trackRequest struct {
	CallID       string `json:"call_id"`
	User         string `json:"user"`
	Model        string `json:"model"`
	ClientSecret string `json:"client_secret"`
	// API is "realtime" or "live"; empty: from the id ("live_…" is Live).
	API string `json:"api"`
}

func (a *Agent) handleTrack(w http.ResponseWriter, r *http.Request) {
	var req trackRequest
	if !decodeJSON(w, r, &req, `{"call_id":"rtc_…","user":"…"}`) {
		return
	}
	if err := feed.ValidateCallID(req.CallID); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_call_id", err.Error())
		return
	}
	meta := Meta{User: req.User, Model: req.Model}
	if req.API != "" {
		api, ok := feed.ParseAPI(req.API)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid_api", fmt.Sprintf("api %q: want realtime or live", req.API))
			return
		}
		meta.API = api
	}
	err := a.Track(r.Context(), req.CallID, meta, Async(), WithClientSecret(req.ClientSecret))
	var owned *feed.OwnedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusAccepted, map[string]string{"call_id": req.CallID, "status": "attaching", "agent": a.cfg.Name})
	case errors.Is(err, ErrOtherUser):
		writeError(w, http.StatusConflict, "call_other_user", err.Error())
	case errors.Is(err, ErrTrackedElsewhere) && errors.As(err, &owned):
		// Registered twice (a retry through another backend): it is
		// tracked, by another agent of the fleet.
		writeJSON(w, http.StatusOK, map[string]string{"call_id": req.CallID, "status": "tracked", "agent": owned.Owner.Agent})
	case errors.Is(err, ErrTrackedElsewhere):
		writeError(w, http.StatusConflict, "call_owned", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "agent_closed", err.Error())
	}
}

// decodeJSON reads a strict JSON body into v: one object, no unknown
// field, nothing after it. It answers 413 when the body is over
// maxRequestBody, 400 with the expected shape when it is not right.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return true
		}
		if !tooLarge(err) {
			err = errors.New("more than one JSON value")
		}
	}
	if tooLarge(err) {
		writeTooLarge(w, "JSON body", maxRequestBody)
		return false
	}
	writeError(w, http.StatusBadRequest, "invalid_json", "body must be JSON "+shape+": "+err.Error())
	return false
}

// decodeOptionalJSON is decodeJSON for a body that may be left out
// (empty, or only white space): v is then left as it is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if tooLarge(err) {
		writeTooLarge(w, "JSON body", maxRequestBody)
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "body unreadable: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decodeJSON(w, r, v, shape)
}

// tooLarge reports whether err is http.MaxBytesReader's limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// writeTooLarge answers 413, the same way on every endpoint.
func writeTooLarge(w http.ResponseWriter, what string, limit int) {
	writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", fmt.Sprintf("%s over %d bytes", what, limit))
}

// caller names the token r carries and reports whether it is valid;
// every request is, as DefaultTokenName, when no token is set. The scheme
// is case-insensitive (RFC 7235); every token is compared in constant
// time.
func (cfg SidecarConfig) caller(r *http.Request) (name string, ok bool) {
	if cfg.Token == "" && len(cfg.Tokens) == 0 {
		return DefaultTokenName, true
	}
	scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	got = strings.TrimLeft(got, " ")
	if !strings.EqualFold(scheme, "Bearer") || got == "" {
		return "", false
	}
	if cfg.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(cfg.Token)) == 1 {
		name, ok = DefaultTokenName, true
	}
	for n, tok := range cfg.Tokens {
		if tok != "" && subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 {
			name, ok = n, true
		}
	}
	return name, ok
}

// refuse answers an error before the request's body is read, and closes
// the connection: on a connection kept open, net/http would first read
// what is left of the body (up to 256 KB), so a client trickling one would
// wait as long as it trickles for its 401.
func refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Connection", "close")
	writeError(w, status, code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in OpenAI's error shape, which backends calling both
// already parse.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
