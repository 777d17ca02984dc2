package main

import (
	"net/http"
	"time"
)

// serverLimits bound what one client can hold of the sidecar's HTTP
// server: without a read timeout, a client that announces a body and
// trickles it keeps its connection (and goroutine) for ever.
type serverLimits struct {
	// header bounds reading a request's headers, read the whole request
	// with its body (bodies are at most 256 KB of JSON or 64 KB of SDP).
	header, read time.Duration
	// write bounds the handler and its response, from the end of the
	// headers: it must leave room for the relay, which creates the call
	// at OpenAI (up to 20 s) after admission has read the user's credit
	// from NATS, and for a client secret minted with retries.
	write time.Duration
	// idle closes a keep-alive connection that waits this long for its
	// next request.
	idle time.Duration
}

var defaultServerLimits = serverLimits{header: 10 * time.Second, read: 30 * time.Second, write: 60 * time.Second, idle: 60 * time.Second}

func newSidecarServer(h http.Handler, l serverLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.header,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
	}
}
