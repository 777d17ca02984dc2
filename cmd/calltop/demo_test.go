package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

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

// TestDemoRuns: the demo's world (NATS, stand-in, agent) starts and its
// simulated calls reach `calltop ls` with their users, as the README's
// second terminal would see them: Realtime calls counting tokens and
// GPT-Live sessions counting billed seconds, side by side.
func TestDemoRuns(t *testing.T) {
	var errs bytes.Buffer
	d, err := startDemo(context.Background(), freeAddr(t), 6, 0.5, &errs)
	if err != nil {
		t.Fatalf("demo: %v (%s)", err, errs.String())
	}
	defer d.stop()
	waitUntil(t, 30*time.Second, "6 demo calls in ls, Realtime and Live, both counting", func() bool {
		n, rt, live := 0, 0, 0
		for _, c := range lsJSON(t, d.srv.ClientURL()) {
			if c.User == "" || c.Agent != "demo-agent" {
				continue
			}
			n++
			switch {
			case c.API == feed.APILive && c.LiveSeconds > 0 && c.Tokens.Total == 0:
				live++
			case c.API == feed.APIRealtime && c.Tokens.Total > 0:
				rt++
			}
		}
		return n >= 6 && rt > 0 && live > 0
	})
}
