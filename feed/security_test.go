package feed_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/feed/feedtest"
)

// runSecureServer starts a real nats-server with opts on a free loopback
// port and returns its client URL.
func runSecureServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// connectWith connects with sec and checks a round trip through the
// server; it returns the error of whichever step failed.
func connectWith(t *testing.T, url string, sec feed.Security) error {
	t.Helper()
	opts, err := sec.Options()
	if err != nil {
		return err
	}
	nc, err := feed.Connect(url, t.Name(), opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("ping")
	if err != nil {
		return err
	}
	if err := nc.Publish("ping", []byte("x")); err != nil {
		return err
	}
	_, err = sub.NextMsg(5 * time.Second)
	return err
}

func TestSecurityTLSWithClientCertificates(t *testing.T) {
	files, err := feedtest.WriteTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: files.ServerCert, KeyFile: files.ServerKey, CaFile: files.CA, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	url := runSecureServer(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 5})

	if err := connectWith(t, url, feed.Security{CA: files.CA, Cert: files.ClientCert, Key: files.ClientKey}); err != nil {
		t.Fatalf("with the CA and a client certificate: %v", err)
	}
	for _, tc := range []struct {
		name string
		sec  feed.Security
		want string
	}{
		{"no CA (the system's do not know the server)", feed.Security{}, "certificate"},
		{"no client certificate", feed.Security{CA: files.CA}, "connect to NATS"},
		{"a CA that did not sign the server's", feed.Security{CA: files.OtherCA, Cert: files.ClientCert, Key: files.ClientKey}, "certificate"},
		{"the server's certificate as the client's", feed.Security{CA: files.CA, Cert: files.ServerCert, Key: files.ServerKey}, "connect to NATS"},
	} {
		err := connectWith(t, url, tc.sec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestSecurityNKeyUser(t *testing.T) {
	dir := t.TempDir()
	user, err := feedtest.WriteNKeyUser(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := feedtest.WriteNKeyUser(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	url := runSecureServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: user.Public}}})
	if err := connectWith(t, url, feed.Security{NKey: user.SeedFile}); err != nil {
		t.Fatalf("the listed user: %v", err)
	}
	for name, sec := range map[string]feed.Security{"no nkey": {}, "another user's nkey": {NKey: other.SeedFile}} {
		err := connectWith(t, url, sec)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") || !strings.Contains(err.Error(), "refused these credentials") {
			t.Errorf("%s: %v; want an authorization violation with a hint", name, err)
		}
	}
}

// TestSecurityCredsOperatorMode: a server that trusts an operator's JWTs
// (as nsc sets one up) admits a user from its .creds file, and no one
// else.
func TestSecurityCredsOperatorMode(t *testing.T) {
	op, err := feedtest.WriteOperator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := op.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	url := runSecureServer(t, opts)
	if err := connectWith(t, url, feed.Security{Creds: op.Creds}); err != nil {
		t.Fatalf("the account's user: %v", err)
	}
	for name, sec := range map[string]feed.Security{"no creds": {}, "a user of an unknown account": {Creds: op.StrangerCreds}} {
		if err := connectWith(t, url, sec); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("%s: %v; want an authorization violation", name, err)
		}
	}
}

// TestSecurityBadFiles: every file is read and checked before dialling;
// an error names the file and what is wrong with it, and never quotes
// its content (a seed given as the wrong option stays secret).
func TestSecurityBadFiles(t *testing.T) {
	dir := t.TempDir()
	files, err := feedtest.WriteTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	user, err := feedtest.WriteNKeyUser(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(user.SeedFile)
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.txt")
	if err := os.WriteFile(junk, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		sec  feed.Security
		want []string
	}{
		{feed.Security{Creds: missing}, []string{"creds file", missing, "no such file"}},
		{feed.Security{Creds: junk}, []string{"creds file", junk, "no user JWT"}},
		{feed.Security{Creds: user.SeedFile}, []string{"creds file", "no user JWT"}},
		{feed.Security{NKey: missing}, []string{"nkey file", missing, "no such file"}},
		{feed.Security{NKey: junk}, []string{"nkey file", junk, "no user nkey seed"}},
		{feed.Security{NKey: files.ClientKey}, []string{"nkey file", "no user nkey seed"}},
		{feed.Security{CA: missing}, []string{"CA file", missing, "no such file"}},
		{feed.Security{CA: user.SeedFile}, []string{"CA file", user.SeedFile, "no PEM certificate"}},
		{feed.Security{Cert: files.ClientCert}, []string{"certificate needs its key"}},
		{feed.Security{Key: files.ClientKey}, []string{"certificate needs its key"}},
		{feed.Security{Cert: user.SeedFile, Key: files.ClientKey}, []string{"client certificate", user.SeedFile}},
		{feed.Security{Cert: files.ClientCert, Key: files.ServerKey}, []string{"does not match"}},
		{feed.Security{Creds: junk, NKey: user.SeedFile}, []string{"give one of them"}},
	} {
		_, err := tc.sec.Options()
		if err == nil {
			t.Errorf("%+v: no error", tc.sec)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %q does not mention %q", tc.sec, err, w)
			}
		}
		if strings.Contains(err.Error(), strings.TrimSpace(string(seed))) || strings.Contains(err.Error(), "not a key") {
			t.Errorf("%+v: the error quotes the file: %q", tc.sec, err)
		}
	}
	if opts, err := (feed.Security{}).Options(); err != nil || len(opts) != 0 {
		t.Errorf("zero Security: %d options, %v", len(opts), err)
	}
}
