package tui

import (
	"context"
	"errors"
	"os"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// view is a screen of the dashboard.
type view int

const (
	viewCalls view = iota
	viewDetail
	viewUsers
	viewHistory
	viewAgents
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
	// hangUpKeys are the hang-up keys even when --readonly disabled them,
	// so pressing one says why nothing happens.
	hangUpKeys []string

	// ctx bounds the feed and terminate commands; cancel stops them when
	// the dashboard quits, so no goroutine waits in Next forever.
	ctx    context.Context
	cancel context.CancelFunc

	board *feed.Board
	rows  *rows
	hist  *history
	// audit is the History view's audit pane, shown instead of the ended
	// calls while showAudit is set.
	audit     *auditTrail
	showAudit bool
	meter     *meter
	timelines map[string]*timeline
	// touched and touchedRows are the calls a batch changed, new ones
	// and ones with a row (reused by applyEvents); batch numbers batches.
	touched     map[string]struct{}
	touchedRows []*row
	batch       uint64

	cur      cursor // calls
	userCur  cursor
	histCur  cursor
	auditCur cursor
	agentCur cursor

	widths contentWidths
	totals totals
	// gen counts changes of the data; views computed from it (users,
	// agents) are cached per generation.
	gen        uint64
	usersCache *userList
	agentCache *agentList

	// gone is the agents that are not online, by name: feed.AgentSilent
	// (missed three heartbeats) or feed.AgentLeft (said goodbye), as of
	// now; agents sums them up for the header.
	gone   map[string]string
	agents agentSummary

	conn      feed.ConnState
	connSince time.Time // when conn last changed
	// feedStale is set while the Source says it cannot read (see staler).
	feedStale feedStale
	now       time.Time
	lastBatch time.Time // wall clock of the last batch, for pacing
	lastEvent time.Time // dashboard clock of the last batch
	forgotAt  time.Time // last run of forget
	// boardPruned is when the Board last pruned; expired holds the calls
	// the table let go of since (see prune.go).
	boardPruned time.Time
	expired     map[string]struct{}

	// pending holds calls whose terminate request is in flight or answered
	// but whose ended event has not arrived yet.
	pending map[string]bool
	// refused is why the NATS server last refused this dashboard's user
	// a hang-up (its role lacks the permission), in full, for the hang-up
	// dialog; "" before any refusal and after a hang-up that went
	// through.
	refused string

	// chosen is set once the operator moves the selection; until then the
	// selection stays on the top row, as new calls arrive there.
	chosen bool

	// lineBuf and runBuf are renderRow's, reused from row to row.
	lineBuf, runBuf []byte

	width, height int
	view          view
	detail        detailState
	showHelp      bool
	confirm       *confirm
	filterEdit    *filterEdit
	status        status
}

// totals is the header's summary of the table.
type totals struct {
	live, ended int
	cost        float64
	perMin      float64
	costUnknown bool // some call's cost is unknown: the sums are a floor
	goneCalls   int  // live calls whose agent is silent or left
	detached    int  // live calls whose sideband is detached
}

// agentSummary is what the header says about the agents the Board knows.
type agentSummary struct {
	known, online, silent, left int
	// creditsDown counts the online agents that cannot read credits;
	// creditsSince is the earliest since when, creditsAgent the first of
	// them by name (named when it is the only one).
	creditsDown  int
	creditsSince time.Time
	creditsAgent string
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
	if opts.ReadOnly {
		src = ReadOnlySource(src)
	}
	keys := DefaultKeyMap()
	if opts.Keys != nil && opts.Keys.b != nil {
		keys = opts.Keys.clone()
	}
	hangUp := keys.Keys(ActHangUp)
	if opts.ReadOnly {
		keys.disable(ActHangUp)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Model{
		src:        src,
		opts:       opts,
		keys:       keys,
		hangUpKeys: hangUp,
		help:       help.New(),
		ctx:        ctx,
		cancel:     cancel,
		board:      feed.NewBoard(opts.Retain),
		rows:       newRows(),
		hist:       newHistory(opts.History),
		audit:      &auditTrail{max: DefaultAuditRecords},
		meter:      newMeter(),
		timelines:  make(map[string]*timeline),
		touched:    make(map[string]struct{}),
		expired:    make(map[string]struct{}),
		widths:     contentWidths{},
		pending:    make(map[string]bool),
		conn:       src.State(),
		now:        opts.Now(),
	}
	m.connSince = m.now
	m.rows.SetSort(sortSpec{by: sortAge, desc: defaultDesc(sortAge)}, m.keyCtx())
	m.setStyles(noColorSet(os.LookupEnv))
	return m
}

func (m *Model) setStyles(noColor bool) {
	m.styles = newStyles(noColor)
	m.help.Styles = m.styles.Help
}

// Init starts the feed and the one-second heartbeat.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.wait(), tick())
}

// wait arms the feed command.
func (m *Model) wait() tea.Cmd {
	return waitEvents(m.ctx, m.src, m.opts.frame(), m.lastBatch)
}

// Update folds one message into the dashboard.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		m.scrollAll()
	case tea.EnvMsg:
		// The program's environment, which over SSH is the client's.
		m.setStyles(noColorSet(msg.LookupEnv))
	case eventsMsg:
		cmd = m.applyEvents(msg)
	case retryMsg:
		cmd = m.wait()
	case tickMsg:
		m.onTick()
		cmd = tea.Batch(tick(), m.auditTick())
	case auditLoadedMsg:
		m.onAuditLoaded(msg)
	case terminateDoneMsg:
		m.onTerminateDone(msg)
	case tea.KeyPressMsg:
		cmd = m.onKey(msg)
	case tea.PasteMsg:
		m.onPaste(msg.Content)
	}
	return m, cmd
}

// keyCtx is what sort keys depend on, as of now.
func (m *Model) keyCtx() keyCtx {
	return keyCtx{
		now:     m.now,
		pending: func(id string) bool { return m.pending[id] },
		gone:    m.agentGone,
	}
}

// agentGone reports whether an agent the Board knows is silent or left.
// An agent never heard from is not called gone: older agents do not beat.
func (m *Model) agentGone(name string) bool { return m.gone[name] != "" }

// updateAgents recomputes which agents are gone and what the header says
// about them, from each agent's feed.AgentInfo.State: a call whose agent
// left is marked like one whose agent went silent (nobody reads its
// sideband until another agent adopts it).
func (m *Model) updateAgents() {
	clear(m.gone)
	var s agentSummary
	at := m.agentsAt()
	for _, a := range m.board.Agents() {
		s.known++
		st := a.State(at)
		switch st {
		case feed.AgentOnline:
			s.online++
			if since := a.CreditsUnavailableSince; !since.IsZero() {
				s.creditsDown++
				if s.creditsAgent == "" {
					s.creditsAgent = a.Name
				}
				if s.creditsSince.IsZero() || since.Before(s.creditsSince) {
					s.creditsSince = since
				}
			}
			continue
		case feed.AgentLeft:
			s.left++
		default:
			s.silent++
		}
		if m.gone == nil {
			m.gone = make(map[string]string)
		}
		m.gone[a.Name] = st
	}
	m.agents = s
}

// agentsAt is the time agents' liveness is judged at: now, or while the
// view is stale the moment it went stale. Heartbeats the dashboard cannot
// read say nothing about the agents, so deafness never marks them (and
// every call) silent.
func (m *Model) agentsAt() time.Time {
	if m.stale() {
		return m.staleSince()
	}
	return m.now
}

// readStale asks the Source whether it can read. Its since is on the wall
// clock; the dashboard's clock may be another (tests pin it), so a new
// stale spell is placed on the dashboard's clock as long ago as it really
// began, once, and then ages with it.
func (m *Model) readStale() {
	s, ok := m.src.(staler)
	if !ok {
		return
	}
	since, reason, stale := s.Stale()
	switch {
	case !stale:
		m.feedStale = feedStale{}
	case !since.Equal(m.feedStale.src):
		m.feedStale = feedStale{src: since, since: m.now.Add(-max(0, time.Since(since))), reason: reason}
	default:
		m.feedStale.reason = reason
	}
}

// feedStale is a spell during which the Source could not read.
type feedStale struct {
	src    time.Time // as the Source said (wall clock)
	since  time.Time // on the dashboard's clock
	reason string
}

// applyEvents folds one batch into the Board and the rows, then re-arms the
// feed. Only calls the batch changed are copied out of the Board. A call
// that has a row is found once per event, by ID, and from then on through
// its row (its timeline, whether the batch touched it already, its user's
// spend meter): at 20,000 events a second each map lookup more costs a
// cache miss per event.
func (m *Model) applyEvents(msg eventsMsg) tea.Cmd {
	if msg.err != nil {
		if m.ctx.Err() != nil {
			return nil // quitting: the feed is done
		}
		m.status.set(statusErr, "feed: "+sanitize(msg.err.Error()), m.opts.Now())
		return retryLater()
	}
	m.lastBatch = msg.at
	m.now = m.opts.Now()
	m.lastEvent = m.now
	m.batch++
	touched := m.touchedRows[:0]
	if len(m.touched) > 1024 {
		m.touched = make(map[string]struct{}) // clear costs what the map once held
	} else {
		clear(m.touched)
	}
	for i := range msg.events {
		e := &msg.events[i]
		if !m.board.Apply(*e) || e.Scope() != feed.ScopeCall {
			continue
		}
		if _, gone := m.expired[e.CallID]; gone {
			continue // a straggler for a call the table let go of
		}
		x, ok := m.rows.row(e.CallID)
		if !ok {
			m.timelineOf(e.CallID).add(e)
			m.touched[e.CallID] = struct{}{} // a new row
			continue
		}
		x.timeline.add(e)
		if x.batch != m.batch {
			x.batch = m.batch
			touched = append(touched, x)
		}
	}
	m.updateAgents()
	kc := m.keyCtx()
	stale := false // an ended call already past its retention (a replay)
	var old feed.Call
	put := func(x *row, old *feed.Call, seen bool) {
		c := &x.call
		m.meter.observeRow(old, seen, c, m.now, &x.meter)
		if seen {
			x.flash.note(old, c, m.now)
		}
		if !c.Live() {
			stale = stale || m.now.Sub(c.EndedAt) > m.opts.Retain
			delete(m.pending, c.ID)
			m.hist.add(*c)
		}
	}
	for _, x := range touched {
		c, ok := m.board.Get(x.call.ID)
		if !ok {
			continue
		}
		m.rows.update(x, &c, &old, kc)
		put(x, &old, true)
	}
	for id := range m.touched {
		c, ok := m.board.Get(id)
		if !ok {
			continue
		}
		x, prev, seen := m.rows.Put(c, kc)
		if !seen {
			x.timeline = m.timelineOf(id)
		}
		put(x, &prev, seen)
	}
	clear(touched)
	m.touchedRows = touched[:0]
	if stale {
		m.prune()
	}
	m.refresh()
	return m.wait()
}

// timelineOf returns a call's timeline, making it on first use.
func (m *Model) timelineOf(id string) *timeline {
	t := m.timelines[id]
	if t == nil {
		t = new(timeline)
		m.timelines[id] = t
	}
	return t
}

// onTick advances the clock, forgets calls past their retention, reads the
// connection state and whether the Source can read, re-keys sorts that
// move with the clock, samples the sparkline and expires the footer
// message.
func (m *Model) onTick() {
	m.now = m.opts.Now()
	if c := m.src.State(); c != m.conn {
		m.conn, m.connSince = c, m.now
	}
	m.readStale()
	m.prune()
	m.updateAgents()
	if by := m.rows.sort.by; by == sortRate || by == sortState {
		m.rows.Rekey(m.keyCtx())
	}
	m.refresh()
	if m.now.Sub(m.forgotAt) >= time.Minute {
		m.forget()
		m.forgotAt = m.now
	}
	m.status.expire(m.now)
}

// forget drops the timelines of calls that are neither on the board nor
// in the history, and the meters of users idle for an hour with no call on
// the board, so memory follows what can be shown, not everything ever
// seen. It runs once a minute.
func (m *Model) forget() {
	for id := range m.timelines {
		if _, ok := m.rows.row(id); ok {
			continue
		}
		if _, ok := m.hist.get(id); ok {
			continue
		}
		delete(m.timelines, id)
	}
	var users map[string]bool // built only if some user is idle
	m.meter.forget(m.now, func(u string) bool {
		if users == nil {
			users = make(map[string]bool)
			for _, x := range m.rows.order {
				users[x.call.User] = true
			}
		}
		return users[u]
	})
}

// refresh re-orders the table if needed, keeps every selection on its
// row, and recomputes what the header and the layout need.
func (m *Model) refresh() {
	m.rows.Resort()
	m.gen++
	if !m.chosen {
		m.cur = cursor{} // the top row, until the operator picks one
	}
	m.cur.Sync(m.rows, m.bodyHeight())
	m.widths = m.rows.widths()
	m.totals = m.sum()
	m.meter.sample(m.now, m.totals.perMin)
	if len(m.pending) > 0 {
		m.widths[colState] = max(m.widths[colState], len("hanging up"))
	}
	if m.totals.goneCalls > 0 {
		m.widths[colState] = max(m.widths[colState], goneWidth)
	}
	if m.totals.detached > 0 {
		m.widths[colState] = max(m.widths[colState], detachedWidth)
	}
	switch m.view {
	case viewUsers:
		m.userCur.Sync(m.userList(), m.bodyHeight())
	case viewHistory:
		l, c := m.historyList()
		c.Sync(l, m.bodyHeight())
	case viewAgents:
		m.agentCur.Sync(m.agentList(), m.bodyHeight())
	}
}

// sum adds up the table for the header. The $/min of each live call is
// its average so far (feed.Call.PerMinute), so the header's $/min is the
// sum of the $/MIN column.
func (m *Model) sum() totals {
	var gone []bool
	if len(m.gone) > 0 {
		gone = make([]bool, len(m.rows.agentNames))
		for i, name := range m.rows.agentNames {
			gone[i] = m.gone[name] != ""
		}
	}
	return m.rows.totals(m.now, gone)
}

// scrollAll keeps every selection visible after a resize.
func (m *Model) scrollAll() {
	h := m.bodyHeight()
	m.cur.Scroll(m.rows.Len(), h)
	m.histCur.Scroll(m.hist.Len(), h)
	m.auditCur.Scroll(m.audit.Len(), h)
	m.userCur.Scroll(m.userList().Len(), h)
	m.agentCur.Scroll(m.agentList().Len(), h)
}

// quit stops the feed and terminate commands and ends the program.
func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

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
