package agent_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// runNATS starts an embedded NATS with JetStream (in storeDir, or a
// temporary store) and connects to it; both are closed when tb ends.
func runNATS(tb testing.TB, storeDir string) (*natsserver.Server, *nats.Conn) {
	tb.Helper()
	srv, err := natsserver.Run(natsserver.Options{Port: -1, StoreDir: storeDir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if srv.Running() {
			srv.Shutdown()
		}
	})
	nc, err := feed.Connect(srv.ClientURL(), tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return srv, nc
}
