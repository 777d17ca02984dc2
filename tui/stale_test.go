package tui

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// TestStaleAcrossANATSRestart runs the dashboard on a real Watcher over
// its own embedded NATS, stops NATS and starts an empty one on the same
// port (a restart that lost its data): the header says STALE while the
// dashboard cannot read, clears once the Watcher has subscribed to the
// new stream, and a call published then shows.
func TestStaleAcrossANATSRestart(t *testing.T) {
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := feed.Connect(srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client, err := feed.NewClient(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := client.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	f := &testFeed{t: t, client: client, src: struct {
		*feed.Watcher
		*feed.Client
	}{w, client}}
	f.startCall(alice.at(time.Now()))
	tm, _ := start(t, f, Options{}, 100, 24)
	waitScreen(t, tm, "alice", contains("alice@", "NATS connected"))

	srv.Shutdown()
	s := waitScreenFor(t, tm, 10*time.Second, "STALE", contains("NATS reconnecting · STALE", "showing the last known state"))
	if !strings.Contains(rowOf(s, "rtc_u1_ETYJ"), "alice@") {
		t.Errorf("the last known state is gone:\n%s", s)
	}

	srv2, err := natsserver.Run(natsserver.Options{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Shutdown() })
	waitScreenFor(t, tm, 15*time.Second, "reading again", func(s string) bool {
		return strings.Contains(s, "NATS connected") && !strings.Contains(s, "STALE") && !strings.Contains(s, "last known state")
	})
	f.startCall(bob.at(time.Now()))
	waitScreen(t, tm, "a call published after the restart", contains("bob@"))
	quit(t, tm)
}
