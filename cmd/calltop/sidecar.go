package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/calltop/calltop/agent"
)

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", "agent [--nats URL] [--openai-base-url URL] [--listen ADDR]", stderr)
	var nf natsFlags
	nf.register(fs)
	baseURL := fs.String("openai-base-url", envOr("OPENAI_BASE_URL", agent.DefaultBaseURL), "OpenAI REST base; the sideband URL is derived from it (env OPENAI_BASE_URL)")
	listen := fs.String("listen", "127.0.0.1:8787", "address of the HTTP API for your backend")
	name := fs.String("name", "", "agent name in events (default host-pid)")
	prices := fs.String("prices", "", "JSON price table laid over the built-in one")
	maxFrame := fs.Int64("max-frame-bytes", 4<<20, "largest sideband frame read; larger ones are skipped and counted")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	key := os.Getenv("OPENAI_API_KEY")
	if key == "" {
		return errors.New("OPENAI_API_KEY is not set (the project's standard key; the agent never uses ephemeral keys)")
	}
	cfg := agent.Config{
		APIKey: key, BaseURL: *baseURL, Name: *name, Prefix: nf.prefix, MaxFrameBytes: *maxFrame,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if *prices != "" {
		p, err := agent.LoadPrices(*prices)
		if err != nil {
			return err
		}
		cfg.Prices = p
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	cl, err := nf.connect("calltop-agent")
	if err != nil {
		ln.Close()
		return err
	}
	defer cl.NC.Close()
	a, err := agent.New(cl.NC, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cfg.Logger.Info("agent ready", "api", "http://"+ln.Addr().String(), "nats", nf.url, "openai", *baseURL, "name", a.Name())

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Stop taking calls, then detach from every call without hanging up:
	// they go on at OpenAI, and their last totals are published.
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if cerr := a.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
