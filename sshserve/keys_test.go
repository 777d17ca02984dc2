package sshserve

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// newKey makes a client key and its authorized_keys line.
func newKey(t testing.TB, comment string) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
	if comment != "" {
		line += " " + comment
	}
	return s, line
}

func writeFile(t testing.TB, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	a, aLine := newKey(t, "alice@laptop")
	b, bLine := newKey(t, "")
	c, cLine := newKey(t, "mallory\x1b]0;pwned\x07 "+strings.Repeat("x", 100))
	keys, err := ParseAuthorizedKeys([]byte("# operators\n\n"+aLine+"\n  "+bLine+"  \n"+cLine+"\n"), RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("%d keys, want 3", len(keys))
	}
	id := keys[string(a.PublicKey().Marshal())]
	want := "alice@laptop " + gossh.FingerprintSHA256(a.PublicKey())
	if id.Role != RoleOperator || id.String() != want || !strings.HasPrefix(id.Fingerprint, "SHA256:") {
		t.Errorf("alice = %+v (%q), want %q", id, id.String(), want)
	}
	if id := keys[string(b.PublicKey().Marshal())]; id.String() != gossh.FingerprintSHA256(b.PublicKey()) {
		t.Errorf("a key without a comment signs as %q, want its fingerprint alone", id.String())
	}
	// A comment is shown on screens: no control characters, bounded.
	if id := keys[string(c.PublicKey().Marshal())]; strings.ContainsAny(id.Comment, "\x1b\x07") || len([]rune(id.Comment)) > maxComment {
		t.Errorf("comment %q is not safe to show", id.Comment)
	}

	for name, tc := range map[string]struct{ data, want string }{
		"not a key":   {aLine + "\nssh-ed25519 notbase64 bob\n", "line 2:"},
		"key options": {`from="10.0.0.0/8" ` + aLine + "\n", "line 1: key options (from=\"10.0.0.0/8\") are not supported"},
	} {
		if _, err := ParseAuthorizedKeys([]byte(tc.data), RoleViewer); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// TestKeyFiles: a key in both files is an operator; the files are read
// again when they change; a file that breaks grants nothing until fixed.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	ops, views := filepath.Join(dir, "operators"), filepath.Join(dir, "viewers")
	alice, aliceOp := newKey(t, "alice@ops")
	aliceView := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(alice.PublicKey()))) + " alice@viewers"
	bob, bobLine := newKey(t, "bob@tv")
	writeFile(t, ops, aliceOp)
	writeFile(t, views, aliceView, bobLine)

	if _, err := LoadKeyFiles("", ""); err != ErrNoKeyFiles {
		t.Errorf("no files: %v", err)
	}
	if _, err := LoadKeyFiles(filepath.Join(dir, "missing"), views); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	k, err := LoadKeyFiles(ops, views)
	if err != nil {
		t.Fatal(err)
	}
	if o, v := k.Counts(); o != 1 || v != 2 {
		t.Errorf("counts %d, %d", o, v)
	}
	if id, ok, _ := k.Lookup(alice.PublicKey()); !ok || id.Role != RoleOperator || id.Comment != "alice@ops" {
		t.Errorf("alice, in both files: %+v %v; want the operator", id, ok)
	}
	if id, ok, _ := k.Lookup(bob.PublicKey()); !ok || id.Role != RoleViewer {
		t.Errorf("bob: %+v %v", id, ok)
	}

	// bob is removed: refused at his next login, no restart.
	writeFile(t, views, aliceView, "# bob left")
	bump(t, views)
	if _, ok, _ := k.Lookup(bob.PublicKey()); ok {
		t.Error("bob still admitted after his key was removed")
	}
	// The operators' file breaks: alice, an operator only there, is
	// not an operator any more; she is still a viewer.
	writeFile(t, ops, "ssh-ed25519 garbage")
	bump(t, ops)
	id, ok, failed := k.Lookup(alice.PublicKey())
	if !ok || id.Role != RoleViewer || len(failed) != 1 || !strings.Contains(failed[0].Error(), "operator keys") {
		t.Errorf("with a broken operators' file: %+v %v %v", id, ok, failed)
	}
	writeFile(t, ops, aliceOp)
	bump(t, ops)
	if id, _, failed := k.Lookup(alice.PublicKey()); id.Role != RoleOperator || failed != nil {
		t.Errorf("fixed: %+v %v", id, failed)
	}
}

// bump moves a file's modification time on, as a later edit would: a
// rewrite within the file system's clock tick may keep the old one.
func bump(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	at := st.ModTime().Add(time.Second)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// TestHostKeyCreatedOnceAndKept: the first start makes the key (0600,
// its directory 0700), later starts read the same key; a key others can
// read is refused.
func TestHostKeyCreatedOnceAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf", "calltop", "ssh_host_ed25519_key")
	s1, created, err := LoadOrCreateHostKey(path)
	if err != nil || !created {
		t.Fatalf("first: created %v, %v", created, err)
	}
	if s1.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Errorf("key type %s", s1.PublicKey().Type())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}
	s2, created, err := LoadOrCreateHostKey(path)
	if err != nil || created {
		t.Fatalf("second: created %v, %v", created, err)
	}
	if a, b := gossh.FingerprintSHA256(s1.PublicKey()), gossh.FingerprintSHA256(s2.PublicKey()); a != b {
		t.Errorf("fingerprint changed across starts: %s, %s", a, b)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateHostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
}
