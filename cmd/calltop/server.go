package main

import (
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
}

func serverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server [flags]",
		Short: "a standalone NATS server with JetStream for small installs",
		Args:  noArgs,
	}
	fs := cmd.Flags()
	var f serverFlags
	fs.StringVar(&f.listen, "listen", "127.0.0.1:4222", "address for NATS clients")
	fs.StringVar(&f.store, "store", "", "JetStream store `directory` (default: a temporary one, removed on exit)")
	_ = cobra.MarkFlagDirname(fs, "store")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runServer(cmd.Context(), f, cmd.OutOrStdout())
	}
	return cmd
}

func runServer(ctx context.Context, f serverFlags, stdout io.Writer) error {
	listen, store := f.listen, f.store
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("--listen %q: port must be 1-65535", listen)
	}
	srv, err := natsserver.Run(natsserver.Options{Host: host, Port: port, StoreDir: store})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	where := store
	if where == "" {
		where = "a temporary directory (removed on exit)"
	}
	fmt.Fprintf(stdout, "NATS with JetStream on %s, store in %s; ctrl+c to stop\n", srv.ClientURL(), where)
	<-ctx.Done()
	return nil
}
