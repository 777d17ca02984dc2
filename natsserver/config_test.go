package natsserver

import (
	"os"
	"path/filepath"
	"strings"
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
