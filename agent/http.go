package agent

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/calltop/calltop/feed"
)

// maxRequestBody bounds what the sidecar API reads from a request.
const maxRequestBody = 64 << 10

// trackRequest is the body of POST /v1/calls.
type trackRequest struct {
	CallID string `json:"call_id"`
	User   string `json:"user"`
	Model  string `json:"model"`
}

// Handler is the sidecar's HTTP API, for backends not written in Go:
//
//	POST /v1/calls  {"call_id":"rtc_…","user":"…","model":"…"}  → 202, the agent attaches
//
// An invalid call ID is answered 400 with a JSON error and nothing is
// dialled. The attach runs in the background, bounded by the agent's life;
// its outcome reaches dashboards as events.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/calls", a.handleTrack)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (a *Agent) handleTrack(w http.ResponseWriter, r *http.Request) {
	var req trackRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "body must be JSON {\"call_id\":\"…\",\"user\":\"…\"}: "+err.Error())
		return
	}
	if err := feed.ValidateCallID(req.CallID); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_call_id", err.Error())
		return
	}
	if err := a.TrackAsync(req.CallID, Meta{User: req.User, Model: req.Model}); err != nil {
		writeError(w, http.StatusServiceUnavailable, "agent_closed", err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"call_id": req.CallID, "status": "attaching"})
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
