package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/calltop/calltop/natsserver"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server", "server [--listen HOST:PORT] [--store DIR]", stderr)
	listen := fs.String("listen", "127.0.0.1:4222", "address for NATS clients")
	store := fs.String("store", "", "JetStream store directory (default: a temporary one, removed on exit)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("--listen %q: port must be 1-65535", *listen)
	}
	srv, err := natsserver.Run(natsserver.Options{Host: host, Port: port, StoreDir: *store})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	where := *store
	if where == "" {
		where = "a temporary directory (removed on exit)"
	}
	fmt.Fprintf(stdout, "NATS with JetStream on %s, store in %s; ctrl+c to stop\n", srv.ClientURL(), where)
	<-ctx.Done()
	return nil
}
