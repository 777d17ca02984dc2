package main

import (
	"context"
	"encoding/json"
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
	token := fs.String("token", os.Getenv("CALLTOP_AGENT_TOKEN"), "bearer token your backend sends (env CALLTOP_AGENT_TOKEN); required unless --listen is loopback")
	webhookSecret := fs.String("webhook-secret", os.Getenv("OPENAI_WEBHOOK_SECRET"), "OpenAI webhook signing secret, enables POST /v1/webhooks/openai for SIP (env OPENAI_WEBHOOK_SECRET)")
	sessionFile := fs.String("session", "", "JSON file with the default realtime session config (type, model, instructions, audio …)")
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
	if *sessionFile != "" {
		data, err := os.ReadFile(*sessionFile)
		if err != nil {
			return fmt.Errorf("--session: %w", err)
		}
		if !json.Valid(data) {
			return fmt.Errorf("--session %s: not valid JSON", *sessionFile)
		}
		cfg.DefaultSession = data
	}
	if *token == "" && !loopback(*listen) {
		return fmt.Errorf("--listen %s is not loopback: set --token (or CALLTOP_AGENT_TOKEN) so only your backend can start and register calls", *listen)
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
	srv := &http.Server{Handler: a.Handler(agent.SidecarConfig{Token: *token, WebhookSecret: *webhookSecret}), ReadHeaderTimeout: 10 * time.Second}
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

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
