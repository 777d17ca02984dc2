package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/feed"
)

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", "agent [--nats URL] [--openai-base-url URL] [--listen ADDR]", stderr)
	var nf natsFlags
	nf.register(fs)
	// The base URL may carry a proxy's credentials: like the secrets, it
	// defaults from the environment after parsing.
	baseURL := fs.String("openai-base-url", "", "OpenAI REST base; the sideband URL is derived from it (env OPENAI_BASE_URL; default "+agent.DefaultBaseURL+")")
	listen := fs.String("listen", "127.0.0.1:8787", "address of the HTTP API for your backend")
	name := fs.String("name", "", "agent name in events (default host-pid)")
	prices := fs.String("prices", "", "JSON price table laid over the built-in one")
	maxFrame := fs.Int64("max-frame-bytes", 4<<20, "largest sideband frame read, > 0; larger ones are skipped and counted")
	maxConns := fs.Int("max-conns-per-client", 64, "concurrent HTTP connections per client IP address, more are refused 503 (0: no limit; behind a reverse proxy all connections come from the proxy)")
	// Secrets default from the environment after parsing, so -h never
	// prints them.
	token := fs.String("token", "", "bearer token your backend sends (env CALLTOP_AGENT_TOKEN; spaces around it are trimmed); required unless --listen is loopback")
	var named stringList
	fs.Var(&named, "named-token", "NAME:SECRET, another bearer token (repeatable; env CALLTOP_AGENT_TOKENS, comma-separated): calls it hangs up are ended by NAME")
	webhookSecret := fs.String("webhook-secret", "", "OpenAI webhook signing secret, enables POST /v1/webhooks/openai for SIP (env OPENAI_WEBHOOK_SECRET)")
	sipAPI := fs.String("sip-api", envOr("CALLTOP_SIP_API", "realtime"), "the voice API SIP calls are answered on: realtime or live (env CALLTOP_SIP_API)")
	sessionFile := fs.String("session", "", "JSON file with the default realtime session config (type, model, instructions, audio …)")
	liveSessionFile := fs.String("live-session", "", `JSON file with the default GPT-Live session config (model, instructions, delegation …); default {"model":"gpt-live-1"}`)
	maxSeconds := fs.Float64("max-call-seconds", 0, "hang up a call after this many seconds (0: no limit)")
	maxTokens := fs.Int64("max-call-tokens", 0, "hang up a call when its responses reach this many tokens (0: no limit)")
	maxCost := fs.Float64("max-call-cost", 0, "hang up a call when its estimated cost reaches this many USD (0: no limit)")
	policyPath := fs.String("policy", "", "JSON policy file: per-user limits, admission limits, abuse thresholds (docs/BUDGETS.md)")
	creditsDown := fs.String("credits-unavailable", "", `when the credit store cannot be read: "refuse" new calls (the default), "allow" them, or "hangup" the calls whose credit is unknown; overrides the policy file`)
	adoptAfter := fs.Duration("adopt-after", 15*time.Second, "take over the calls of an agent whose heartbeats stopped this long ago (docs/OPERATIONS.md)")
	heartbeat := fs.Duration("heartbeat", feed.HeartbeatInterval, "how often the agent says it is alive; keep it well under --adopt-after")
	var notify notifyFlags
	notify.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *token == "" {
		*token = os.Getenv("CALLTOP_AGENT_TOKEN")
	}
	if *webhookSecret == "" {
		*webhookSecret = os.Getenv("OPENAI_WEBHOOK_SECRET")
	}
	sip, ok := feed.ParseAPI(*sipAPI)
	if !ok {
		return fmt.Errorf("--sip-api %q: want realtime or live", *sipAPI)
	}
	if *baseURL == "" {
		*baseURL = envOr("OPENAI_BASE_URL", agent.DefaultBaseURL)
	}
	var err error
	if *token, err = checkToken(*token); err != nil {
		return err
	}
	tokens, err := parseNamedTokens(named, os.Getenv("CALLTOP_AGENT_TOKENS"))
	if err != nil {
		return err
	}
	if *maxFrame <= 0 {
		return fmt.Errorf("--max-frame-bytes %d: want a number of bytes > 0 (default 4194304)", *maxFrame)
	}
	if *maxConns < 0 {
		return fmt.Errorf("--max-conns-per-client %d: want ≥ 0 (0: no limit)", *maxConns)
	}
	if err := checkBaseURL(*baseURL); err != nil {
		return err
	}
	if *heartbeat <= 0 || *adoptAfter < 2**heartbeat {
		return fmt.Errorf("--adopt-after %s, --heartbeat %s: want a heartbeat > 0 and adopt-after at least two heartbeats", *adoptAfter, *heartbeat)
	}
	notifyCfg, err := notify.config(fs)
	if err != nil {
		return err
	}
	key := os.Getenv("OPENAI_API_KEY")
	if key == "" {
		return errors.New("OPENAI_API_KEY is not set (the project's standard key; the agent never uses ephemeral keys)")
	}
	if strings.HasPrefix(strings.TrimSpace(key), "ek_") {
		return errors.New("OPENAI_API_KEY is an ephemeral key (ek_…): the sideband needs the project's standard key (sk-…); OpenAI refuses sidebands opened with ephemeral keys")
	}
	cfg := agent.Config{
		APIKey: key, BaseURL: *baseURL, Name: *name, Prefix: nf.prefix, MaxFrameBytes: *maxFrame,
		Logger:     slog.New(slog.NewTextHandler(stderr, nil)),
		AdoptAfter: *adoptAfter, HeartbeatInterval: *heartbeat, Replicas: nf.replicas, Notify: notifyCfg,
	}
	for _, f := range []struct {
		flag, path string
		dst        *json.RawMessage
	}{{"--session", *sessionFile, &cfg.DefaultSession}, {"--live-session", *liveSessionFile, &cfg.DefaultLiveSession}} {
		if f.path == "" {
			continue
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
		if !json.Valid(data) {
			return fmt.Errorf("%s %s: not valid JSON", f.flag, f.path)
		}
		*f.dst = data
	}
	policyFor, err := sidecarPolicy(fs, *policyPath, *maxSeconds, *maxTokens, *maxCost, *creditsDown)
	if err != nil {
		return err
	}
	cfg.PolicyFor = policyFor
	if *token == "" && len(tokens) == 0 && !loopback(*listen) {
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
	sctx, undeny := feed.CancelOnDenied(ctx, cl.NC) // a viewer's user fails here, at once
	credits, err := cl.Credits(sctx)
	undeny()
	if err != nil {
		ln.Close()
		return fmt.Errorf("credit store: %w", denied(sctx, err, "the agent takes a NATS user with the agent role"))
	}
	cfg.Credits = agent.StoreCredits(credits)
	a, err := agent.New(cl.NC, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := newSidecarServer(a.Handler(agent.SidecarConfig{Token: *token, Tokens: tokens, WebhookSecret: *webhookSecret, SIPAPI: sip}), defaultServerLimits)
	limited := limitConns(ln, *maxConns, func(ip string) {
		cfg.Logger.Warn("refusing connections over the per-client limit", "client", ip, "max_conns_per_client", *maxConns)
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	cfg.Logger.Info("agent ready", "api", "http://"+ln.Addr().String(), "nats", nf.redacted(), "openai", feed.RedactURL(*baseURL), "name", a.Name())

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

// sidecarPolicy combines the policy file with the per-call limit flags:
// the file gives each user's policy, and a limit flag given on the command
// line overrides that limit for every user.
func sidecarPolicy(fs *flag.FlagSet, file string, maxSeconds float64, maxTokens int64, maxCost float64, creditsDown string) (func(string) agent.Policy, error) {
	if maxSeconds < 0 || maxTokens < 0 || maxCost < 0 {
		return nil, errors.New("--max-call-seconds, --max-call-tokens and --max-call-cost must be ≥ 0")
	}
	if err := (agent.Policy{CreditsUnavailable: creditsDown}).Validate(); err != nil {
		return nil, fmt.Errorf("--credits-unavailable: %w", err)
	}
	var pf *agent.PolicyFile
	if file != "" {
		f, err := agent.LoadPolicyFile(file)
		if err != nil {
			return nil, err
		}
		pf = &f
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if pf == nil && !given["max-call-seconds"] && !given["max-call-tokens"] && !given["max-call-cost"] && creditsDown == "" {
		return nil, nil
	}
	return func(user string) agent.Policy {
		var p agent.Policy
		if pf != nil {
			p = pf.For(user)
		}
		if given["max-call-seconds"] {
			p.MaxSeconds = time.Duration(maxSeconds * float64(time.Second))
		}
		if given["max-call-tokens"] {
			p.MaxTokens = maxTokens
		}
		if given["max-call-cost"] {
			p.MaxCostUSD = maxCost
		}
		if creditsDown != "" {
			p.CreditsUnavailable = creditsDown
		}
		return p
	}, nil
}
