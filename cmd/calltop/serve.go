package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	gossh "golang.org/x/crypto/ssh"

	"github.com/calltop/calltop/sshserve"
	"github.com/calltop/calltop/tui"
)

// serveFlags are `calltop serve`'s own settings.
type serveFlags struct {
	addr        string
	operators   string
	viewers     string
	hostKey     string
	maxSessions int
	idle        time.Duration
	keys        string
}

func (f *serveFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.addr, "ssh", "", "`address` to serve SSH on, e.g. :2222 or 127.0.0.1:2222 (required)")
	env(fs, "ssh", "CALLTOP_SSH")
	fs.StringVar(&f.operators, "operator-keys", "", "authorized_keys `file` of the keys that may hang calls up")
	env(fs, "operator-keys", "CALLTOP_OPERATOR_KEYS")
	fs.StringVar(&f.viewers, "viewer-keys", "", "authorized_keys `file` of the keys that may only watch; a key in both files is an operator")
	env(fs, "viewer-keys", "CALLTOP_VIEWER_KEYS")
	fs.StringVar(&f.hostKey, "host-key", "", "the server's ed25519 host key `file`, created (mode 0600) if missing (default calltop/ssh_host_ed25519_key in the user's config directory)")
	env(fs, "host-key", "CALLTOP_HOST_KEY")
	fs.IntVar(&f.maxSessions, "max-sessions", sshserve.DefaultMaxSessions, "most SSH sessions open at once; more are refused with a message")
	env(fs, "max-sessions", "CALLTOP_MAX_SESSIONS")
	fs.DurationVar(&f.idle, "idle-timeout", sshserve.DefaultIdleTimeout, "disconnect a session after this long without a key or resize; 0 never, e.g. for a wall screen")
	env(fs, "idle-timeout", "CALLTOP_IDLE_TIMEOUT")
	fs.StringVar(&f.keys, "keys", "", "key bindings `file` for every session, action = key, key lines or .json")
	env(fs, "keys", "CALLTOP_KEYS")
	for _, name := range []string{"operator-keys", "viewer-keys", "host-key", "keys"} {
		_ = cobra.MarkFlagFilename(fs, name)
	}
}

// check refuses settings that cannot work, before anything is dialled.
func (f *serveFlags) check() error {
	switch {
	case f.addr == "":
		return fmt.Errorf("--ssh ADDR is required, e.g. --ssh :2222")
	case f.operators == "" && f.viewers == "":
		return fmt.Errorf("give --operator-keys FILE, --viewer-keys FILE or both: nobody could log in")
	case f.maxSessions < 1:
		return fmt.Errorf("--max-sessions %d: want at least 1", f.maxSessions)
	case f.idle < 0:
		return fmt.Errorf("--idle-timeout %s: want 0 (never) or more", f.idle)
	}
	return nil
}

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve --ssh ADDR --operator-keys FILE [--viewer-keys FILE] [flags]",
		Short: "the dashboard over SSH, a role per key",
		Args:  noArgs,
	}
	fs := cmd.Flags()
	var nf natsFlags
	nf.register(fs)
	var sf serveFlags
	sf.register(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runServe(cmd.Context(), &nf, &sf, cmd.ErrOrStderr())
	}
	return cmd
}

func runServe(ctx context.Context, nf *natsFlags, sf *serveFlags, stderr io.Writer) error {
	if err := sf.check(); err != nil {
		return err
	}
	keys, err := sshserve.LoadKeyFiles(sf.operators, sf.viewers)
	if err != nil {
		return err
	}
	dash := tui.Options{}
	if sf.keys != "" {
		km, err := tui.LoadKeyMap(sf.keys)
		if err != nil {
			return fmt.Errorf("--keys: %w", err)
		}
		dash.Keys = &km
	}
	hostPath := sf.hostKey
	if hostPath == "" {
		if hostPath, err = sshserve.DefaultHostKeyPath(); err != nil {
			return err
		}
	}
	host, created, err := sshserve.LoadOrCreateHostKey(hostPath)
	if err != nil {
		return err
	}
	cl, err := nf.connect("calltop-serve")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	dash.Where = nf.redacted() // every SSH user sees it: never its credentials

	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := sshserve.New(sshserve.Config{
		Feed: cl, Keys: keys, HostKey: host,
		MaxSessions: sf.maxSessions, IdleTimeout: sf.idle,
		Dashboard: dash, Log: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		return fmt.Errorf("--ssh %s: %w", sf.addr, err)
	}
	ops, views := keys.Counts()
	made := ""
	if created {
		made = ", new"
	}
	fmt.Fprintf(stderr, "calltop serve: SSH on %s, host key %s (%s%s); %d operator and %d viewer keys; NATS %s\n",
		ln.Addr(), gossh.FingerprintSHA256(host.PublicKey()), hostPath, made, ops, views, nf.redacted())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Every session is told why and given a moment to restore its
	// terminal before its connection is closed.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	<-served
	return nil
}
