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
	return srv, Connect(tb, srv.ClientURL())
}

// Connect is a client of the NATS at url on the default prefix, closed
// when tb's test ends.
func Connect(tb testing.TB, url string) *feed.Client {
	tb.Helper()
	nc, err := feed.Connect(url, tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	cl, err := feed.NewClient(nc, "")
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}
