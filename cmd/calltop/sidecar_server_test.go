package main

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestSidecarServerLimits(t *testing.T) {
	if l := defaultServerLimits; l.header <= 0 || l.read < l.header || l.idle <= 0 || l.write < 45*time.Second {
		t.Fatalf("default limits %+v: each must be set, and write must leave the relay room for OpenAI (20 s) and admission", l)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The handler reads the body, as an authorized request's does.
	srv := newSidecarServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}), serverLimits{header: 200 * time.Millisecond, read: 400 * time.Millisecond, write: 2 * time.Second, idle: 300 * time.Millisecond})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	t.Run("trickled body", func(t *testing.T) {
		c := dialHold(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		readsUntilClosed(t, c, 3*time.Second)
	})
	t.Run("half a header", func(t *testing.T) {
		c := dialHold(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		readsUntilClosed(t, c, 3*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dialHold(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		readsUntilClosed(t, c, 3*time.Second) // the answer, then the close
	})
}
