package realtimetest

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// dialTLS opens a sideband over wss:// with client.
func dialTLS(s *Server, client *http.Client, callID string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := strings.Replace(s.BaseURL(), "https://", "wss://", 1) + "/realtime?call_id=" + url.QueryEscape(callID)
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: client, HTTPHeader: authHeader(s.APIKey())})
	if c != nil {
		c.SetReadLimit(1 << 24)
	}
	return c, err
}

func TestTLSServer(t *testing.T) {
	if plain := newTestServer(t, Options{}); plain.Certificate() != nil {
		t.Fatal("a plain server has a certificate")
	}
	s := NewTLSServer(Options{})
	defer s.Close()
	if !strings.HasPrefix(s.BaseURL(), "https://127.0.0.1:") || s.Certificate() == nil {
		t.Fatalf("BaseURL %q, certificate %v", s.BaseURL(), s.Certificate())
	}

	// A client that does not trust the certificate is refused at the
	// handshake, REST and sideband alike.
	id := s.NewCall(Script{Turns: 1, TurnGap: time.Millisecond, EndAfterTurns: true})
	var unknown x509.UnknownAuthorityError
	if _, err := dialTLS(s, &http.Client{}, id); !errors.As(err, &unknown) {
		t.Fatalf("untrusted sideband dial: %v, want an unknown authority error", err)
	}
	if _, err := http.Post(s.BaseURL()+"/realtime/calls/"+id+"/hangup", "application/json", nil); !errors.As(err, &unknown) {
		t.Fatalf("untrusted REST: %v, want an unknown authority error", err)
	}

	// Client trusts it: a whole call over wss://.
	client := s.Client()
	defer client.CloseIdleConnections()
	c, err := dialTLS(s, client, id)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	configure(t, c)
	evs, err := readAll(t, c)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("call end: %v", err)
	}
	done := 0
	for _, ev := range evs {
		if ev.Type == "response.done" {
			done++
		}
	}
	if done != 1 || s.Emitted(id).Responses != 1 {
		t.Fatalf("%d response.done read, %d emitted; want 1", done, s.Emitted(id).Responses)
	}

	// REST over https (HTTP/2 where the client offers it).
	other := s.NewCall(Script{TurnGap: time.Hour})
	req, _ := http.NewRequest("POST", s.BaseURL()+"/realtime/calls/"+other+"/hangup", nil)
	req.Header = authHeader(s.APIKey())
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || s.Hangups(other) != 1 {
		t.Fatalf("hangup: HTTP %d, %d recorded", resp.StatusCode, s.Hangups(other))
	}

	// A drop cuts the TCP connection under TLS: no close frame.
	dropped := s.NewCall(Script{TurnGap: time.Hour})
	d, err := dialTLS(s, client, dropped)
	if err != nil {
		t.Fatal(err)
	}
	defer d.CloseNow()
	configure(t, d)
	s.DropSideband(dropped)
	if _, err := readAll(t, d); err == nil || websocket.CloseStatus(err) != -1 {
		t.Fatalf("after a drop: %v, want a transport error", err)
	}
}
