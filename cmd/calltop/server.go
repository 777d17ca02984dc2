package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/calltop/calltop/natsserver"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server", "server [--listen HOST:PORT] [--store DIR] [--config FILE]", stderr)
	listen := fs.String("listen", "", "address for NATS clients (default 127.0.0.1:4222, or the config file's)")
	store := fs.String("store", "", "JetStream store directory (default: the config file's, else a temporary one, removed on exit)")
	config := fs.String("config", "", "a nats-server config file: users and their permissions, TLS (docs/nats-server.conf); the server then logs as nats-server does")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	o := natsserver.Options{StoreDir: *store, ConfigFile: *config, Logs: *config != ""}
	if *listen != "" || *config == "" {
		host, port, err := listenAddr(cmp.Or(*listen, "127.0.0.1:4222"))
		if err != nil {
			return err
		}
		o.Host, o.Port = host, port
	}
	srv, err := natsserver.Run(o)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	where := srv.StoreDir()
	if srv.TempStore() {
		where = "a temporary directory (removed on exit)"
	}
	fmt.Fprintf(stdout, "NATS with JetStream on %s, store in %s; ctrl+c to stop\n", srv.ClientURL(), where)
	<-ctx.Done()
	return nil
}

func listenAddr(listen string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("--listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("--listen %q: port must be 1-65535", listen)
	}
	return host, port, nil
}
