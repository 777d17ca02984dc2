package realtimetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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
