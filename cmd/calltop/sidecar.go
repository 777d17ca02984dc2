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
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// agentFlags are the sidecar's settings.
type agentFlags struct {
	nats                     natsFlags
	baseURL, listen, name    string
	prices                   string
	maxFrame                 int64
	maxConns                 int
	token, webhookSecret     string
	named                    []string
	sipAPI                   string
	sessionFile, liveSession string
	maxSeconds, maxCost      float64
	maxTokens                int64
	policyPath, creditsDown  string
	adoptAfter, heartbeat    time.Duration
	notify                   notifyFlags
	metricsAddr              string
}

func (f *agentFlags) register(fs *pflag.FlagSet) {
	f.nats.register(fs)
	// Secrets and the base URL (which may carry a proxy's credentials)
	// come from the environment after parsing (env): -h never prints them.
	fs.StringVar(&f.baseURL, "openai-base-url", agent.DefaultBaseURL, "OpenAI REST base `URL`; the sideband URL is derived from it")
	env(fs, "openai-base-url", "OPENAI_BASE_URL")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8787", "`address` of the HTTP API for your backend")
	registerMetricsFlag(fs, &f.metricsAddr)
	fs.StringVar(&f.name, "name", "", "agent name in events (default host-pid)")
	fs.StringVar(&f.prices, "prices", "", "JSON price table `file` laid over the built-in one")
	fs.Int64Var(&f.maxFrame, "max-frame-bytes", 4<<20, "largest sideband frame read, > 0; larger ones are skipped and counted")
	fs.IntVar(&f.maxConns, "max-conns-per-client", 64, "concurrent HTTP connections per client IP address, more are refused 503 (0: no limit; behind a reverse proxy all connections come from the proxy)")
	fs.StringVar(&f.token, "token", "", "bearer token your backend sends (spaces around it are trimmed); required unless --listen is loopback")
	env(fs, "token", "CALLTOP_AGENT_TOKEN")
	fs.StringArrayVar(&f.named, "named-token", nil, "NAME:SECRET, another bearer token (repeatable; the variable takes a comma-separated list): calls it hangs up are ended by NAME")
	env(fs, "named-token", "CALLTOP_AGENT_TOKENS")
	fs.StringVar(&f.webhookSecret, "webhook-secret", "", "OpenAI webhook signing secret, enables POST /v1/webhooks/openai for SIP")
	env(fs, "webhook-secret", "OPENAI_WEBHOOK_SECRET")
	fs.StringVar(&f.sipAPI, "sip-api", "realtime", "the voice API SIP calls are answered on: realtime or live")
	env(fs, "sip-api", "CALLTOP_SIP_API")
	fs.StringVar(&f.sessionFile, "session", "", "JSON `file` with the default realtime session config (type, model, instructions, audio …)")
	fs.StringVar(&f.liveSession, "live-session", "", `JSON `+"`file`"+` with the default GPT-Live session config (model, instructions, delegation …); default {"model":"gpt-live-1"}`)
	fs.Float64Var(&f.maxSeconds, "max-call-seconds", 0, "hang up a call after this many seconds (0: no limit)")
	fs.Int64Var(&f.maxTokens, "max-call-tokens", 0, "hang up a call when its responses reach this many tokens (0: no limit)")
	fs.Float64Var(&f.maxCost, "max-call-cost", 0, "hang up a call when its estimated cost reaches this many USD (0: no limit)")
	fs.StringVar(&f.policyPath, "policy", "", "JSON policy `file`: per-user limits, admission limits, abuse thresholds (docs/BUDGETS.md)")
	fs.StringVar(&f.creditsDown, "credits-unavailable", "", `when the credit store cannot be read: "refuse" new calls (the default), "allow" them, or "hangup" the calls whose credit is unknown; overrides the policy file`)
	fs.DurationVar(&f.adoptAfter, "adopt-after", 15*time.Second, "take over the calls of an agent whose heartbeats stopped this long ago (docs/OPERATIONS.md)")
	fs.DurationVar(&f.heartbeat, "heartbeat", feed.HeartbeatInterval, "how often the agent says it is alive; keep it well under --adopt-after")
	f.notify.register(fs)
	for _, name := range []string{"prices", "session", "live-session", "policy"} {
		_ = cobra.MarkFlagFilename(fs, name, "json")
	}
}

func agentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent [flags]",
		Short: "the agent sidecar: tracks calls posted to its HTTP API, publishes to NATS",
		Long: "The agent sidecar: tracks calls posted to its HTTP API, publishes to NATS.\n\n" +
			"It reads OpenAI's standard API key from OPENAI_API_KEY (never a flag).",
		Args: noArgs,
	}
	var f agentFlags
	f.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runAgent(cmd.Context(), &f, cmd.Flags(), cmd.ErrOrStderr())
	}
	return cmd
}

func runAgent(ctx context.Context, f *agentFlags, fs *pflag.FlagSet, stderr io.Writer) error {
	nf := &f.nats
	sip, ok := feed.ParseAPI(f.sipAPI)
	if !ok {
		return fmt.Errorf("--sip-api %q: want realtime or live", f.sipAPI)
	}
	var err error
	if f.token, err = checkToken(f.token); err != nil {
		return err
	}
	tokens, err := parseNamedTokens(f.named)
	if err != nil {
		return err
	}
	if f.maxFrame <= 0 {
		return fmt.Errorf("--max-frame-bytes %d: want a number of bytes > 0 (default 4194304)", f.maxFrame)
	}
	if f.maxConns < 0 {
		return fmt.Errorf("--max-conns-per-client %d: want ≥ 0 (0: no limit)", f.maxConns)
	}
	if err := checkBaseURL(f.baseURL); err != nil {
		return err
	}
	if f.heartbeat <= 0 || f.adoptAfter < 2*f.heartbeat {
		return fmt.Errorf("--adopt-after %s, --heartbeat %s: want a heartbeat > 0 and adopt-after at least two heartbeats", f.adoptAfter, f.heartbeat)
	}
	notifyCfg, err := f.notify.config(fs)
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
		APIKey: key, BaseURL: f.baseURL, Name: f.name, Prefix: nf.prefix, MaxFrameBytes: f.maxFrame,
		Logger:     slog.New(slog.NewTextHandler(stderr, nil)),
		AdoptAfter: f.adoptAfter, HeartbeatInterval: f.heartbeat, Replicas: nf.replicas, Notify: notifyCfg,
	}
	for _, f := range []struct {
		flag, path string
		dst        *json.RawMessage
	}{{"--session", f.sessionFile, &cfg.DefaultSession}, {"--live-session", f.liveSession, &cfg.DefaultLiveSession}} {
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
	policyFor, err := sidecarPolicy(fs, f.policyPath, f.maxSeconds, f.maxTokens, f.maxCost, f.creditsDown)
	if err != nil {
		return err
	}
	cfg.PolicyFor = policyFor
	if f.token == "" && len(tokens) == 0 && !loopback(f.listen) {
		return fmt.Errorf("--listen %s is not loopback: set --token (or CALLTOP_AGENT_TOKEN) so only your backend can start and register calls", f.listen)
	}
	if f.prices != "" {
		p, err := agent.LoadPrices(f.prices)
		if err != nil {
			return err
		}
		cfg.Prices = p
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	mln, err := listenMetrics(f.metricsAddr)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeMetrics(mln)
	cl, err := nf.connect("calltop-agent")
	if err != nil {
		ln.Close()
		return err
	}
	defer cl.NC.Close()
	sctx, undeny := feed.CancelOnDenied(ctx, cl.NC) // a viewer's user fails here, at once
	store, err := cl.Credits(sctx)
	undeny()
	if err != nil {
		ln.Close()
		return fmt.Errorf("credit store: %w", denied(sctx, err, "the agent takes a NATS user with the agent role"))
	}
	cfg.Credits = credits.FromStore(store)
	a, err := agent.New(ctx, cl.NC, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer serveMetrics(mln, a, cfg.Logger)()
	srv := newSidecarServer(a.Handler(agent.SidecarConfig{Token: f.token, Tokens: tokens, WebhookSecret: f.webhookSecret, SIPAPI: sip}), defaultServerLimits)
	limited := limitConns(ln, f.maxConns, func(ip string) {
		cfg.Logger.Warn("refusing connections over the per-client limit", "client", ip, "max_conns_per_client", f.maxConns)
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	cfg.Logger.Info("agent ready", "api", "http://"+ln.Addr().String(), "nats", nf.redacted(), "openai", feed.RedactURL(f.baseURL), "name", a.Name())

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Stop taking calls, then detach from every call without hanging up:
	// they go on at OpenAI, and their last totals are published.
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	// Not ctx: SIGTERM cancelled it, and the handoff needs its time
	// (bounded by its HandoffWait, 5 s, and a few seconds more).
	if cerr := a.Close(context.Background()); cerr != nil && err == nil {
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
func sidecarPolicy(fs *pflag.FlagSet, file string, maxSeconds float64, maxTokens int64, maxCost float64, creditsDown string) (func(string) policy.Policy, error) {
	if maxSeconds < 0 || maxTokens < 0 || maxCost < 0 {
		return nil, errors.New("--max-call-seconds, --max-call-tokens and --max-call-cost must be ≥ 0")
	}
	if err := (policy.Policy{CreditsUnavailable: creditsDown}).Validate(); err != nil {
		return nil, fmt.Errorf("--credits-unavailable: %w", err)
	}
	var pf *policy.File
	if file != "" {
		f, err := policy.Load(file)
		if err != nil {
			return nil, err
		}
		pf = &f
	}
	given := fs.Changed
	if pf == nil && !given("max-call-seconds") && !given("max-call-tokens") && !given("max-call-cost") && creditsDown == "" {
		return nil, nil
	}
	return func(user string) policy.Policy {
		var p policy.Policy
		if pf != nil {
			p = pf.For(user)
		}
		if given("max-call-seconds") {
			p.MaxSeconds = time.Duration(maxSeconds * float64(time.Second))
		}
		if given("max-call-tokens") {
			p.MaxTokens = maxTokens
		}
		if given("max-call-cost") {
			p.MaxCostUSD = maxCost
		}
		if creditsDown != "" {
			p.CreditsUnavailable = creditsDown
		}
		return p
	}, nil
}
