package tui

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// natsURL is the embedded NATS server shared by the package's tests; each
// test gets its own subject prefix, so they never see each other's calls.
var natsURL string

func TestMain(m *testing.M) {
	if os.Getenv(spinEnv) != "" {
		spin() // a busy core for BenchmarkFrame (benchbusy_test.go)
		return
	}
	if spec := os.Getenv(workerEnv); spec != "" {
		runWorker(spec) // one implementation under BenchmarkFrame's load
		return
	}
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tui tests: embedded NATS:", err)
		os.Exit(1)
	}
	natsURL = srv.ClientURL()
	code := m.Run()
	srv.Shutdown()
	os.Exit(code)
}

var prefixSeq atomic.Int64

// testFeed is one test's slice of NATS: an agent-side client that
// publishes and serves terminate requests, and the dashboard's Source.
type testFeed struct {
	t      *testing.T
	client *feed.Client
	src    Source
	seq    sync.Map // call ID → *atomic.Uint64
}

// newFeed connects to the embedded server under a fresh prefix and starts
// a real feed.Watcher on it.
func newFeed(t *testing.T) *testFeed {
	t.Helper()
	nc, err := feed.Connect(natsURL, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client, err := feed.NewClient(nc, fmt.Sprintf("t%d_%d", os.Getpid(), prefixSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The stream feed.EnsureStream would create reserves 1 GiB of the
	// server's JetStream storage, so a long test run exhausts it; Watch
	// keeps an existing stream as it is, so each test makes a small one.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       client.Subjects.Stream(),
		Subjects:   client.Subjects.Stored(),
		Storage:    jetstream.MemoryStorage,
		MaxBytes:   8 << 20,
		Duplicates: 2 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	w, err := client.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &testFeed{t: t, client: client, src: struct {
		*feed.Watcher
		*feed.Client
	}{w, client}}
}

// publish sends one event for a call with the call's next sequence number,
// as an agent does.
func (f *testFeed) publish(e feed.Event) {
	f.t.Helper()
	v, _ := f.seq.LoadOrStore(e.CallID, new(atomic.Uint64))
	e.Seq = v.(*atomic.Uint64).Add(1)
	e.Agent = "test-agent"
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if err := f.client.Publish(e); err != nil {
		f.t.Fatal(err)
	}
}

// call is what startCall publishes.
type call struct {
	id, user, model, agent string
	api                    feed.API // as the started event says ("": an older agent)
	started                time.Time
	in, out                int64
	cost                   float64
	unknown                bool
	policy                 *feed.EffectivePolicy
	full                   *feed.Usage // the whole usage, when set
}

// startCall publishes a call's started, session and usage events.
func (f *testFeed) startCall(c call) {
	f.t.Helper()
	f.publish(feed.Event{Kind: feed.KindStarted, CallID: c.id, Start: &feed.Start{User: c.user, StartedAt: c.started, API: c.api}})
	f.publish(feed.Event{Kind: feed.KindSession, CallID: c.id, Session: &feed.Session{SessionID: "sess_" + c.id, Model: c.model}})
	f.publish(feed.Event{Kind: feed.KindUsage, CallID: c.id, Usage: c.usage()})
}

func (c call) usage() *feed.Usage {
	if c.full != nil {
		u := *c.full
		return &u
	}
	return &feed.Usage{
		Tokens:    feed.Tokens{Input: c.in, Output: c.out, Total: c.in + c.out},
		Responses: 1, CostUSD: c.cost, CostUnknown: c.unknown,
	}
}

// endCall publishes a call's ended event, as the owning agent does after a
// hangup.
func (f *testFeed) endCall(c call, reason feed.Reason, by string, at time.Time) {
	f.t.Helper()
	f.publish(feed.Event{Kind: feed.KindEnded, CallID: c.id, Usage: c.usage(),
		End: &feed.End{Reason: reason, By: by, EndedAt: at}})
}

// clock is a pinned Options.Now that a test advances.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// probe wraps the dashboard in a test so the test can read the screen the
// model renders, from inside the update loop, without racing it. After
// every other message it signals updated (if set), so a test waiting for
// a screen wakes when the model changed, not on a timer.
type probe struct {
	m       *Model
	updated chan struct{}
}

func newProbe(m *Model) probe { return probe{m: m, updated: make(chan struct{}, 1)} }

// snapMsg asks the probe for the current screen, without escape codes;
// rawMsg with them.
type (
	snapMsg chan string
	rawMsg  chan string
)

func (p probe) Init() tea.Cmd  { return p.m.Init() }
func (p probe) View() tea.View { return p.m.View() }
func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch ch := msg.(type) {
	case snapMsg:
		ch <- ansi.Strip(p.m.View().Content)
		return p, nil
	case rawMsg:
		ch <- p.m.View().Content
		return p, nil
	}
	_, cmd := p.m.Update(msg)
	select {
	case p.updated <- struct{}{}:
	default: // a wake-up is pending already
	}
	return p, cmd
}

// ui is a dashboard running under teatest, with its probe's wake-ups.
type ui struct {
	*teatest.TestModel
	updated <-chan struct{}
}

// runUI runs m under teatest at w×h with the program options.
func runUI(t *testing.T, m *Model, w, h int, opts ...tea.ProgramOption) *ui {
	t.Helper()
	p := newProbe(m)
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(w, h), teatest.WithProgramOptions(opts...))
	t.Cleanup(func() { _ = tm.Quit() })
	return &ui{TestModel: tm, updated: p.updated}
}

// start runs a dashboard on f under teatest at w×h, with colours off in
// the terminal output (the screen captures are stripped anyway).
func start(t *testing.T, f *testFeed, opts Options, w, h int) (*ui, *Model) {
	t.Helper()
	m := New(f.src, opts)
	return runUI(t, m, w, h, tea.WithColorProfile(colorprofile.NoTTY)), m
}

// screen returns what the dashboard shows now.
func screen(t *testing.T, tm *ui) string {
	t.Helper()
	ch := make(snapMsg, 1)
	tm.Send(ch)
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("the dashboard did not answer a screen request within 5s")
		return ""
	}
}

// waitScreen looks at the screen until cond holds, again after every
// change of the model (ticks included), or fails after 5s with the last
// screen. A change after a look always wakes it: the probe's signal waits
// in its buffer.
func waitScreen(t *testing.T, tm *ui, what string, cond func(string) bool) string {
	t.Helper()
	return waitScreenFor(t, tm, 5*time.Second, what, cond)
}

// waitScreenFor is waitScreen with its own deadline, for what takes NATS
// seconds (a reconnect, a resubscription).
func waitScreenFor(t *testing.T, tm *ui, d time.Duration, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s := screen(t, tm)
		if cond(s) {
			return s
		}
		select {
		case <-tm.updated:
		case <-deadline.C:
			t.Fatalf("screen never showed %s; last screen:\n%s", what, s)
			return ""
		}
	}
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// flat is a screen as one line of words, box borders removed, so a test
// can find text the dialog wrapped.
func flat(s string) string {
	s = strings.NewReplacer("│", " ", "╭", " ", "╮", " ", "╰", " ", "╯", " ", "─", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// rowOf returns the screen line showing a call, found by a prefix of its ID.
func rowOf(s, idPrefix string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, idPrefix) {
			return line
		}
	}
	return ""
}

// quit ends the program with q and returns the final model.
func quit(t *testing.T, tm *ui) *Model {
	t.Helper()
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	p, ok := fm.(probe)
	if !ok {
		t.Fatalf("final model is %T", fm)
	}
	return p.m
}

// Keys as the terminal sends them.
var (
	keyCtrlK = tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl}
	keyDown  = tea.KeyPressMsg{Code: tea.KeyDown}
	keyEsc   = tea.KeyPressMsg{Code: tea.KeyEscape}
	keyEnter = tea.KeyPressMsg{Code: tea.KeyEnter}
)

func keyRune(r rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: r, Text: string(r)} }
