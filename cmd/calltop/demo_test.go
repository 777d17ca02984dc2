package main

import (
	"bytes"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/calltop/calltop/feed"
)

// TestDemoSaysWhereItsNATSListens: when its port is taken the demo's NATS
// moves, and other terminals must be told where, or they act on whatever
// owns the port.
func TestDemoSaysWhereItsNATSListens(t *testing.T) {
	addr := freeAddr(t)
	var out bytes.Buffer
	srv, err := startDemoNATS(addr, &out)
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	if want := "calltop demo: NATS on nats://" + addr + "\n"; out.String() != want {
		t.Errorf("free port: %q, want %q", out.String(), want)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	out.Reset()
	srv, err = startDemoNATS(taken.Addr().String(), &out)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	m := regexp.MustCompile(`^calltop demo: NATS on (nats://127\.0\.0\.1:\d+) \((\S+) is taken by another process; use --nats (\S+) in other terminals\)\n$`).FindStringSubmatch(out.String())
	if m == nil || m[1] != m[3] || m[2] != taken.Addr().String() || strings.HasSuffix(m[1], taken.Addr().String()) {
		t.Fatalf("taken port: %q", out.String())
	}
	nc, err := feed.Connect(m[3], "demo-test")
	if err != nil {
		t.Fatalf("the URL the demo gave does not reach its NATS: %v", err)
	}
	nc.Close()
}
