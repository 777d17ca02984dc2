package sshserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
)

// world is a Server on 127.0.0.1 over an embedded NATS, with one operator
// and one viewer key.
type world struct {
	srv              *Server
	addr             string
	hostKey          gossh.PublicKey
	feed             *feed.Client
	operator, viewer gossh.Signer
}

func newWorld(t *testing.T, tune func(*Config)) *world {
	t.Helper()
	_, cl := feedtest.RunNATS(t)
	// The stream exists, and the connection's shared reply subscription
	// too (made by the first request), before any session.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cl.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := &world{feed: cl}
	var opLine, viewLine string
	w.operator, opLine = newKey(t, "alice@laptop")
	w.viewer, viewLine = newKey(t, "tv@lobby")
	writeFile(t, filepath.Join(dir, "operators"), opLine)
	writeFile(t, filepath.Join(dir, "viewers"), viewLine)
	keys, err := LoadKeyFiles(filepath.Join(dir, "operators"), filepath.Join(dir, "viewers"))
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := LoadOrCreateHostKey(filepath.Join(dir, "host_key"))
	if err != nil {
		t.Fatal(err)
	}
	w.hostKey = host.PublicKey()
	cfg := Config{Feed: cl, Keys: keys, HostKey: host}
	if tune != nil {
		tune(&cfg)
	}
	w.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- w.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return w
}

// dial logs in with auth, checking the server's host key.
func (w *world) dial(auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", w.addr, &gossh.ClientConfig{
		User:            "anyone",
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(w.hostKey),
		Timeout:         5 * time.Second,
	})
}

// lockedBuffer is a session's output, read by the test meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// term is one interactive session, as `ssh -t` opens it.
type term struct {
	sess        *gossh.Session
	stdin       io.WriteCloser
	out, stderr *lockedBuffer
	done        chan error // Wait's result
}

// open starts a session with a PTY of cols×rows and the dashboard in it.
func open(t *testing.T, c *gossh.Client, cols, rows int) *term {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{sess: sess, out: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	sess.Stdout, sess.Stderr = tm.out, tm.stderr
	if tm.stdin, err = sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", rows, cols, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	go func() { tm.done <- sess.Wait() }()
	t.Cleanup(func() { sess.Close() })
	return tm
}

// wait waits for the session to end and returns its exit status.
func (tm *term) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case err := <-tm.done:
		var ee *gossh.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitStatus()
		default:
			t.Fatalf("session: %v (stderr %q)", err, tm.stderr.String())
		}
	case <-time.After(within):
		t.Fatalf("the session is still open after %s (stderr %q)", within, tm.stderr.String())
	}
	return -1
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still no %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnknownKeysAndPasswordsAreRefusedAtAuth: only listed keys get in;
// nothing else is even offered.
func TestUnknownKeysAndPasswordsAreRefusedAtAuth(t *testing.T) {
	w := newWorld(t, nil)
	stranger, _ := newKey(t, "")
	for name, auth := range map[string]gossh.AuthMethod{
		"unknown key":          gossh.PublicKeys(stranger),
		"password":             gossh.Password("hunter2"),
		"keyboard-interactive": gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil }),
	} {
		c, err := w.dial(auth)
		if err == nil {
			c.Close()
			t.Errorf("%s: logged in", name)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, k := range []gossh.Signer{w.operator, w.viewer} {
		c, err := w.dial(gossh.PublicKeys(k))
		if err != nil {
			t.Fatalf("listed key refused: %v", err)
		}
		c.Close()
	}
}

// TestMaxSessionsRefusesWithAMessage: past the limit a session is told
// why and ends with status 1; a session that ends (its client gone)
// frees its slot and its Watcher.
func TestMaxSessionsRefusesWithAMessage(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.MaxSessions = 1 })
	idleSubs := w.feed.NC.NumSubscriptions()
	c1, err := w.dial(gossh.PublicKeys(w.operator))
	if err != nil {
		t.Fatal(err)
	}
	first := open(t, c1, 80, 24)
	waitUntil(t, "first dashboard", func() bool { return w.srv.Sessions() == 1 && strings.Contains(first.out.String(), "calltop") })
	if n := w.feed.NC.NumSubscriptions(); n <= idleSubs {
		t.Fatalf("a dashboard holds no subscription on the shared connection (%d, %d before)", n, idleSubs)
	}

	c2, err := w.dial(gossh.PublicKeys(w.viewer))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	second := open(t, c2, 80, 24)
	if code := second.wait(t, 10*time.Second); code != 1 {
		t.Errorf("refused session exited %d", code)
	}
	if s := second.stderr.String(); !strings.Contains(s, "1 dashboards are open, the most this server allows") {
		t.Errorf("refused session said %q", s)
	}

	c1.Close() // the client goes away without quitting
	waitUntil(t, "the slot back", func() bool { return w.srv.Sessions() == 0 })
	waitUntil(t, "the Watcher's subscription gone", func() bool { return w.feed.NC.NumSubscriptions() == idleSubs })
	third := open(t, c2, 80, 24)
	waitUntil(t, "a dashboard in the freed slot", func() bool { return strings.Contains(third.out.String(), "calltop") })
}

// TestIdleSessionsAreDisconnected: no input for the idle timeout ends the
// session, with the reason on its stderr after the terminal is restored.
func TestIdleSessionsAreDisconnected(t *testing.T) {
	w := newWorld(t, func(c *Config) { c.IdleTimeout = 500 * time.Millisecond })
	c, err := w.dial(gossh.PublicKeys(w.viewer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tm := open(t, c, 80, 24)
	tm.wait(t, 15*time.Second)
	if s := tm.stderr.String(); !strings.Contains(s, "disconnected after 500ms without input") {
		t.Errorf("stderr %q", s)
	}
	// Bubble Tea left the alternate screen before the message.
	if out := tm.out.String(); !strings.Contains(out, "\x1b[?1049l") {
		t.Errorf("the terminal was not restored: %q", tail(out, 200))
	}
	waitUntil(t, "the slot back", func() bool { return w.srv.Sessions() == 0 })
}

// TestShutdownEndsSessionsAndSaysWhy: Shutdown tells every open session
// why it ends, and returns once they are gone.
func TestShutdownEndsSessionsAndSaysWhy(t *testing.T) {
	w := newWorld(t, nil)
	var terms []*term
	for _, k := range []gossh.Signer{w.operator, w.viewer} {
		c, err := w.dial(gossh.PublicKeys(k))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		terms = append(terms, open(t, c, 100, 30))
	}
	waitUntil(t, "two dashboards", func() bool {
		return strings.Contains(terms[0].out.String(), "calltop") && strings.Contains(terms[1].out.String(), "calltop")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The clients keep their connections open after their sessions
	// end: the server closes them.
	if err := w.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, tm := range terms {
		if code := tm.wait(t, 5*time.Second); code != 0 {
			t.Errorf("session %d exited %d", i, code)
		}
		if s := tm.stderr.String(); !strings.Contains(s, "the server is shutting down") {
			t.Errorf("session %d: stderr %q", i, s)
		}
	}
	if _, err := w.dial(gossh.PublicKeys(w.operator)); err == nil {
		t.Error("a login after Shutdown got in")
	}
}

// TestCommandsAreRefused: the server runs the dashboard, nothing else,
// and only on a terminal.
func TestCommandsAreRefused(t *testing.T) {
	w := newWorld(t, nil)
	c, err := w.dial(gossh.PublicKeys(w.operator))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, pty := range []bool{false, true} {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		want := "Requires an active PTY"
		if pty {
			want = "dashboard only"
			if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := sess.CombinedOutput("cat /etc/passwd")
		var ee *gossh.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(string(out), want) {
			t.Errorf("exec (pty %v): %v, %q", pty, err, out)
		}
	}
	if w.srv.Sessions() != 0 {
		t.Errorf("%d sessions counted", w.srv.Sessions())
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("…%q", s[len(s)-n:])
	}
	return s
}
