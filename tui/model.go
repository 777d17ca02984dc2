package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// Model is the dashboard, a tea.Model. It owns a feed.Board and is only
// ever changed by Update, on Bubble Tea's goroutine: events, ticks and
// terminate replies all arrive as messages.
type Model struct {
	src    Source
	opts   Options
	keys   KeyMap
	help   help.Model
	styles styles

	// ctx bounds the feed and terminate commands; cancel stops them when
	// the dashboard quits, so no goroutine waits in Next forever.
	ctx    context.Context
	cancel context.CancelFunc

	board  *feed.Board
	rows   *rows
	cur    cursor
	widths contentWidths
	totals totals
	conn   feed.ConnState
	now    time.Time

	// pending holds calls whose terminate request is in flight or answered
	// but whose ended event has not arrived yet.
	pending map[string]bool

	// chosen is set once the operator moves the selection; until then,
	// during the feed's replay, the selection stays on the top row.
	chosen bool

	width, height int
	showHelp      bool
	confirm       *confirm
	status        status
}

// totals is the header's summary of the calls on screen.
type totals struct {
	live, ended int
	cost        float64
	perMin      float64
	costUnknown bool // some call's cost is unknown: the sums are a floor
}

// New returns a dashboard reading from src. Its commands stop when the
// user quits; Run also stops them when its context ends.
func New(src Source, opts Options) *Model {
	return newModel(context.Background(), src, opts)
}

func newModel(ctx context.Context, src Source, opts Options) *Model {
	opts = opts.withDefaults()
	if src == nil {
		src = noSource{}
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Model{
		src:     src,
		opts:    opts,
		keys:    DefaultKeyMap(),
		help:    help.New(),
		ctx:     ctx,
		cancel:  cancel,
		board:   feed.NewBoard(opts.Retain),
		rows:    newRows(),
		widths:  contentWidths{},
		pending: make(map[string]bool),
		conn:    src.State(),
		now:     opts.Now(),
	}
	m.setStyles(noColorSet(os.LookupEnv))
	return m
}

func (m *Model) setStyles(noColor bool) {
	m.styles = newStyles(noColor)
	m.help.Styles = m.styles.Help
}

// Init starts the feed and the one-second heartbeat.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(waitEvents(m.ctx, m.src), tick())
}

// Update folds one message into the dashboard.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
	case tea.EnvMsg:
		// The program's environment, which over SSH is the client's.
		m.setStyles(noColorSet(msg.LookupEnv))
	case eventsMsg:
		cmd = m.applyEvents(msg)
	case retryMsg:
		cmd = waitEvents(m.ctx, m.src)
	case tickMsg:
		m.onTick()
		cmd = tick()
	case terminateDoneMsg:
		m.onTerminateDone(msg)
	case tea.KeyPressMsg:
		cmd = m.onKey(msg)
	}
	m.cur.Scroll(m.rows.Len(), m.tableHeight())
	return m, cmd
}

// applyEvents folds one batch into the Board and the rows, then re-arms the
// feed. Only calls the batch changed are copied out of the Board.
func (m *Model) applyEvents(msg eventsMsg) tea.Cmd {
	if msg.err != nil {
		if m.ctx.Err() != nil {
			return nil // quitting: the feed is done
		}
		m.status.set(statusErr, "feed: "+sanitize(msg.err.Error()), m.opts.Now())
		return retryLater()
	}
	m.now = m.opts.Now()
	touched := make(map[string]struct{}, len(msg.events))
	for _, e := range msg.events {
		if m.board.Apply(e) {
			touched[e.CallID] = struct{}{}
		}
	}
	for id := range touched {
		if c, ok := m.board.Get(id); ok {
			m.rows.Put(c)
			if !c.Live() {
				delete(m.pending, id)
			}
		}
	}
	m.prune()
	if msg.replaying && !m.chosen {
		m.cur = cursor{}
	}
	m.refresh()
	return waitEvents(m.ctx, m.src)
}

// onTick advances the clock, forgets calls past their retention, reads
// the connection state and expires the footer message.
func (m *Model) onTick() {
	m.now = m.opts.Now()
	m.conn = m.src.State()
	m.prune()
	m.refresh()
	m.status.expire(m.now)
}

// prune drops ended calls older than Retain from the Board and the rows.
func (m *Model) prune() {
	if m.board.Prune(m.now) == 0 {
		return
	}
	for id := range m.rows.calls {
		if _, ok := m.board.Get(id); !ok {
			m.rows.Delete(id)
			delete(m.pending, id)
		}
	}
}

// refresh re-sorts if needed, keeps the selection on its call and
// recomputes what the header and the layout need.
func (m *Model) refresh() {
	m.rows.Sort()
	m.cur.Sync(m.rows)
	m.widths = measure(m.rows)
	var t totals
	for _, c := range m.rows.calls {
		t.cost += c.Usage.CostUSD
		t.costUnknown = t.costUnknown || c.Usage.CostUnknown
		if c.Live() {
			t.live++
			t.perMin += c.PerMinute(m.now)
		} else {
			t.ended++
		}
	}
	m.totals = t
}

// onKey handles a key press; an open confirmation gets it first.
func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if m.confirm != nil {
		return m.onConfirmKey(msg)
	}
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m.quit()
	case key.Matches(msg, m.keys.Close):
		m.showHelp = false
	case key.Matches(msg, m.keys.Help):
		m.showHelp = !m.showHelp
	case key.Matches(msg, m.keys.Up):
		m.move(-1)
	case key.Matches(msg, m.keys.Down):
		m.move(1)
	case key.Matches(msg, m.keys.PageUp):
		m.move(-m.tableHeight())
	case key.Matches(msg, m.keys.PageDown):
		m.move(m.tableHeight())
	case key.Matches(msg, m.keys.Home):
		m.move(-m.rows.Len())
	case key.Matches(msg, m.keys.End):
		m.move(m.rows.Len())
	case key.Matches(msg, m.keys.HangUp):
		m.openConfirm()
	}
	return nil
}

// move moves the selection by delta rows (clamped at both ends).
func (m *Model) move(delta int) {
	m.cur.Move(m.rows, delta)
	m.chosen = true
}

// quit stops the feed and terminate commands and ends the program.
func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

// onTerminateDone reports the agent's answer. Success does not mark the
// call ended: the agent's ended event does, so the table only ever shows
// what the agents say.
func (m *Model) onTerminateDone(msg terminateDoneMsg) {
	short := shortID(msg.callID)
	if msg.err == nil {
		m.status.set(statusOK, short+" hung up by you", m.opts.Now())
		return
	}
	delete(m.pending, msg.callID)
	var text string
	switch {
	case errors.Is(msg.err, feed.ErrNoOwner):
		text = fmt.Sprintf("hang up %s: no agent owns the call (ended, or its agent is gone)", short)
	case errors.Is(msg.err, context.DeadlineExceeded):
		text = fmt.Sprintf("hang up %s: no answer from its agent within %s", short, terminateTimeout)
	default:
		text = fmt.Sprintf("hang up %s: %s", short, sanitize(msg.err.Error()))
	}
	m.status.set(statusErr, text, m.opts.Now())
}

// shortID is a call ID short enough for a footer message.
func shortID(id string) string { return truncate(id, 20) }

// noSource stands in for a nil Source so that a wiring mistake shows as an
// error on screen instead of a panic.
type noSource struct{}

func (noSource) Next(ctx context.Context) ([]feed.Event, error) {
	return nil, errors.New("no event source configured")
}

func (noSource) Terminate(context.Context, feed.TerminateRequest) (feed.TerminateReply, error) {
	return feed.TerminateReply{}, errors.New("no event source configured")
}

func (noSource) State() feed.ConnState { return feed.ConnDown }
