package agent

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/calltop/calltop/feed"
)

// maxSDP bounds an SDP offer; real ones are a few KB.
const maxSDP = 64 << 10

// createCallTimeout bounds the POST to OpenAI that creates a call.
const createCallTimeout = 20 * time.Second

// RelayConfig configures the SDP relay, the secure way to start calls: the
// browser posts its SDP offer to the app, never holds a key, and the
// agent tracks the call before the browser gets its answer.
type RelayConfig struct {
	// User names the caller from the request: the app's own
	// authentication. An error answers 401 and nothing else happens.
	User func(r *http.Request) (string, error)
	// Admit may refuse the call (return a *RefusedError, e.g. out of credits)
	// before OpenAI is contacted. Config.Admit is asked first.
	Admit func(r *http.Request, user string) error
	// Session returns the session config for this caller: a Realtime
	// config ("type":"realtime"), or for API feed.APILive a GPT-Live one
	// ({"model":"gpt-live-1",…}); nil or empty uses Config.DefaultSession
	// or Config.DefaultLiveSession.
	Session func(r *http.Request, user string) (json.RawMessage, error)
	// API is the voice API the relay creates calls on: feed.APIRealtime
	// (the default) or feed.APILive, whose sessions are created with
	// POST /v1/live/sessions and tracked as Live before the browser gets
	// its answer.
	API feed.API
}

// Relay returns the SDP relay handler. Mount it where the browser posts
// its offer (Content-Type: application/sdp). It answers 201 with the SDP
// answer (application/sdp) and Location: /v1/calls/<call_id>, after
// creating the call with the standard key and the app's session config
// (OpenAI's multipart "unified interface") and starting to track it.
func (a *Agent) Relay(cfg RelayConfig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST an SDP offer")
			return
		}
		if cfg.User == nil {
			writeError(w, http.StatusInternalServerError, "misconfigured", "relay: RelayConfig.User is not set")
			return
		}
		user, err := cfg.User(r)
		if err != nil {
			refuse(w, http.StatusUnauthorized, "unauthorized", err.Error())
			return
		}
		var session json.RawMessage
		if cfg.Session != nil {
			if session, err = cfg.Session(r, user); err != nil {
				writeError(w, http.StatusInternalServerError, "session_config", err.Error())
				return
			}
		}
		var admit func() error
		if cfg.Admit != nil {
			admit = func() error { return cfg.Admit(r, user) }
		}
		a.relay(w, r, user, cfg.API, session, admit)
	})
}

// relay is the relay's work once the caller is known: shared by Relay and
// the sidecar's POST /v1/relay.
func (a *Agent) relay(w http.ResponseWriter, r *http.Request, user string, api feed.API, session json.RawMessage, admit func() error) {
	offer, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDP))
	if tooLarge(err) {
		writeTooLarge(w, "SDP offer", maxSDP)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_sdp", "SDP offer unreadable: "+err.Error())
		return
	}
	if !bytes.HasPrefix(bytes.TrimLeft(offer, " \r\n\t"), []byte("v=0")) {
		writeError(w, http.StatusBadRequest, "invalid_sdp", `body must be an SDP offer (starting "v=0")`)
		return
	}
	var model string
	create := a.createCall
	if api == feed.APILive {
		session, model, err = a.liveSessionConfig(session)
		create = a.createLiveSession
	} else {
		session, model, err = a.sessionConfig(session)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "session_config", err.Error())
		return
	}
	counted, credits, unknown, ref := a.admit(r.Context(), ModeRelay, user, false, admit)
	if ref != nil {
		writeError(w, ref.Status, ref.Reason, ref.Detail)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), createCallTimeout)
	defer cancel()
	callID, answer, status, err := create(ctx, offer, session)
	if err != nil {
		if counted {
			a.release(user)
		}
		writeError(w, status, "openai_error", err.Error())
		return
	}
	// Track before the browser has its answer: no event of the call can
	// happen before we are listening, and a terminate works at once. The
	// call exists at OpenAI now: a browser that left must not leave it
	// untracked.
	if err := a.Track(context.WithoutCancel(r.Context()), callID, Meta{User: user, Model: model, API: api, admitted: counted, credits: credits, creditsUnknown: unknown}, Async()); err != nil {
		a.log.Error("relay: call created but not tracked", "call", callID, "err", err)
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/v1/calls/"+callID)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(answer)
}

// createCall posts the offer and session to OpenAI's POST
// /realtime/calls in the multipart form (openai-go has no method for it)
// and returns the call ID from Location and the SDP answer. On failure,
// status is what to answer the browser: OpenAI's own 4xx for a bad offer,
// 502 for everything that is not the browser's fault.
func (a *Agent) createCall(ctx context.Context, offer []byte, session json.RawMessage) (callID string, answer []byte, status int, err error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct {
		name, ctype string
		data        []byte
	}{{"sdp", "application/sdp", offer}, {"session", "application/json", session}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, part.name))
		h.Set("Content-Type", part.ctype)
		pw, err := mw.CreatePart(h)
		if err != nil {
			return "", nil, http.StatusInternalServerError, fmt.Errorf("create call: %w", err)
		}
		_, _ = pw.Write(part.data)
	}
	if err := mw.Close(); err != nil {
		return "", nil, http.StatusInternalServerError, fmt.Errorf("create call: %w", err)
	}
	data, header, status, err := a.create(ctx, "create call", "/realtime/calls", mw.FormDataContentType(), &body, maxSDP)
	if err != nil {
		return "", nil, status, err
	}
	loc := header.Get("Location")
	callID = loc[strings.LastIndexByte(loc, '/')+1:]
	if err := feed.ValidateCallID(callID); err != nil {
		return "", nil, http.StatusBadGateway, fmt.Errorf("create call: Location %q: %w", loc, err)
	}
	return callID, data, 0, nil
}

// create POSTs body to OpenAI at path with the standard key and reads
// the answer (at most limit bytes); what names the request in errors. On
// failure, status is what to answer the browser: OpenAI's own 400 or 422
// for a bad offer or session, 502 for everything that is not the
// browser's fault, 500 for our own.
func (a *Agent) create(ctx context.Context, what, path, contentType string, body io.Reader, limit int64) (data []byte, header http.Header, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.BaseURL+path, body)
	if err != nil {
		return nil, nil, http.StatusInternalServerError, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.APIKey)
	req.Header.Set("Content-Type", contentType)
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, nil, http.StatusBadGateway, fmt.Errorf("%s at OpenAI: %w", what, err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, http.StatusBadGateway, fmt.Errorf("%s: read answer: %w", what, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		status := http.StatusBadGateway
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity {
			status = resp.StatusCode // the offer or the session was wrong
		}
		return nil, nil, status, fmt.Errorf("%s: OpenAI answered %d: %s", what, resp.StatusCode, openAIMessage(data))
	}
	return data, resp.Header, 0, nil
}

// openAIMessage extracts error.message from an OpenAI error body, or the
// start of the body.
func openAIMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		if e.Error.Code != "" {
			return e.Error.Code + ": " + e.Error.Message
		}
		return e.Error.Message
	}
	return strings.TrimSpace(string(body[:min(len(body), 200)]))
}
