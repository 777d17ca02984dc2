package realtimetest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// liveURL is a session's sideband URL; query is added as is ("" for none).
func liveURL(s *Server, id, query string) string {
	u := strings.Replace(s.BaseURL(), "http://", "ws://", 1) + "/live/sessions/" + url.PathEscape(id) + "/attach"
	if query != "" {
		u += "?" + query
	}
	return u
}

func liveDial(s *Server, id, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, liveURL(s, id, query), &websocket.DialOptions{HTTPHeader: hdr})
	if c != nil {
		c.SetReadLimit(1 << 24)
	}
	return c, resp, err
}

// liveAttach dials a session's sideband with the standard key and returns
// it with its first frame, which must be session.started.
func liveAttach(t *testing.T, s *Server, id, query string) (*websocket.Conn, event) {
	t.Helper()
	c, _, err := liveDial(s, id, query, authHeader(s.APIKey()))
	if err != nil {
		t.Fatalf("attach %s: %v", id, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	ev, err := readEvent(c, 5*time.Second)
	if err != nil || ev.Type != "session.started" {
		t.Fatalf("first frame: %s %v", ev.raw, err)
	}
	return c, ev
}

// liveSessionOf decodes the session object of session.started, .updated
// or .closed.
type liveSessionView struct {
	ID           string          `json:"id"`
	Object       string          `json:"object"`
	Model        string          `json:"model"`
	Status       string          `json:"status"`
	ExpiresAt    int64           `json:"expires_at"`
	Instructions *string         `json:"instructions"`
	Delegation   json.RawMessage `json:"delegation"`
	Audio        struct {
		Output struct {
			Voice json.RawMessage `json:"voice"`
		} `json:"output"`
	} `json:"audio"`
}

func liveSessionOf(t *testing.T, ev event) liveSessionView {
	t.Helper()
	var v liveSessionView
	if err := ev.field("session", &v); err != nil {
		t.Fatalf("%s: session: %v", ev.Type, err)
	}
	return v
}

// liveClosed is session.closed.
type liveClosed struct {
	Reason        string          `json:"reason"`
	Session       liveSessionView `json:"session"`
	Usage         liveUsage       `json:"usage"`
	ClientEventID string          `json:"client_event_id"`
}

func liveClosedOf(t *testing.T, ev event) liveClosed {
	t.Helper()
	var c liveClosed
	if ev.Type != "session.closed" {
		t.Fatalf("not session.closed: %s", ev.raw)
	}
	if err := json.Unmarshal(ev.raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// usageSeconds returns session.usage.updated's usage.seconds.
func usageSeconds(t *testing.T, ev event) float64 {
	t.Helper()
	var u liveUsage
	if err := ev.field("usage", &u); err != nil {
		t.Fatalf("usage: %v in %s", err, ev.raw)
	}
	return u.Seconds
}

// liveErr is a Live error event's error.
type liveErr struct {
	Type          string `json:"type"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	Param         any    `json:"param"`
	ClientEventID string `json:"client_event_id"`
}

func liveErrOf(t *testing.T, ev event) liveErr {
	t.Helper()
	var e liveErr
	if ev.Type != "error" {
		t.Fatalf("not an error: %s", ev.raw)
	}
	if err := ev.field("error", &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// readUntilClose reads events until the connection ends and returns them
// with the close status (-1 if it did not end with a close frame).
func readUntilClose(t *testing.T, c *websocket.Conn) ([]event, websocket.StatusCode) {
	t.Helper()
	evs, err := readAll(t, c)
	return evs, websocket.CloseStatus(err)
}

// liveHangup posts a Live hangup with the standard key.
func liveHangup(t *testing.T, s *Server, id string) (*http.Response, []byte) {
	t.Helper()
	return do(t, s, "POST", "/live/sessions/"+id+"/hangup", s.APIKey(), "", nil)
}

const sessionNotFoundBody = `{"error":{"message":"No session found for the provided session_id","type":"invalid_request_error","code":"session_id_not_found","param":"session_id"}}`
