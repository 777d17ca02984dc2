package realtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

func wsURL(s *Server, callID string) string {
	return strings.Replace(s.BaseURL(), "http://", "ws://", 1) + "/realtime?call_id=" + url.QueryEscape(callID)
}

func authHeader(key string) http.Header {
	return http.Header{"Authorization": {"Bearer " + key}}
}

func dial(s *Server, callID string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL(s, callID), &websocket.DialOptions{HTTPHeader: hdr})
	if c != nil {
		c.SetReadLimit(1 << 24)
	}
	return c, resp, err
}

// attach dials a sideband with the standard key and proves the server has
// registered it (an invalid session.update is answered by an error event).
func attach(t *testing.T, s *Server, callID string) *websocket.Conn {
	t.Helper()
	c, _, err := dial(s, callID, authHeader(s.APIKey()))
	if err != nil {
		t.Fatalf("dial %s: %v", callID, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	send(t, c, `{"type":"session.update","event_id":"evt_probe","session":{}}`)
	ev := readUntil(t, c, "error")
	if ev.errorCode() != "missing_required_parameter" {
		t.Fatalf("probe: got %s", ev.raw)
	}
	return c
}

// configure sends a minimal valid session.update and returns session.updated.
func configure(t *testing.T, c *websocket.Conn) event {
	t.Helper()
	send(t, c, `{"type":"session.update","session":{"type":"realtime"}}`)
	return readUntil(t, c, "session.updated")
}

type event struct {
	raw  []byte
	Type string `json:"type"`
	ID   string `json:"event_id"`
}

func (e event) field(name string, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.raw, &m); err != nil {
		return err
	}
	raw, ok := m[name]
	if !ok {
		return errors.New("no field " + name)
	}
	return json.Unmarshal(raw, v)
}

func (e event) errorCode() string {
	var x struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(e.raw, &x)
	return x.Error.Code
}

func send(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readEvent(c *websocket.Conn, timeout time.Duration) (event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		return event{}, err
	}
	if typ != websocket.MessageText {
		return event{}, errors.New("binary frame from server")
	}
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		return event{}, err
	}
	ev.raw = data
	return ev, nil
}

func readUntil(t *testing.T, c *websocket.Conn, typ string) event {
	t.Helper()
	for {
		ev, err := readEvent(c, 5*time.Second)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}

// readAll reads events until the connection ends and returns them with the
// final error.
func readAll(t *testing.T, c *websocket.Conn) ([]event, error) {
	t.Helper()
	var evs []event
	for {
		ev, err := readEvent(c, 10*time.Second)
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func postJSON(t *testing.T, s *Server, path, key, body string) (*http.Response, []byte) {
	t.Helper()
	return do(t, s, "POST", path, key, "application/json", strings.NewReader(body))
}

// do sends one request relative to BaseURL without keeping connections.
func do(t *testing.T, s *Server, method, path, key, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := tryDo(s, method, path, key, contentType, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, b
}

// tryDo is do without failing the test on transport errors.
func tryDo(s *Server, method, path, key, contentType string, body io.Reader) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, s.BaseURL()+path, body)
	if err != nil {
		return nil, nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// apiErrorOf decodes an OpenAI error body.
func apiErrorOf(t *testing.T, body []byte) apiError {
	t.Helper()
	var x struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(body, &x); err != nil || x.Error == nil {
		t.Fatalf("not an OpenAI error body: %q (%v)", body, err)
	}
	return *x.Error
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
