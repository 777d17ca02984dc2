package feedtest

import (
	"testing"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// RunNATS starts an embedded NATS with JetStream on a free loopback port
// and returns it with a client on the default prefix, as the commands and
// agents use; both stop when tb's test ends.
func RunNATS(tb testing.TB) (*natsserver.Server, *feed.Client) {
	tb.Helper()
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := feed.Connect(srv.ClientURL(), tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	cl, err := feed.NewClient(nc, "")
	if err != nil {
		tb.Fatal(err)
	}
	return srv, cl
}
