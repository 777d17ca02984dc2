package feed

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://a:S1@h:1", "nats://xxxxx@h:1"},
		{"nats://S1tok@h:1", "nats://xxxxx@h:1"},                                 // token only
		{"nats://a@h:1", "nats://xxxxx@h:1"},                                     // user only
		{"a:S1@h:1", "xxxxx@h:1"},                                                // no scheme
		{"S1tok@h:1", "xxxxx@h:1"},                                               // no scheme, token
		{"nats://a:S1@h:1,nats://c:S2@h:2", "nats://xxxxx@h:1,nats://xxxxx@h:2"}, // list without spaces
		{"nats://a:S1@h:1, nats://c:S2@h:2", "nats://xxxxx@h:1, nats://xxxxx@h:2"},
		{"nats://a:S1@h:1 , c:S2@h:2", "nats://xxxxx@h:1 , xxxxx@h:2"},
		{"nats://h1:1,nats://c:S2@h:2,h3:3", "nats://h1:1,nats://xxxxx@h:2,h3:3"},
		{"tls://a:S1@[::1]:4222", "tls://xxxxx@[::1]:4222"},
		{"nats://a:p@S1@h:1", "nats://xxxxx@h:1"},   // '@' in the password
		{"nats://a:p/S1#x@h:1", "nats://xxxxx@h:1"}, // '/' and '#' in the password
		{"nats://a:p%zzS1@h:1", "nats://xxxxx@h:1"}, // does not parse
		{"nats://a:p,S1@h:1", "nats://xxxxx@h:1"},   // ',' in the password
		{"tls://S1tok@nats.local", "tls://xxxxx@nats.local"},
		{"http://u:S1@proxy.example.com/v1", "http://xxxxx@proxy.example.com/v1"},
		{"", ""},
	} {
		got := RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "S1") || strings.Contains(got, "S2") {
			t.Errorf("RedactURL(%q) = %q shows a secret", tc.in, got)
		}
	}
}

// TestConnectErrorHidesCredentials: nats.go quotes a URL it cannot parse,
// or a piece of it, in its error.
func TestConnectErrorHidesCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // nothing answers NATS here once closed
	ln.Close()
	for _, url := range []string{
		"nats://a:S1@" + dead,
		"a:S1@" + dead,
		"nats://a:S1@" + dead + ", nats://c:S2@" + dead,
		"nats://a:S1%zz@" + dead,
		"nats://a:S1,S2@" + dead,
		"nats://a:S1@h h:1",
	} {
		_, err := Connect(url, "redact-test")
		if err == nil {
			t.Fatalf("Connect(%q) succeeded", url)
		}
		msg := err.Error()
		if strings.Contains(msg, "S1") || strings.Contains(msg, "S2") || !strings.Contains(msg, "connect to NATS at ") {
			t.Errorf("Connect(%q): %s", url, msg)
		}
	}
	_, err = Connect("nats://a:S1@"+dead, "redact-test")
	if !errors.Is(err, nats.ErrNoServers) {
		t.Errorf("redacted error no longer unwraps to nats.ErrNoServers: %v", err)
	}
}
