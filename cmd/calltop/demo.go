package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// demoFlags are `calltop demo`'s settings.
type demoFlags struct {
	calls      int
	liveShare  float64
	natsListen string
	watch      watchFlags
	headless   headlessFlags
}

func demoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "everything in one process: NATS, an OpenAI stand-in, simulated calls, an agent, the dashboard",
		Example: "  calltop demo --calls 30\n" +
			"  calltop demo --headless --calls 200 --duration 60s --agents 2   # the load generator (docs/BENCHMARKS.md)",
		Args: noArgs,
	}
	fs := cmd.Flags()
	var f demoFlags
	fs.IntVar(&f.calls, "calls", 12, "simulated concurrent calls")
	fs.Float64Var(&f.liveShare, "live-share", 0.3, "the share of simulated calls that are GPT-Live sessions (0 to 1)")
	f.watch.register(fs)
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "where the embedded NATS listens, so calltop ls and calltop watch in another terminal see the demo (a free port if taken; with --headless, a free port unless given)")
	f.headless.register(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runDemo(cmd.Context(), &f, fs, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func runDemo(ctx context.Context, f *demoFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	if f.calls < 1 || f.calls > 10000 {
		return fmt.Errorf("--calls %d: want 1 to 10000", f.calls)
	}
	if !(f.liveShare >= 0 && f.liveShare <= 1) {
		return fmt.Errorf("--live-share %v: want a share from 0 to 1", f.liveShare)
	}
	if err := f.headless.check(fs); err != nil {
		return err
	}
	if f.headless.on {
		return runLoadgen(ctx, f.headless.config(fs, f.calls, f.natsListen), stdout, stderr)
	}
	opts, err := f.watch.options()
	if err != nil {
		return err
	}
	d, err := startDemo(ctx, f.natsListen, f.calls, f.liveShare, stderr)
	if err != nil {
		return err
	}
	defer d.stop()
	opts.Where = d.srv.ClientURL()
	return watchWith(ctx, d.cl, opts)
}

// demo is everything the demo runs but the dashboard: an embedded NATS,
// the OpenAI stand-in simulating calls, and an agent tracking them.
type demo struct {
	srv    *natsserver.Server
	cl     *feed.Client
	openai *realtimetest.Server
	agent  *agent.Agent
	cancel context.CancelFunc
}

// startDemo starts the demo's world; stop ends it.
func startDemo(ctx context.Context, natsListen string, calls int, liveShare float64, stderr io.Writer) (d *demo, err error) {
	d = &demo{}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	if d.srv, err = startDemoNATS(natsListen, stderr); err != nil {
		return nil, err
	}
	if d.cl, err = (&natsFlags{url: d.srv.ClientURL(), prefix: feed.DefaultPrefix}).connect("calltop-demo"); err != nil {
		return d, err
	}
	store, err := d.cl.Credits(ctx)
	if err != nil {
		return d, fmt.Errorf("demo credit store: %w", err)
	}
	for user, amount := range demoCredits {
		if _, err := store.Set(ctx, user, amount); err != nil {
			return d, fmt.Errorf("demo credits: %w", err)
		}
	}
	d.openai = realtimetest.NewServer(realtimetest.Options{})
	d.agent, err = agent.New(ctx, d.cl.NC, agent.Config{
		APIKey: d.openai.APIKey(), BaseURL: d.openai.BaseURL(), Name: "demo-agent",
		PolicyFor: demoPolicy, Credits: credits.FromStore(store),
	})
	if err != nil {
		return d, err
	}
	ctx, d.cancel = context.WithCancel(ctx)
	a := d.agent
	go d.openai.Simulate(ctx, realtimetest.SimConfig{
		Calls: calls,
		Users: demoUsers,
		// Realtime calls and GPT-Live sessions side by side; a Live
		// session's id says it is one, so the agent tracks it as such.
		// Reflected input audio at the real pace: 20 ms of 24 kHz PCM.
		LiveShare: liveShare, LiveAudioEvery: 20 * time.Millisecond,
		OnCall: func(id, user, model string) {
			_ = a.Track(ctx, id, agent.Meta{User: user, Model: model}, agent.Async())
		},
	})
	return d, nil
}

func (d *demo) stop() {
	if d.cancel != nil {
		d.cancel()
	}
	if d.agent != nil {
		_ = d.agent.Close(context.Background())
	}
	if d.openai != nil {
		d.openai.Close()
	}
	if d.cl != nil {
		d.cl.NC.Close()
	}
	if d.srv != nil {
		d.srv.Shutdown()
	}
}

// The demo's users show the budgets at work: a trial user whose credit
// runs out mid-call (policy:credits), kiosks capped per call
// (policy:max_cost), everyone capped at 5 minutes a call.
var (
	demoUsers = []string{
		"alice@acme.io", "ben.okafor@example.com", "chloe.martin@example.org", "dev.patel@example.com",
		"grace.kim@example.org", "hugo.dubois@example.fr", "isla.murphy@example.ie", "jonas.becker@example.de",
		"trial.pat@example.com", "kiosk-7@lobby.example.com", "kiosk-9@lobby.example.com", "liam.walsh@example.com",
	}
	demoCredits = map[string]feed.Micros{"trial.pat@example.com": 0.08 * feed.Dollar, "alice@acme.io": 25 * feed.Dollar}
)

func demoPolicy(user string) policy.Policy {
	p := policy.Policy{MaxSeconds: 5 * time.Minute}
	if strings.HasPrefix(user, "kiosk-") {
		p.MaxCostUSD = 0.05
	}
	return p
}

// startDemoNATS listens on addr, or on a free port when addr is taken (a
// real NATS may already run there), and says on w where it listens: other
// terminals' `calltop ls` and `calltop credits` must be pointed there, or
// they act on whatever owns addr. The dashboard's header shows it too
// (tui.Options.Where), since the line on stderr is gone once it starts.
func startDemoNATS(addr string, w io.Writer) (*natsserver.Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: bad port", addr)
	}
	moved := false
	if port == 0 {
		port = -1 // natsserver.Run's 0 is NATS's 4222
	} else if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
	} else {
		port, moved = -1, true
	}
	srv, err := natsserver.Run(natsserver.Options{Host: host, Port: port})
	if err != nil {
		return nil, err
	}
	if moved {
		fmt.Fprintf(w, "calltop demo: NATS on %s (%s is taken by another process; use --nats %s in other terminals)\n", srv.ClientURL(), addr, srv.ClientURL())
	} else {
		fmt.Fprintf(w, "calltop demo: NATS on %s\n", srv.ClientURL())
	}
	return srv, nil
}
