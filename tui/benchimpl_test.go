package tui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// The screen of the dashboard benchmark.
const benchW, benchH = 200, 50

// frameImpl is one implementation of the dashboard under the load, as a
// Bubble Tea program would drive it: update folds a decoded batch (and,
// once a second, the tick) into its model, view draws the screen.
type frameImpl interface {
	update(evs []feed.Event, now time.Time, tick bool)
	view() string
	// calls is how many calls it holds, live and ended.
	calls() int
}

// benchImpls are the implementations BenchmarkFrame runs, by name. The
// baselines sort by cost like calltop/cost, so their ratios compare the
// same work; calltop/age is the dashboard's default order.
var benchImpls = []struct {
	name string
	new  func() frameImpl
}{
	{"calltop", func() frameImpl { return newDashImpl(sortCost) }},
	{"calltop-age", func() frameImpl { return newDashImpl(sortAge) }},
	{"fair", func() frameImpl { return newTableImpl(true) }},
	{"naive", func() frameImpl { return newTableImpl(false) }},
}

// dashImpl is the dashboard itself: one Update with the batch (and, once
// a second, one with the tick), then View.
type dashImpl struct {
	m   *Model
	now time.Time
}

func newDashImpl(by sortBy) *dashImpl {
	d := &dashImpl{}
	d.m = New(blockSource{}, Options{Now: func() time.Time { return d.now }})
	d.m.Update(tea.WindowSizeMsg{Width: benchW, Height: benchH})
	if by != sortAge {
		d.m.setSort(by)
	}
	return d
}

func (d *dashImpl) update(evs []feed.Event, now time.Time, tick bool) {
	d.now = now
	d.m.Update(eventsMsg{events: evs})
	if tick {
		d.m.Update(tickMsg(now))
	}
}

func (d *dashImpl) view() string { return d.m.View().Content }

func (d *dashImpl) calls() int { return d.m.rows.Total() }

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

// tableImpl is the dashboard as it would be written with the bubbles v2
// table: fold the batch into a feed.Board, take every call from
// Board.Calls, sort them by cost (live first), format the rows and
// SetRows, then View under a header from Board.Totals. The naive one
// hands the table every row; the fair one, what a reasonable developer
// would write knowing the table renders a window, hands it only the rows
// on screen.
type tableImpl struct {
	board  *feed.Board
	t      table.Model
	window bool
	header string
}

func newTableImpl(window bool) *tableImpl {
	cols := []table.Column{
		{Title: "CALL", Width: 40}, {Title: "USER", Width: 22}, {Title: "MODEL", Width: 18}, {Title: "STATE", Width: 8},
		{Title: "AGE", Width: 7}, {Title: "IN", Width: 7}, {Title: "OUT", Width: 7}, {Title: "TOKENS", Width: 8},
		{Title: "COST", Width: 9}, {Title: "$/MIN", Width: 8}, {Title: "NOTES", Width: 24},
	}
	return &tableImpl{
		board:  feed.NewBoard(DefaultRetain),
		t:      table.New(table.WithColumns(cols), table.WithWidth(benchW), table.WithHeight(benchH-4), table.WithFocused(true)),
		window: window,
	}
}

func (r *tableImpl) calls() int { return r.board.Len() }

// update is what the table's Update would do with a batch: fold it, then
// rebuild the table's rows from the Board.
func (r *tableImpl) update(evs []feed.Event, now time.Time, tick bool) {
	for _, e := range evs {
		r.board.Apply(e)
	}
	if tick {
		r.board.Prune(now)
	}
	calls := r.board.Calls()
	slices.SortFunc(calls, func(a, b feed.Call) int {
		if a.Live() != b.Live() {
			if a.Live() {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Usage.CostUSD, a.Usage.CostUSD), cmp.Compare(a.ID, b.ID))
	})
	if r.window {
		calls = calls[:min(len(calls), r.t.Height())]
	}
	rows := make([]table.Row, len(calls))
	for i := range calls {
		c := &calls[i]
		u := c.Usage
		n, _ := notes(c)
		rows[i] = table.Row{c.ID, c.User, c.Model, string(c.State), formatAge(c.Seconds(now)),
			formatTokens(u.Tokens.Input), formatTokens(u.Tokens.Output), formatTokens(u.Tokens.Total),
			formatCost(u.CostUSD, u.CostUnknown), formatRate(c.PerMinute(now), u.CostUnknown), n}
	}
	r.t.SetRows(rows)
	t := r.board.Totals(now)
	r.header = fmt.Sprintf("calltop  %d live  %d ended  %s/min  %s total", t.Live, t.Ended,
		formatCost(t.PerMinute, false), formatCost(t.CostUSD, false))
}

func (r *tableImpl) view() string { return r.header + "\n" + r.t.View() }
