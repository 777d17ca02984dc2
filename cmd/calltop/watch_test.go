package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestWatchRefusesABadKeyFileInOneLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "keys.conf")
	if err := os.WriteFile(bad, []byte("hangup = q\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The key file is read before NATS is dialled: no server is needed to
	// learn that it is wrong.
	code, _, stderr := calltop(t, "watch", "--keys", bad, "--nats", "nats://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, `key "q" bound to both hangup and quit`) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = calltop(t, "watch", "--keys", filepath.Join(dir, "none.conf"), "--nats", "nats://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "--keys: keys file") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestWatchFlagsReadTheDefaultKeyFileAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("CALLTOP_KEYS", "")
	t.Setenv("CALLTOP_READONLY", "1")
	if err := os.MkdirAll(filepath.Join(dir, "calltop"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "calltop", "keys.conf"), []byte("quit = Q\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("watch", pflag.ContinueOnError)
	var wf watchFlags
	wf.register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	opts, err := wf.options()
	if err != nil {
		t.Fatal(err)
	}
	if !opts.ReadOnly || opts.Keys == nil || strings.Join(opts.Keys.Keys("quit"), ",") != "Q" {
		t.Errorf("options = %+v", opts)
	}
	if !strings.Contains(opts.Operator, "@") {
		t.Errorf("operator %q is not user@host", opts.Operator)
	}
}
