package tui

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// The load of the dashboard benchmark: 10,000 live calls and 20,000
// usage events a second, delivered as the dashboard receives them, one
// batch per frame at 60 frames a second; the screen is 200×50.
const (
	benchCalls     = 10_000
	benchPerSecond = 20_000
	benchFPS       = 60
	benchPerFrame  = benchPerSecond / benchFPS // 333
	benchW, benchH = 200, 50
)

// BenchmarkFrame measures one frame of that load, Update (fold the
// batch; once a second also the tick) plus View, for the dashboard and,
// side by side, for the naive way: a bubbles v2 table whose rows are
// rebuilt from the Board and set with SetRows every batch. It reports the
// p50 and p99 frame time and the live heap after the run.
//
//	go test -run '^$' -bench Frame -benchtime 1200x ./tui
func BenchmarkFrame(b *testing.B) {
	for _, bc := range []struct {
		name string
		new  func() frameRunner
	}{
		{"calltop/sort=age", func() frameRunner { return newDashRunner(sortAge) }},
		{"calltop/sort=cost", func() frameRunner { return newDashRunner(sortCost) }},
		{"naive-bubbles-table/sort=cost", func() frameRunner { return newNaiveRunner() }},
	} {
		b.Run(bc.name, func(b *testing.B) { benchFrames(b, bc.new) })
	}
}

// frameRunner is one implementation under the load.
type frameRunner interface {
	load(evs []feed.Event, now time.Time)
	frame(evs []feed.Event, now time.Time, tick bool) string
}

func benchFrames(b *testing.B, newRunner func() frameRunner) {
	gen := newLoadGen(benchCalls)
	now := gen.start
	r := newRunner()
	r.load(gen.initial(), now)
	runtime.GC()
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		now = now.Add(time.Second / benchFPS)
		batch := gen.batch(benchPerFrame, now)
		b.StartTimer()
		t := time.Now()
		if out := r.frame(batch, now, i%benchFPS == 0); len(out) == 0 {
			b.Fatal("empty screen")
		}
		durs = append(durs, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(durs)
	q := func(p float64) float64 { return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
	runtime.KeepAlive(r)
}

// loadGen makes the events of benchCalls live calls and their usage.
type loadGen struct {
	rng   *rand.Rand
	start time.Time
	calls []benchCall
}

type benchCall struct {
	id, user, model string
	seq             uint64
	usage           feed.Usage
}

func newLoadGen(n int) *loadGen {
	g := &loadGen{rng: rand.New(rand.NewPCG(7, 8)), start: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)}
	models := []string{"gpt-realtime", "gpt-realtime-mini", "gpt-realtime-2", "gpt-realtime-1.5"}
	for i := range n {
		g.calls = append(g.calls, benchCall{
			id:    fmt.Sprintf("rtc_u1_%032x", g.rng.Uint64()),
			user:  fmt.Sprintf("user%04d@example.com", i%3000),
			model: models[i%len(models)],
		})
	}
	return g
}

// initial is every call's started, session and first usage event.
func (g *loadGen) initial() []feed.Event {
	var evs []feed.Event
	for i := range g.calls {
		c := &g.calls[i]
		at := g.start.Add(-time.Duration(g.rng.IntN(3600)) * time.Second)
		evs = append(evs,
			feed.Event{V: feed.Version, Kind: feed.KindStarted, CallID: c.id, Seq: 1, At: at, Agent: "api-1",
				Start: &feed.Start{User: c.user, Model: c.model, StartedAt: at}},
			feed.Event{V: feed.Version, Kind: feed.KindSession, CallID: c.id, Seq: 2, At: at, Agent: "api-1",
				Session: &feed.Session{SessionID: "sess_" + c.id[4:], Model: c.model, ExpiresAt: at.Add(time.Hour)}},
		)
		c.seq = 2
		evs = append(evs, g.usage(c, at))
	}
	return evs
}

// batch is n usage events on random calls, each a little more usage.
func (g *loadGen) batch(n int, now time.Time) []feed.Event {
	evs := make([]feed.Event, n)
	for i := range evs {
		evs[i] = g.usage(&g.calls[g.rng.IntN(len(g.calls))], now)
	}
	return evs
}

func (g *loadGen) usage(c *benchCall, at time.Time) feed.Event {
	c.seq++
	in, out := int64(20+g.rng.IntN(400)), int64(10+g.rng.IntN(200))
	t := &c.usage.Tokens
	t.Input += in
	t.InputAudio += in
	t.Output += out
	t.OutputAudio += out
	t.Total += in + out
	c.usage.Responses++
	c.usage.CostUSD += float64(in)*32e-6 + float64(out)*64e-6
	u := c.usage
	return feed.Event{V: feed.Version, Kind: feed.KindUsage, CallID: c.id, Seq: c.seq, At: at, Agent: "api-1", Usage: &u}
}

// dashRunner is the dashboard itself.
type dashRunner struct {
	m   *Model
	now time.Time
}

func newDashRunner(by sortBy) *dashRunner {
	r := &dashRunner{}
	r.m = New(blockSource{}, Options{Now: func() time.Time { return r.now }})
	r.m.Update(tea.WindowSizeMsg{Width: benchW, Height: benchH})
	if by != sortAge {
		r.m.setSort(by)
	}
	return r
}

func (r *dashRunner) load(evs []feed.Event, now time.Time) {
	r.now = now
	r.m.Update(eventsMsg{events: evs})
}

func (r *dashRunner) frame(evs []feed.Event, now time.Time, tick bool) string {
	r.now = now
	r.m.Update(eventsMsg{events: evs})
	if tick {
		r.m.Update(tickMsg(now))
	}
	return r.m.View().Content
}

// blockSource never delivers: the benchmark hands batches to Update
// itself.
type blockSource struct{}

func (blockSource) Next(ctx context.Context) ([]feed.Event, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (blockSource) Terminate(context.Context, feed.TerminateRequest) (feed.TerminateReply, error) {
	return feed.TerminateReply{}, nil
}
func (blockSource) State() feed.ConnState { return feed.ConnConnected }

// naiveRunner is what the dashboard would be with the bubbles v2 table:
// fold the batch into a Board, then rebuild every row from Board.Calls,
// sort, format and SetRows, then View.
type naiveRunner struct {
	board *feed.Board
	t     table.Model
}

func newNaiveRunner() *naiveRunner {
	cols := []table.Column{
		{Title: "CALL", Width: 40}, {Title: "USER", Width: 22}, {Title: "MODEL", Width: 18}, {Title: "STATE", Width: 8},
		{Title: "AGE", Width: 7}, {Title: "IN", Width: 7}, {Title: "OUT", Width: 7}, {Title: "TOKENS", Width: 8},
		{Title: "COST", Width: 9}, {Title: "$/MIN", Width: 8},
	}
	return &naiveRunner{
		board: feed.NewBoard(DefaultRetain),
		t:     table.New(table.WithColumns(cols), table.WithWidth(benchW), table.WithHeight(benchH-4), table.WithFocused(true)),
	}
}

func (r *naiveRunner) load(evs []feed.Event, now time.Time) { r.frame(evs, now, false) }

func (r *naiveRunner) frame(evs []feed.Event, now time.Time, tick bool) string {
	for _, e := range evs {
		r.board.Apply(e)
	}
	if tick {
		r.board.Prune(now)
	}
	calls := r.board.Calls()
	slices.SortFunc(calls, func(a, b feed.Call) int {
		return cmp.Or(cmp.Compare(b.Usage.CostUSD, a.Usage.CostUSD), cmp.Compare(a.ID, b.ID))
	})
	rows := make([]table.Row, len(calls))
	for i := range calls {
		c := &calls[i]
		u := c.Usage
		rows[i] = table.Row{c.ID, c.User, c.Model, string(c.State), formatAge(c.Seconds(now)),
			formatTokens(u.Tokens.Input), formatTokens(u.Tokens.Output), formatTokens(u.Tokens.Total),
			formatCost(u.CostUSD, u.CostUnknown), formatRate(c.PerMinute(now), u.CostUnknown)}
	}
	r.t.SetRows(rows)
	return r.t.View()
}
