package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/natsserver"
)

// serverFlags are `calltop server`'s settings.
type serverFlags struct {
	listen string
	store  string
	config string
}

func serverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server [flags]",
		Short: "a standalone NATS server with JetStream for small installs",
		Args:  noArgs,
	}
	fs := cmd.Flags()
	var f serverFlags
	fs.StringVar(&f.listen, "listen", "", "address for NATS clients (default 127.0.0.1:4222, or the config file's)")
	fs.StringVar(&f.store, "store", "", "JetStream store `directory` (default: the config file's, else a temporary one, removed on exit)")
	fs.StringVar(&f.config, "config", "", "a nats-server config `file`: users, their permissions, TLS (docs/nats-server.conf); the server then logs as nats-server does")
	_ = cobra.MarkFlagDirname(fs, "store")
	_ = cobra.MarkFlagFilename(fs, "config", "conf")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runServer(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func runServer(ctx context.Context, f serverFlags, stdout, stderr io.Writer) error {
	o := natsserver.Options{StoreDir: f.store, ConfigFile: f.config}
	if f.config != "" {
		o.Log = stderr // who logged in, and what the server refused them
	}
	if f.listen != "" || f.config == "" {
		host, port, err := listenAddr(cmp.Or(f.listen, "127.0.0.1:4222"))
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
