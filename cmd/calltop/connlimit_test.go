package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
)

// serveLimited serves 200 "ok" behind a per-client limit of max and
// returns its address and the clients onLimit was called for.
func serveLimited(t *testing.T, max int) (addr string, limited func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ips []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(limitConns(ln, max, func(ip string) { mu.Lock(); ips = append(ips, ip); mu.Unlock() }))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), ips...) }
}

// get sends GET /healthz on a new connection from local (any if "") and
// returns the status, or 0 if the connection failed.
func get(t *testing.T, addr, local string) int {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusServiceUnavailable && !strings.Contains(string(body), `"too_many_connections"`) {
		t.Errorf("503 without the API's error: %s", body)
	}
	return resp.StatusCode
}

// hold opens a connection that one request has shown admitted and that
// stays open (keep-alive). A slot of a connection closed just before may
// not be free yet: it retries until admitted.
func hold(t *testing.T, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	waitFor(t, "an admitted connection", func() bool {
		var err error
		if c, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: calltop\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			c.Close()
			return false
		}
		_ = c.SetDeadline(time.Time{})
		return true
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// dialHold opens a connection that sends nothing.
func dialHold(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConnLimitPerClient(t *testing.T) {
	addr, limited := serveLimited(t, 2)
	first := hold(t, addr)
	dialHold(t, addr) // a silent one counts too
	// Two connections are held open: a third from the same address is
	// refused with a 503 the client can read, however often it tries.
	for range 3 {
		if got := get(t, addr, ""); got != http.StatusServiceUnavailable {
			t.Fatalf("third connection: %d, want 503", got)
		}
	}
	if got := limited(); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Fatalf("onLimit calls: %v, want one for 127.0.0.1", got)
	}
	// Another client is not limited by this one.
	if got := get(t, addr, "127.0.0.2"); got != http.StatusOK {
		t.Errorf("another client: %d, want 200", got)
	}
	// A closed connection gives its slot back.
	first.Close()
	waitFor(t, "a free slot", func() bool { return get(t, addr, "") == http.StatusOK })
}

// TestSidecarConnLimitTokenAndRedactedLog runs `calltop agent` with a
// limit of two connections per client, a token with spaces around it and
// an OpenAI base URL with credentials.
func TestSidecarConnLimitTokenAndRedactedLog(t *testing.T) {
	natsURL, _ := runNATS(t)
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	base := strings.Replace(rt.BaseURL(), "http://", "http://proxyuser:S3cretPW@", 1)
	apiAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var agentErr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"agent", "--nats", natsURL, "--openai-base-url", base, "--listen", apiAddr, "--max-conns-per-client", "2", "--token", " tok "}, &agentErr, &agentErr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("agent exited %d: %s", code, agentErr.String())
		}
	})
	waitFor(t, "agent ready", func() bool { return strings.Contains(agentErr.String(), "agent ready") })
	if log := agentErr.String(); strings.Contains(log, "S3cretPW") || strings.Contains(log, "proxyuser") || !strings.Contains(log, "xxxxx@127.0.0.1") {
		t.Fatalf("agent log shows the base URL's credentials or no redacted URL:\n%s", log)
	}
	// The token is trimmed: HTTP trims the header that carries it.
	req, _ := http.NewRequest("GET", "http://"+apiAddr+"/healthz", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"agent"`) {
		t.Fatalf("healthz with the trimmed token: %d %s", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
	first := hold(t, apiAddr)
	hold(t, apiAddr)
	if got := get(t, apiAddr, ""); got != http.StatusServiceUnavailable {
		t.Fatalf("third connection: %d, want 503", got)
	}
	if !strings.Contains(agentErr.String(), "refusing connections over the per-client limit") {
		t.Errorf("the refusal is not logged:\n%s", agentErr.String())
	}
	first.Close()
	waitFor(t, "a free slot", func() bool { return get(t, apiAddr, "") == http.StatusOK })
}

// readsUntilClosed reads c until the server closes it, and fails if that
// takes longer than within.
func readsUntilClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, bufio.NewReader(c))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server held the connection for over %s", within)
	}
}
