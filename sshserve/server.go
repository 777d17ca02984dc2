package sshserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/activeterm"
	gossh "golang.org/x/crypto/ssh"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

// DefaultMaxSessions bounds the dashboards open at once. Each holds its
// own copy of the calls (a Board and the table's rows) and reads every
// event: docs/BENCHMARKS.md measures what 20 cost on a 2-core machine.
const DefaultMaxSessions = 20

// DefaultIdleTimeout is how long a session may go without a key, a paste,
// a click or a resize before it is disconnected: an operator's terminal
// left open somewhere should not keep its hang-up keys forever.
const DefaultIdleTimeout = 30 * time.Minute

// handshakeTimeout bounds a connection that has not authenticated yet.
const handshakeTimeout = 30 * time.Second

// Config is what a Server needs. Feed and Keys and HostKey are required.
type Config struct {
	// Feed is the one NATS connection every session reads from (each
	// session has its own Watcher on it) and sends hang-ups through.
	Feed *feed.Client
	// Keys decides who may log in, and as what.
	Keys *KeyFiles
	// HostKey is the server's key (see LoadOrCreateHostKey).
	HostKey gossh.Signer
	// MaxSessions bounds the sessions open at once; DefaultMaxSessions if
	// zero, none if negative.
	MaxSessions int
	// IdleTimeout disconnects a session without input for that long; none
	// if zero or negative.
	IdleTimeout time.Duration
	// Dashboard is every session's dashboard options. Its Where is shown
	// to every SSH user: give it without credentials (feed.RedactURL).
	// Operator, ReadOnly and ReadOnlyWhy are set per session, from the
	// key.
	Dashboard tui.Options
	// Log receives a line per session and per refused login; discarded if
	// nil.
	Log *slog.Logger
}

// Server serves the dashboard over SSH.
type Server struct {
	cfg Config
	log *slog.Logger
	srv *ssh.Server

	// base ends with Shutdown; every session's context follows it.
	base context.Context
	stop context.CancelCauseFunc

	mu       sync.Mutex
	sessions int
	wg       sync.WaitGroup // sessions running
}

// errShutdown ends the sessions when the server shuts down.
var errShutdown = errors.New("the server is shutting down")

// New checks cfg and makes a Server; Serve starts it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Feed == nil:
		return nil, errors.New("sshserve: no feed")
	case cfg.Keys == nil:
		return nil, errors.New("sshserve: no key files")
	case cfg.HostKey == nil:
		return nil, errors.New("sshserve: no host key")
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	s := &Server{cfg: cfg, log: cfg.Log}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.base, s.stop = context.WithCancelCause(context.Background())
	srv, err := wish.NewServer(
		ssh.PublicKeyAuth(s.authorize),
		func(srv *ssh.Server) error {
			srv.AddHostKey(cfg.HostKey)
			srv.HandshakeTimeout = handshakeTimeout
			srv.ConnectionFailedCallback = s.connFailed
			return nil
		},
		// The last runs first: a terminal is required before anything
		// is set up for the session.
		wish.WithMiddleware(s.dashboard, activeterm.Middleware()),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Serve accepts SSH connections on ln until Shutdown, then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("ssh serve: %w", err)
}

// Shutdown stops accepting connections, ends every session (each is told
// why, after its terminal is restored) and waits for them until ctx ends.
// Clients close their connections once their sessions end; a connection
// still open a moment later (one without a session) is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stop(errShutdown) // under mu: no session starts after this
	s.mu.Unlock()
	shut := make(chan error, 1)
	go func() { shut <- s.srv.Shutdown(ctx) }() // closes the listeners at once
	ended := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(ended)
	}()
	var err error
	select {
	case <-ended:
	case <-ctx.Done():
		err = fmt.Errorf("ssh shutdown: sessions still open: %w", ctx.Err())
	}
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()
	select {
	case <-shut:
		return err
	case <-grace.C:
	case <-ctx.Done():
	}
	s.srv.Close()
	<-shut
	return err
}

// closeGrace is how long Shutdown leaves clients to close their
// connections after their sessions ended.
const closeGrace = time.Second

// Sessions is how many sessions are open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// authorize admits the keys the key files list. It is also asked about
// keys a client merely offers, so it decides nothing more: the session
// looks the role up again from the key the connection authenticated with.
func (s *Server) authorize(ctx ssh.Context, key ssh.PublicKey) bool {
	_, ok, failed := s.cfg.Keys.Lookup(key)
	for _, err := range failed {
		s.log.Warn("key file unusable: its keys are refused until it is fixed", "err", err)
	}
	if !ok {
		s.log.Debug("key refused", "from", ctx.RemoteAddr().String(), "fingerprint", gossh.FingerprintSHA256(key))
	}
	return ok
}

// connFailed logs connections that did not get through the handshake:
// most are refused logins.
func (s *Server) connFailed(conn net.Conn, err error) {
	s.log.Info("connection refused", "from", conn.RemoteAddr().String(), "err", err)
}

// acquire takes a session slot, if one is free; why says why not.
func (s *Server) acquire() (why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base.Err() != nil {
		return errShutdown
	}
	if s.cfg.MaxSessions > 0 && s.sessions >= s.cfg.MaxSessions {
		return fmt.Errorf("%d dashboards are open, the most this server allows: try again later", s.sessions)
	}
	s.sessions++
	s.wg.Add(1)
	return nil
}

func (s *Server) release() {
	s.mu.Lock()
	s.sessions--
	s.mu.Unlock()
	s.wg.Done()
}
