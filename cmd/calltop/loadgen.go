package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// `calltop demo --headless` is the load generator (issue 11 §5): the demo's
// world at scale without a screen, with the agents in processes of their
// own, and a summary of what it cost, so anyone can reproduce the figures
// in docs/BENCHMARKS.md.

// headlessFlags are the demo's flags for running without a screen.
type headlessFlags struct {
	on       bool
	duration time.Duration
	turnGap  time.Duration
	agents   int
	json     bool
}

// realTimeGap is the stand-in's turn gap at real-world pace.
const realTimeGap = 300 * time.Millisecond

func (h *headlessFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&h.on, "headless", false, "no dashboard: run the load generator (agents as processes of their own) and print what it cost, see docs/BENCHMARKS.md")
	fs.DurationVar(&h.duration, "duration", time.Minute, "with --headless: how long the calls run")
	fs.DurationVar(&h.turnGap, "turn-gap", realTimeGap, "with --headless: the simulated calls' pause between turns; 300ms is real time (call lifetimes scale with it)")
	fs.IntVar(&h.agents, "agents", 1, "with --headless: `calltop agent` processes the calls are spread over")
	fs.BoolVar(&h.json, "json", false, "with --headless: print the summary as one JSON object")
}

// check refuses flags that would do nothing: headless ones without
// --headless, dashboard ones with it.
func (h *headlessFlags) check(fs *pflag.FlagSet) error {
	if !h.on {
		for _, name := range []string{"duration", "turn-gap", "agents", "json"} {
			if fs.Changed(name) {
				return fmt.Errorf("--%s needs --headless", name)
			}
		}
		return nil
	}
	for _, name := range []string{"readonly", "keys"} {
		if fs.Changed(name) {
			return fmt.Errorf("--%s is for the dashboard; --headless has none", name)
		}
	}
	switch {
	case h.duration <= 0 || h.duration > 24*time.Hour:
		return fmt.Errorf("--duration %s: want more than 0 and at most 24h", h.duration)
	case h.turnGap < time.Millisecond || h.turnGap > time.Minute:
		return fmt.Errorf("--turn-gap %s: want 1ms to 1m (300ms is real time)", h.turnGap)
	case h.agents < 1 || h.agents > 32:
		return fmt.Errorf("--agents %d: want 1 to 32", h.agents)
	}
	return nil
}

// config is the run the flags ask for.
func (h *headlessFlags) config(fs *pflag.FlagSet, calls int, natsListen string) loadgenConfig {
	cfg := loadgenConfig{calls: calls, duration: h.duration, turnGap: h.turnGap, agents: h.agents, json: h.json}
	if fs.Changed("nats-listen") {
		cfg.natsListen = natsListen
	}
	return cfg
}

// loadgenConfig is one load-generator run.
type loadgenConfig struct {
	calls    int
	duration time.Duration
	turnGap  time.Duration
	agents   int
	json     bool
	// natsListen is where the embedded NATS listens; "" is a free port.
	natsListen string
}

// loadgenRun is the world of one run, torn down in order by close.
type loadgenRun struct {
	cfg    loadgenConfig
	stderr io.Writer

	srv     *natsserver.Server
	cl      *feed.Client
	js      jetstream.JetStream
	counter *byteCounter
	lat     *latencies
	openai  *realtimetest.Server
	dash    *headlessBoard
	agents  []*agentProc
	reg     *registrar
	stopSim context.CancelFunc
	simDone chan struct{}
}

func (r *loadgenRun) say(format string, a ...any) {
	fmt.Fprintf(r.stderr, "calltop demo --headless: "+format+"\n", a...)
}

// runLoadgen starts the world, lets cfg.calls calls run for cfg.duration,
// stops them, and prints the summary on stdout (progress goes to stderr).
// Interrupted (ctx done), it stops early and still prints what it
// measured, then returns ctx's error.
func runLoadgen(ctx context.Context, cfg loadgenConfig, stdout, stderr io.Writer) (err error) {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("the agents run this binary, which cannot be found: %w", err)
	}
	r := &loadgenRun{cfg: cfg, stderr: stderr, lat: newLatencies()}
	defer r.close()
	if err := r.start(exe); err != nil {
		return err
	}
	sum, err := r.measure(ctx)
	if err != nil {
		return err
	}
	if cfg.json {
		err = sum.writeJSON(stdout)
	} else {
		err = sum.writeText(stdout)
	}
	if err != nil {
		return err
	}
	if sum.Interrupted {
		return ctx.Err()
	}
	return nil
}

// start brings up NATS, the byte counter, the stand-in, the headless
// dashboard and the agent processes.
func (r *loadgenRun) start(exe string) (err error) {
	listen := r.cfg.natsListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if r.srv, err = startDemoNATS(listen, r.stderr); err != nil {
		return err
	}
	if r.cl, err = (&natsFlags{url: r.srv.ClientURL(), prefix: feed.DefaultPrefix}).connect("calltop-loadgen"); err != nil {
		return err
	}
	if r.js, err = jetstream.New(r.cl.NC); err != nil {
		return err
	}
	if r.counter, err = startByteCounter(r.srv.ClientURL(), r.cl.Subjects); err != nil {
		return err
	}
	r.openai = realtimetest.NewServer(realtimetest.Options{OnEmit: r.lat.emitted})
	if r.dash, err = startHeadlessBoard(r.cl, r.lat); err != nil {
		return err
	}
	for i := range r.cfg.agents {
		a, err := startAgentProc(exe, fmt.Sprintf("loadgen-%d", i+1), r.srv.ClientURL(), r.cl.Subjects.Prefix, r.openai.APIKey(), r.openai.BaseURL())
		if err != nil {
			return err
		}
		r.agents = append(r.agents, a)
	}
	return nil
}

// measure runs the calls for the configured duration, stops them, waits
// until every end and final record is stored, and collects the summary.
func (r *loadgenRun) measure(ctx context.Context) (*loadgenSummary, error) {
	cfg := r.cfg
	sum := &loadgenSummary{}
	sum.Config.Calls, sum.Config.Seconds = cfg.calls, cfg.duration.Seconds()
	sum.Config.TurnGapMS, sum.Config.Agents = float64(cfg.turnGap)/float64(time.Millisecond), cfg.agents

	before := make([]procStats, len(r.agents))
	var procErr error
	for i, a := range r.agents {
		s, err := procSample(a.pid())
		if err != nil {
			procErr = err
		}
		before[i] = s
	}
	died := make(chan *agentProc, len(r.agents))
	for _, a := range r.agents {
		go func() { <-a.done; died <- a }()
	}

	r.reg = newRegistrar(r.agents)
	var simCtx context.Context
	simCtx, r.stopSim = context.WithCancel(context.Background())
	r.simDone = make(chan struct{})
	scale := float64(cfg.turnGap) / float64(realTimeGap)
	sim := realtimetest.SimConfig{
		Calls: cfg.calls, TurnGap: cfg.turnGap, OnCall: r.reg.add,
		// The stand-in's default lifetimes (40 s to 4 min), at the
		// run's pace, so a faster run keeps the same mix of calls.
		MinLife: time.Duration(scale * float64(40*time.Second)),
		MaxLife: time.Duration(scale * float64(4*time.Minute)),
	}
	r.say("%d agent process(es) ready; %d calls for %s, turn gap %s", len(r.agents), cfg.calls, cfg.duration, cfg.turnGap)
	start := time.Now()
	r.counter.begin()
	clock := startLiveClock(func() int { return len(r.openai.Live()) }, 100*time.Millisecond)
	go func() {
		defer close(r.simDone)
		r.openai.Simulate(simCtx, sim)
	}()

	window := time.NewTimer(cfg.duration)
	defer window.Stop()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-window.C:
			break wait
		case <-ctx.Done():
			sum.Interrupted = true
			break wait
		case a := <-died:
			clock.stop()
			return nil, fmt.Errorf("%w: %s (%v); its last lines:\n%s", errAgentExited, a.name, a.err, a.log.tail())
		case <-progress.C:
			msgs, b := r.counter.totals()
			r.say("%s: %d calls live, %s messages, %s bytes so far", time.Since(start).Round(time.Second), len(r.openai.Live()), num(float64(msgs), 0), num(float64(b), 0))
		}
	}
	windowEnd := time.Now()
	sum.WindowSeconds = windowEnd.Sub(start).Seconds()
	atStop := make([]procStats, len(r.agents))
	for i, a := range r.agents {
		if s, err := procSample(a.pid()); err == nil {
			atStop[i] = s
		} else if procErr == nil {
			procErr = err
		}
	}
	sum.Calls.LiveAtStop = len(r.openai.Live())
	sum.Calls.EndedInWindow = r.dash.ended()
	liveAtWindowEnd, err := r.streamBytes(r.cl.Subjects.Stream())
	if err != nil {
		return nil, err
	}

	r.say("stopping: the calls end; waiting for every end and final record")
	r.stopSim()
	<-r.simDone
	r.reg.close()
	registered, failed, firstFail := r.reg.registered()
	ended, notSeen := r.dash.waitEnded(registered, 30*time.Second)
	finals, err := r.waitFinals(ended, 15*time.Second)
	if err != nil {
		return nil, err
	}
	callMinutes, peak := clock.stop()
	byKind, kv, dropped := r.counter.stop(5 * time.Second)
	elapsed := time.Since(start)
	sum.ElapsedSeconds = elapsed.Seconds()

	c := &sum.Calls
	c.Started, c.Registered, c.RegisterFailed, c.RegisterError = int(r.reg.next.Load()), len(registered), failed, firstFail
	c.Ended, c.NotSeenEnded, c.PeakLive, c.CallMinutes, c.FinalRecords = ended, notSeen, peak, callMinutes, finals
	for _, w := range byKind {
		sum.Events.Messages += w.Msgs
	}
	sum.Events.PerSecond = float64(sum.Events.Messages) / elapsed.Seconds()
	sum.Events.PerCallMinute = perMinute(float64(sum.Events.Messages), callMinutes)
	sum.NATS.setBytes(byKind, kv, callMinutes)
	sum.NATS.Dropped = dropped

	perCall := func(sb *streamBytes) {
		sb.BytesPerCall = float64(sb.Bytes) / float64(max(c.Registered, 1))
		sb.BytesPerCallMinute = perMinute(float64(sb.Bytes), callMinutes)
	}
	if sum.Stream.LiveState, err = r.streamBytes(r.cl.Subjects.Stream()); err != nil {
		return nil, err
	}
	if sum.Stream.Final, err = r.streamBytes(r.cl.Subjects.FinalStream()); err != nil {
		return nil, err
	}
	if sum.Stream.History, err = r.streamBytes(r.cl.Subjects.HistoryStream()); err != nil {
		return nil, err
	}
	perCall(&sum.Stream.History)
	sum.Stream.LiveStateAtWindowEnd = liveAtWindowEnd
	perCall(&sum.Stream.LiveState)
	perCall(&sum.Stream.Final)
	perCall(&sum.Stream.LiveStateAtWindowEnd)

	sum.Latency.PublishToBoard, sum.Latency.OpenAIToBoard, sum.Latency.ResponsesSent = r.lat.summary(start, windowEnd)
	r.agentUse(sum, before, atStop, procErr, registered, callMinutes, elapsed)
	return sum, nil
}

// agentUse fills the agents' CPU and memory: CPU from before the first
// call to the end of the stop, memory at the window's end over the calls
// then live.
func (r *loadgenRun) agentUse(sum *loadgenSummary, before, atStop []procStats, procErr error, registered map[string]int, callMinutes float64, elapsed time.Duration) {
	a := &sum.AgentUse
	calls := make([]int, len(r.agents))
	for _, i := range registered {
		calls[i]++
	}
	var cpu time.Duration
	var grown int64
	for i, p := range r.agents {
		u := agentUsage{Name: p.name, PID: p.pid(), Calls: calls[i]}
		var heap int
		var ok bool
		u.Warnings, u.Errors, heap, ok = p.log.counts()
		if ok {
			u.HeapLiveMB = &heap
		}
		if procErr == nil {
			end, err := procSample(p.pid())
			if err != nil {
				procErr = err
			} else {
				u.CPUSeconds = (end.CPU - before[i].CPU).Seconds()
				u.RSSBefore, u.RSSAtStop, u.RSSPeak = before[i].RSS, atStop[i].RSS, end.Peak
				cpu += end.CPU - before[i].CPU
				grown += atStop[i].RSS - before[i].RSS
			}
		}
		a.PerAgent = append(a.PerAgent, u)
	}
	if procErr != nil {
		a.Why = procErr.Error()
		return
	}
	a.Measured = true
	a.CPUSeconds = cpu.Seconds()
	a.CPUSecondsPerCallMinute = perMinute(cpu.Seconds(), callMinutes)
	a.CPUPercentOfCore = 100 * cpu.Seconds() / elapsed.Seconds()
	if sum.Calls.LiveAtStop > 0 {
		a.RSSBytesPerCall = float64(grown) / float64(sum.Calls.LiveAtStop)
	}
}

// streamBytes reads a stream's size now.
func (r *loadgenRun) streamBytes(name string) (streamBytes, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return streamBytes{Stream: name}, nil
	}
	if err != nil {
		return streamBytes{}, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return streamBytes{}, fmt.Errorf("stream %s: %w", name, err)
	}
	return streamBytes{Stream: name, Msgs: info.State.Msgs, Bytes: info.State.Bytes}, nil
}

// waitFinals waits until the final-records stream holds at least want
// records (one per ended call), or wait has passed, and returns how many
// it holds.
func (r *loadgenRun) waitFinals(want int, wait time.Duration) (uint64, error) {
	deadline := time.Now().Add(wait)
	for {
		sb, err := r.streamBytes(r.cl.Subjects.FinalStream())
		if err != nil {
			return 0, err
		}
		if sb.Msgs >= uint64(want) || time.Now().After(deadline) {
			return sb.Msgs, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// close tears the world down: the simulation, the agents (SIGTERM, all at
// once), the dashboard, the stand-in, the connections, NATS.
func (r *loadgenRun) close() {
	if r.stopSim != nil {
		r.stopSim()
		<-r.simDone
		r.reg.close()
	}
	var wg sync.WaitGroup
	for _, a := range r.agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.stop(15 * time.Second)
		}()
	}
	wg.Wait()
	if r.dash != nil {
		r.dash.stop()
	}
	if r.openai != nil {
		r.openai.Close()
	}
	if r.counter != nil {
		r.counter.nc.Close()
	}
	if r.cl != nil {
		r.cl.NC.Close()
	}
	if r.srv != nil {
		r.srv.Shutdown()
	}
}

// headlessBoard is a dashboard without a screen: a Watcher folding events
// into a Board, timing each.
type headlessBoard struct {
	w      *feed.Watcher
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	board *feed.Board
}

func startHeadlessBoard(cl *feed.Client, lat *latencies) (*headlessBoard, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := cl.Watch(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	select {
	case <-w.Ready():
	case <-time.After(10 * time.Second):
		w.Stop()
		cancel()
		return nil, errors.New("the dashboard's watch was not ready within 10s")
	}
	d := &headlessBoard{w: w, cancel: cancel, done: make(chan struct{}), board: feed.NewBoard(time.Hour)}
	go func() {
		defer close(d.done)
		for {
			evs, err := w.Next(ctx)
			if err != nil {
				return
			}
			d.mu.Lock()
			for _, e := range evs {
				d.board.Apply(e)
				now := time.Now()
				responses := 0
				if c, ok := d.board.Get(e.CallID); ok && e.CallID != "" {
					responses = c.Usage.Responses
				}
				lat.applied(e, responses, now)
			}
			d.mu.Unlock()
		}
	}()
	return d, nil
}

// ended counts the calls the Board has seen end.
func (d *headlessBoard) ended() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.board.Calls() {
		if !c.Live() {
			n++
		}
	}
	return n
}

// waitEnded waits until every call in ids has ended on the Board, or wait
// has passed; it returns the calls ended and those of ids not seen ending.
func (d *headlessBoard) waitEnded(ids map[string]int, wait time.Duration) (ended, notSeen int) {
	deadline := time.Now().Add(wait)
	for {
		d.mu.Lock()
		notSeen = 0
		for id := range ids {
			if c, ok := d.board.Get(id); !ok || c.Live() {
				notSeen++
			}
		}
		d.mu.Unlock()
		if notSeen == 0 || time.Now().After(deadline) {
			return d.ended(), notSeen
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *headlessBoard) stop() {
	d.cancel()
	d.w.Stop()
	<-d.done
}
