package natsserver

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFileUsersAndOverrides: a config file's users and permissions
// apply, its listen address and store give way to the Options', and
// JetStream is on even when the file does not say so.
func TestConfigFileUsersAndOverrides(t *testing.T) {
	t.Setenv("TEST_PW", "s3cretpw")
	conf := writeConf(t, `
listen: 127.0.0.1:4222
authorization { users = [ {user: reader, password: $TEST_PW, permissions: {publish: ["$JS.API.INFO"], subscribe: ["_INBOX.>"]}} ] }
`)
	store := t.TempDir()
	srv, err := Run(Options{ConfigFile: conf, Port: -1, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if strings.HasSuffix(srv.ClientURL(), ":4222") || !strings.HasPrefix(srv.StoreDir(), store) || srv.TempStore() {
		t.Fatalf("url %s, store %s (temp %v): the Options did not override the file", srv.ClientURL(), srv.StoreDir(), srv.TempStore())
	}
	if _, err := nats.Connect(srv.ClientURL()); err == nil {
		t.Fatal("connected without the file's user")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("reader", "s3cretpw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("$JS.API.INFO", nil, 2*time.Second); err != nil {
		t.Fatalf("JetStream is not on: %v", err)
	}
}

// TestConfigFileErrorsSayWhat: a variable missing from the environment and
// a bad file fail with the file's name and what is wrong.
func TestConfigFileErrorsSayWhat(t *testing.T) {
	conf := writeConf(t, "authorization { users = [ {user: a, password: $CALLTOP_TEST_UNSET_PW} ] }\n")
	_, err := Run(Options{ConfigFile: conf, Port: -1})
	if err == nil || !strings.Contains(err.Error(), conf) || !strings.Contains(err.Error(), "CALLTOP_TEST_UNSET_PW") {
		t.Fatalf("missing variable: %v", err)
	}
	_, err = Run(Options{ConfigFile: filepath.Join(t.TempDir(), "none.conf"), Port: -1})
	if err == nil || !strings.Contains(err.Error(), "none.conf") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestLogIsLinesWithoutControlCharacters: the server's log reaches Log,
// one line per entry (a refused login, a refused publish), and a client's
// name cannot put escape sequences on the terminal that shows it.
func TestLogIsLinesWithoutControlCharacters(t *testing.T) {
	conf := writeConf(t, "authorization { users = [ {user: u, password: p, permissions: {publish: {deny: [\"x\"]}}} ] }\n")
	var log syncBuffer
	srv, err := Run(Options{ConfigFile: conf, Port: -1, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("u", "wrong")); err == nil {
		nc.Close()
		t.Fatal("logged in with a wrong password")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.Name("evil\x1b[2J"), nats.UserInfo("u", "p"),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("x", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), "authentication error") || !strings.Contains(log.String(), "Publish Violation") {
		if time.Now().After(deadline) {
			t.Fatalf("no refused login in the log:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.ContainsRune(log.String(), 0x1b) || !strings.Contains(log.String(), "evil") || !strings.Contains(log.String(), "[ERR]") {
		t.Fatalf("log:\n%q", log.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
