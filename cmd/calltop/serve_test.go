//go:build unix

package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	gossh "golang.org/x/crypto/ssh"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
)

// sshKey is a client key and its authorized_keys line.
func sshKey(t testing.TB, comment string) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment
}

// servedSSH is `calltop serve` running in-process.
type servedSSH struct {
	addr, fingerprint string
	stderr            *syncBuffer
}

var servingLine = regexp.MustCompile(`calltop serve: SSH on (\S+), host key (SHA256:\S+) \(`)

// startServe runs `calltop serve` with args on a free port until the test
// ends, and reads where it listens and its host key from its first line.
func startServe(t *testing.T, args ...string) *servedSSH {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &servedSSH{stderr: &syncBuffer{}}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--ssh", "127.0.0.1:0"}, args...), io.Discard, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, s.stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve still running 15 s after its context ended")
		}
	})
	waitUntil(t, 15*time.Second, "serve to listen", func() bool {
		m := servingLine.FindStringSubmatch(s.stderr.String())
		if m != nil {
			s.addr, s.fingerprint = m[1], m[2]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, s.stderr.String())
		default:
		}
		return m != nil
	})
	return s
}

// dial logs in with key, accepting only the host key serve announced.
func (s *servedSSH) dial(t *testing.T, key gossh.Signer) *gossh.Client {
	t.Helper()
	c, err := gossh.Dial("tcp", s.addr, &gossh.ClientConfig{
		User: "oncall",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error {
			if fp := gossh.FingerprintSHA256(k); fp != s.fingerprint {
				t.Errorf("host key %s, serve said %s", fp, s.fingerprint)
			}
			return nil
		},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sshScreen is an interactive SSH session drawn by a real terminal: the
// client is golang.org/x/crypto/ssh in this process, and tmux shows what
// it receives (cat from a FIFO, in raw mode), so the test reads the
// screen a person would see and can resize it.
type sshScreen struct {
	*tmuxScreen
	sess  *gossh.Session
	stdin io.Writer
}

func openSSHScreen(t *testing.T, c *gossh.Client, cols, rows int) *sshScreen {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "screen")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	scr := startTmux(t, cols, rows, "stty raw -echo; exec cat "+shellQuote(fifo))
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	var out *os.File
	select {
	case out = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("tmux did not open the screen's FIFO")
	}
	if out == nil {
		t.FailNow()
	}
	t.Cleanup(func() { out.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	sess.Stdout, sess.Stderr = out, out
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", rows, cols, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return &sshScreen{tmuxScreen: scr, sess: sess, stdin: stdin}
}

// keys types k as the person at the terminal would.
func (s *sshScreen) keys(t *testing.T, k string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, k); err != nil {
		t.Fatal(err)
	}
}

// resize resizes the terminal, then tells the server, as ssh does on
// SIGWINCH.
func (s *sshScreen) resize(t *testing.T, cols, rows int) {
	t.Helper()
	if _, err := s.command("resize-window -t s -x " + strconv.Itoa(cols) + " -y " + strconv.Itoa(rows)); err != nil {
		t.Fatal(err)
	}
	if err := s.sess.WindowChange(rows, cols); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the screen meets cond and returns it.
func (s *sshScreen) waitFor(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		lines, err := s.screen()
		if err != nil {
			t.Fatal(err)
		}
		last = strings.Join(lines, "\n")
		if cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s on the screen:\n%s", what, last)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// headerRow is the calls table's column titles.
func headerRow(screen string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "CALL ") {
			return l
		}
	}
	return ""
}

func has(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// TestServeOverSSH drives `calltop serve` with real SSH clients against a
// real agent process and the OpenAI stand-in: a viewer sees the calls,
// its table re-lays on a resize, and it cannot hang up; an operator hangs
// a call up through the keys, and the ended event names the operator's
// key.
func TestServeOverSSH(t *testing.T) {
	natsURL, rt := fleetWorld(t)
	agent := startAgent(t, "api-1", natsURL, rt)
	dir := t.TempDir()
	operator, opLine := sshKey(t, "alice@laptop")
	viewer, viewLine := sshKey(t, "wall-tv@lobby")
	if err := os.WriteFile(filepath.Join(dir, "operators"), []byte(opLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "viewers"), []byte(viewLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// NATS with credentials in its URL: no SSH user may see them.
	withPassword := strings.Replace(natsURL, "nats://", "nats://calltop:s3cret@", 1)
	srv := startServe(t, "--nats", withPassword, "--operator-keys", filepath.Join(dir, "operators"),
		"--viewer-keys", filepath.Join(dir, "viewers"), "--host-key", filepath.Join(dir, "host_key"))

	script := realtimetest.Script{Model: "gpt-realtime", TurnGap: 200 * time.Millisecond}
	kept, doomed := rt.NewCall(script), rt.NewCall(script)
	agent.track(t, kept, "bob@acme.io")
	agent.track(t, doomed, "mallory@acme.io")

	// A spy on the terminate subjects: a hang-up request reaches it as it
	// reaches the owning agent.
	spyNC, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer spyNC.Close()
	subjects, _ := feed.NewSubjects("")
	var requests atomic.Int64
	if _, err := spyNC.Subscribe(subjects.Terminate("*"), func(*nats.Msg) { requests.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := spyNC.Flush(); err != nil {
		t.Fatal(err)
	}

	t.Run("viewer", func(t *testing.T) {
		tv := openSSHScreen(t, srv.dial(t, viewer), 200, 50)
		s := tv.waitFor(t, "both calls, read-only", has(kept[:20], doomed[:20], "READ-ONLY", "api-1"))
		if h := headerRow(s); !strings.Contains(h, "MODEL") || !strings.Contains(h, "AGENT") {
			t.Fatalf("at 200 columns the table lacks MODEL or AGENT: %q", h)
		}
		if strings.Contains(s, "s3cret") || !strings.Contains(s, strings.TrimPrefix(natsURL, "nats://")) {
			t.Errorf("the header does not show the NATS URL redacted:\n%s", s)
		}

		// A window change re-lays the table for 80 columns.
		tv.resize(t, 80, 24)
		tv.waitFor(t, "the 80-column table", func(s string) bool {
			h := headerRow(s)
			return strings.Contains(h, "CALL") && !strings.Contains(h, "MODEL") && !strings.Contains(h, "AGENT")
		})
		tv.resize(t, 200, 50)
		tv.waitFor(t, "the 200-column table again", func(s string) bool { return strings.Contains(headerRow(s), "AGENT") })

		// The hang-up keys say why they do nothing; the dialog's keys
		// then do what they do in the table (enter opens the detail).
		tv.keys(t, "x")
		tv.waitFor(t, "the read-only line", has("hanging up is disabled (viewer key)"))
		tv.keys(t, "\x0b") // ctrl+k
		tv.keys(t, "1\r")
		s = tv.waitFor(t, "the detail view", has("DETAIL", "Call rtc_"))
		if strings.Contains(s, "Hang up call") {
			t.Fatalf("a viewer got the hang-up dialog:\n%s", s)
		}
		if n := requests.Load(); n != 0 {
			t.Fatalf("a viewer's keys sent %d terminate requests", n)
		}
		for _, id := range []string{kept, doomed} {
			if n := rt.Hangups(id); n != 0 {
				t.Errorf("%s: %d hangups at OpenAI after a viewer's keys", id, n)
			}
		}
	})

	t.Run("operator", func(t *testing.T) {
		op := openSSHScreen(t, srv.dial(t, operator), 160, 40)
		op.waitFor(t, "the calls", has(kept[:20], doomed[:20]))
		// Filter to the doomed call, so the selection is on it.
		op.keys(t, "/mallory\r")
		s := op.waitFor(t, "the filtered table", has("1/2 shown"))
		if strings.Contains(s, "READ-ONLY") {
			t.Fatalf("an operator's dashboard is read-only:\n%s", s)
		}
		op.keys(t, "x")
		op.waitFor(t, "the hang-up dialog", has("Hang up call", doomed))
		op.keys(t, "1")
		op.waitFor(t, "reason 1 chosen", has("> 1 abusive or fraudulent caller"))
		op.keys(t, "\r")
		op.waitFor(t, "the ended row", has("ended operator"))

		by := endedBy(t, natsURL, doomed)
		want := "alice@laptop " + gossh.FingerprintSHA256(operator.PublicKey())
		if by != want {
			t.Errorf("End.By = %q, want %q", by, want)
		}
		if n := rt.Hangups(doomed); n != 1 {
			t.Errorf("%d hangups at OpenAI, want 1", n)
		}
		if n := rt.Hangups(kept); n != 0 {
			t.Errorf("the other call got %d hangups", n)
		}
	})
	if strings.Contains(srv.stderr.String(), "s3cret") {
		t.Errorf("serve's output shows the NATS password:\n%s", srv.stderr.String())
	}
	if !strings.Contains(srv.stderr.String(), `who="alice@laptop SHA256:`) {
		t.Errorf("serve's log does not name the operator:\n%s", srv.stderr.String())
	}
}

// endedBy reads the call's ended event from the live-state stream and
// returns its End.By.
func endedBy(t *testing.T, natsURL, id string) string {
	t.Helper()
	cl := feedtest.Connect(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	w, err := cl.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for {
		evs, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("no ended event for %s: %v", id, err)
		}
		for _, e := range evs {
			if e.CallID == id && e.Kind == feed.KindEnded && e.End != nil {
				if e.End.Reason != feed.ReasonOperator || e.End.Detail != "abusive or fraudulent caller" {
					t.Errorf("ended: %+v", *e.End)
				}
				return e.End.By
			}
		}
	}
}

// TestServeKeepsItsHostKey: the first start makes the host key (0600) and
// says so; a restart reads it back, with the same fingerprint.
func TestServeKeepsItsHostKey(t *testing.T) {
	natsURL, _ := runNATS(t)
	dir := t.TempDir()
	_, opLine := sshKey(t, "alice@laptop")
	keys := filepath.Join(dir, "operators")
	if err := os.WriteFile(keys, []byte(opLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "state", "host_key")
	var fps []string
	for i := range 2 {
		t.Run("start", func(t *testing.T) {
			s := startServe(t, "--nats", natsURL, "--operator-keys", keys, "--host-key", hostKey)
			first := strings.SplitN(s.stderr.String(), "\n", 2)[0]
			if isNew := strings.Contains(first, hostKey+", new)"); isNew != (i == 0) {
				t.Errorf("start %d: %q", i+1, first)
			}
			fps = append(fps, s.fingerprint)
		})
	}
	if len(fps) != 2 || fps[0] != fps[1] {
		t.Errorf("fingerprints across restarts: %v", fps)
	}
	if st, err := os.Stat(hostKey); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("host key: %v, %v", st, err)
	}
}

// TestServeRefusesBadSettingsInOneLine: what cannot work is said before
// anything is dialled.
func TestServeRefusesBadSettingsInOneLine(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	_, line := sshKey(t, "bob@laptop")
	if err := os.WriteFile(keys, []byte(`command="rm -rf /" `+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--operator-keys", keys}, "--ssh ADDR is required"},
		{[]string{"--ssh", "127.0.0.1:0"}, "give --operator-keys FILE, --viewer-keys FILE or both"},
		{[]string{"--ssh", "127.0.0.1:0", "--viewer-keys", keys, "--max-sessions", "0"}, "--max-sessions 0"},
		{[]string{"--ssh", "127.0.0.1:0", "--viewer-keys", keys}, "line 1: key options (command=\"rm -rf /\") are not supported"},
	} {
		t.Setenv("CALLTOP_SSH", "")
		code, _, stderr := calltop(t, append([]string{"serve", "--nats", "nats://127.0.0.1:1"}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
}
