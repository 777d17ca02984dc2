package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed/feedtest"
)

// runSecureNATS starts a real nats-server with JetStream and opts (its
// TLS, users or trusted operators) on a free loopback port.
func runSecureNATS(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return "nats://" + s.Addr().String()
}

// clientCommands are NATS clients that finish by themselves: each must
// get through a server that demands the security options.
func clientCommands(url string, sec ...string) [][]string {
	return [][]string{
		append([]string{"credits", "set", "bob", "-2.5", "--nats", url}, sec...),
		append([]string{"credits", "ls", "--nats", url}, sec...),
		append([]string{"ls", "--json", "--nats", url}, sec...),
	}
}

// TestTLSClientCertificates: a server that verifies client certificates
// takes every command with --tls-ca, --tls-cert and --tls-key (or NATS_CA,
// NATS_CERT, NATS_KEY), the agent included, and refuses them without.
func TestTLSClientCertificates(t *testing.T) {
	files, err := feedtest.WriteTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: files.ServerCert, KeyFile: files.ServerKey, CaFile: files.CA, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	url := runSecureNATS(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 5})
	for _, args := range clientCommands(url, "--tls-ca", files.CA, "--tls-cert", files.ClientCert, "--tls-key", files.ClientKey) {
		if code, _, errs := calltop(t, args...); code != 0 {
			t.Errorf("%v: exit %d, %q", args[:2], code, errs)
		}
	}
	for _, args := range clientCommands(url, "--tls-ca", files.CA) {
		if code, _, errs := calltop(t, args...); code != 1 || !strings.Contains(errs, "connect to NATS") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v without a client certificate: exit %d, %q", args[:2], code, errs)
		}
	}
	code, _, errs := calltop(t, "ls", "--nats", url, "--tls-ca", files.CA, "--tls-cert", files.ClientCert)
	if code != 1 || !strings.Contains(errs, "certificate needs its key") {
		t.Errorf("--tls-cert without --tls-key: exit %d, %q", code, errs)
	}

	t.Setenv("NATS_CA", files.CA)
	t.Setenv("NATS_CERT", files.ClientCert)
	t.Setenv("NATS_KEY", files.ClientKey)
	for _, args := range clientCommands(url) {
		if code, _, errs := calltop(t, args...); code != 0 {
			t.Errorf("%v with NATS_CA, NATS_CERT, NATS_KEY: exit %d, %q", args[:2], code, errs)
		}
	}
	// The agent connects the same way (here from the environment).
	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var agentErr syncBuffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code := run(ctx, []string{"agent", "--nats", url, "--openai-base-url", rt.BaseURL(), "--listen", freeAddr(t)}, &agentErr, &agentErr); code != 0 {
			t.Errorf("agent over TLS exited %d: %s", code, agentErr.String())
		}
	}()
	waitFor(t, "the agent over TLS", func() bool { return strings.Contains(agentErr.String(), "agent ready") })
}

func TestNKeyUser(t *testing.T) {
	dir := t.TempDir()
	user, err := feedtest.WriteNKeyUser(dir)
	if err != nil {
		t.Fatal(err)
	}
	url := runSecureNATS(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: user.Public}}})
	for _, args := range clientCommands(url, "--nkey", user.SeedFile) {
		if code, _, errs := calltop(t, args...); code != 0 {
			t.Errorf("%v: exit %d, %q", args[:2], code, errs)
		}
	}
	for _, args := range clientCommands(url) {
		code, _, errs := calltop(t, args...)
		if code != 1 || !strings.Contains(errs, "refused these credentials") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v without the nkey: exit %d, %q", args[:2], code, errs)
		}
	}
	t.Setenv("NATS_NKEY", user.SeedFile)
	if code, out, errs := calltop(t, "credits", "ls", "--nats", url); code != 0 || !strings.Contains(out, "-$2.50") {
		t.Errorf("credits ls with NATS_NKEY: exit %d, %q %q", code, out, errs)
	}
	t.Setenv("NATS_NKEY", dir+"/missing.nk")
	if code, _, errs := calltop(t, "ls", "--nats", url); code != 1 || !strings.Contains(errs, "missing.nk") || !strings.Contains(errs, "no such file") {
		t.Errorf("NATS_NKEY naming a missing file: exit %d, %q", code, errs)
	}
}

// TestCredsOperatorMode: a server in operator mode (JWTs, as nsc sets it
// up) takes the commands with --creds or NATS_CREDS.
func TestCredsOperatorMode(t *testing.T) {
	op, err := feedtest.WriteOperator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := op.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	url := runSecureNATS(t, opts)
	for _, args := range clientCommands(url, "--creds", op.Creds) {
		if code, _, errs := calltop(t, args...); code != 0 {
			t.Errorf("%v: exit %d, %q", args[:2], code, errs)
		}
	}
	t.Setenv("NATS_CREDS", op.StrangerCreds)
	if code, _, errs := calltop(t, "ls", "--nats", url); code != 1 || !strings.Contains(errs, "refused these credentials") {
		t.Errorf("a stranger's NATS_CREDS: exit %d, %q", code, errs)
	}
	if code, _, errs := calltop(t, "ls", "--nats", url, "--creds", op.Creds); code != 0 {
		t.Errorf("--creds over NATS_CREDS: exit %d, %q", code, errs)
	}
}
