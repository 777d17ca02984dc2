package realtimetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// apiError is the body of an OpenAI REST error, sent as {"error":{...}}.
// Field order follows the observed call_id_not_found body.
type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
	Param   any    `json:"param"`
}

// eventError is the "error" object of a sideband error event; its field
// order follows the spec example.
type eventError struct {
	Type    string `json:"type"`
	Code    any    `json:"code"`
	Message string `json:"message"`
	Param   any    `json:"param"`
	EventID any    `json:"event_id"`
}

const invalidRequest = "invalid_request_error"

// errCallNotFound is the exact 404 body observed for unknown or ended calls,
// both on the sideband handshake and on hangup.
var errCallNotFound = apiError{
	Message: "No session found for the provided call_id",
	Type:    invalidRequest,
	Code:    "call_id_not_found",
	Param:   "",
}

// errSessionNotFound is the exact 404 body observed for unknown or ended
// GPT-Live sessions (openai-realtime.md §8): unlike call_id_not_found its
// param is set.
var errSessionNotFound = apiError{
	Message: "No session found for the provided session_id",
	Type:    invalidRequest,
	Code:    "session_id_not_found",
	Param:   "session_id",
}

// errMissingKey answers a request without an Authorization header.
var errMissingKey = apiError{
	Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
	Type:    invalidRequest,
	Code:    "invalid_api_key",
}

// errBadJSON is OpenAI's answer to a body that is not JSON.
var errBadJSON = apiError{
	Message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
	Type:    invalidRequest,
}

// errIncorrectKey answers a wrong key, masked the way OpenAI masks it.
func errIncorrectKey(key string) apiError {
	return apiError{
		Message: "Incorrect API key provided: " + maskKey(key) + ". You can find your API key at https://platform.openai.com/account/api-keys.",
		Type:    invalidRequest,
		Code:    "invalid_api_key",
	}
}

// errInvalidURL is OpenAI's 404 for a route that does not exist.
func errInvalidURL(method, path string) apiError {
	return apiError{Message: fmt.Sprintf("Invalid URL (%s %s)", method, path), Type: invalidRequest}
}

// errParam is a 400-style validation error about one parameter.
func errParam(code, param, message string) apiError {
	return apiError{Message: message, Type: invalidRequest, Code: code, Param: param}
}

// maskKey keeps the first three and last four characters of a key.
func maskKey(key string) string {
	if len(key) <= 8 {
		return strings.Repeat("*", len(key))
	}
	return key[:3] + strings.Repeat("*", len(key)-7) + key[len(key)-4:]
}

// writeError writes an OpenAI error JSON body with the given status.
func writeError(w http.ResponseWriter, status int, e apiError) {
	body, _ := json.Marshal(struct {
		Error apiError `json:"error"`
	}{e})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorEvent encodes a sideband "error" event. clientEventID echoes the
// offending client event's id when it had one (nil otherwise).
func errorEvent(code, message string, param, clientEventID any) []byte {
	return encodeEvent(newEventID(), "error", kv{"error", eventError{
		Type:    invalidRequest,
		Code:    code,
		Message: message,
		Param:   param,
		EventID: clientEventID,
	}})
}

// errRateLimit is OpenAI's 429 body.
var errRateLimit = apiError{
	Message: "Rate limit reached for requests. Please try again later.",
	Type:    "requests",
	Code:    "rate_limit_exceeded",
}

// errServer is OpenAI's 500 body.
var errServer = apiError{
	Message: "The server had an error while processing your request. Sorry about that!",
	Type:    "server_error",
}

// errOverloaded is OpenAI's 503 body.
var errOverloaded = apiError{
	Message: "The server is overloaded or not ready yet.",
	Type:    "server_error",
}

// writeStatus answers an injected failure (HangupStatus, AttachStatus,
// FailAttaches) with the OpenAI error body its status calls for. A 429
// carries Retry-After (whole seconds, rounded up) and Retry-After-Ms
// (which OpenAI's SDKs read first) from Options.HangupRetryAfter.
func (s *Server) writeStatus(w http.ResponseWriter, status int) {
	s.writeStatusAs(w, status, errCallNotFound)
}

// writeStatusAs is writeStatus with the body a 404 or 410 gets: Realtime's
// call_id_not_found or GPT-Live's session_id_not_found.
func (s *Server) writeStatusAs(w http.ResponseWriter, status int, notFound apiError) {
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		writeError(w, status, notFound)
	case status == http.StatusUnauthorized:
		writeError(w, status, errIncorrectKey(s.opts.APIKey))
	case status == http.StatusTooManyRequests:
		d := s.opts.HangupRetryAfter
		w.Header().Set("Retry-After", fmt.Sprint(int64((d+time.Second-1)/time.Second)))
		w.Header().Set("Retry-After-Ms", fmt.Sprint(d.Milliseconds()))
		writeError(w, status, errRateLimit)
	case status == http.StatusServiceUnavailable:
		writeError(w, status, errOverloaded)
	case status >= 500:
		writeError(w, status, errServer)
	default:
		writeError(w, status, apiError{Message: http.StatusText(status), Type: invalidRequest})
	}
}
