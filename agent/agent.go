package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/calltop/calltop/agent/credits"
	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// DefaultBaseURL is OpenAI's REST base; the sideband URL is derived from it.
const DefaultBaseURL = "https://api.openai.com/v1"

// Errors callers can test for with errors.Is.
var (
	// ErrCallNotFound: OpenAI does not know the call (404/410 on attach):
	// it never existed or has already ended. It is not retried.
	ErrCallNotFound = errors.New("call not found at OpenAI")
	// ErrNotTracked: this agent does not track the call.
	ErrNotTracked = errors.New("call not tracked by this agent")
	// ErrClosed: the agent has been closed.
	ErrClosed = errors.New("agent closed")
	// ErrUnauthorized: OpenAI refused the agent's APIKey (HTTP 401 or
	// 403): a wrong or revoked key, or one of a project without access to
	// the voice APIs. Track returns it when the first attach of a call's
	// sideband is refused; the agent keeps trying in the background (a key
	// fixed at OpenAI lets the call attach) and shows the call detached
	// meanwhile. Hangup and MintClientSecret return it, with openai-go's
	// *openai.Error, when OpenAI refuses their request.
	ErrUnauthorized = errors.New("OpenAI refused the API key")
	// ErrInvalidRequest: MintClientSecret refused its arguments before
	// asking OpenAI: a session config that is not a JSON Realtime one, or
	// a TTL outside OpenAI's 10 s..2 h. The sidecar answers it 400.
	ErrInvalidRequest = errors.New("invalid request")
)

// Config holds an agent's settings. Only APIKey is required.
type Config struct {
	// APIKey is the project's standard OpenAI key (never an ephemeral one:
	// OpenAI answers 404 to sidebands opened with ephemeral keys).
	APIKey string
	// BaseURL is OpenAI's REST base, DefaultBaseURL if empty; the sideband
	// is its ws(s):// twin + "/realtime?call_id=…".
	BaseURL string
	// Name identifies this agent in events; default "<hostname>-<pid>".
	Name string
	// Prefix is the NATS subject prefix (feed.DefaultPrefix if empty).
	Prefix string
	// Prices prices usage; DefaultPrices() if nil.
	Prices *Prices
	// MaxFrameBytes bounds one sideband frame; a larger one is counted as
	// skipped and discarded without closing the sideband. Default 4 MiB
	// (real session.updated frames exceed coder/websocket's 32 KiB default).
	MaxFrameBytes int64
	// PublishInterval bounds a call's usage events: a response that moves
	// its cost is published at once when the call published none within
	// the interval, and a burst inside it (a barge-in's cancelled response
	// and the next one) goes out as one event when the interval is up, so
	// it is also the most a new total waits. Default 50ms.
	PublishInterval time.Duration
	// CountersInterval is how often a call whose cost did not move, but
	// some counter did (speech seconds, errors, skipped frames), publishes
	// its usage. While a call talks they ride along with its next response
	// (the speech that ends a turn is counted after the turn's
	// response.done, so a short cadence would send every turn twice);
	// dashboards tick the call's seconds themselves. Default 30s.
	CountersInterval time.Duration
	// LiveInterval is how often a GPT-Live session whose only news is its
	// billed seconds publishes them. OpenAI reports them about every
	// second, and they move like a clock (a minute of them costs cents):
	// one message a second per session would cost NATS more than a
	// Realtime call's whole usage. Budgets are still evaluated on every
	// report; backend tokens and the end go out at once. Default 5s.
	LiveInterval time.Duration
	// EvaluateInterval is how often every call's limits are evaluated
	// between events (seconds run, silence grows without a frame).
	// Default 250ms.
	EvaluateInterval time.Duration
	// ReattachMax caps the backoff between attempts to re-attach a
	// sideband that dropped. The agent never gives up on a call OpenAI has
	// not ended: it shows it detached and keeps trying (with jitter) for
	// the call's whole life. Default 5s.
	ReattachMax time.Duration
	// CloseGrace is how long after a successful hangup the agent keeps
	// reading the sideband for OpenAI's own close, so a final
	// response.done still counts. Default 2s.
	CloseGrace time.Duration
	// HeartbeatInterval is how often the agent says it is alive; default
	// feed.HeartbeatInterval (dashboards call an agent silent after three
	// missed beats of that).
	HeartbeatInterval time.Duration
	// AdoptAfter is how long another agent's heartbeats must have stopped
	// before this agent takes over (adopts) its calls. Default 15s.
	AdoptAfter time.Duration
	// HandoffWait bounds how long Close waits for other agents to take
	// over this agent's calls. Default 5s.
	HandoffWait time.Duration
	// Replicas is how many copies a NATS cluster keeps of the streams and
	// buckets the agent creates (1 if zero; 3 survives losing a node).
	Replicas int
	// OutboxLimit bounds the final records kept while NATS is down
	// (feed.DefaultOutboxLimit if zero).
	OutboxLimit int
	// HTTPClient carries everything the agent sends OpenAI: the sideband's
	// WebSocket handshake (wss://) and the REST calls (hang-ups, the SDP
	// relay, client secrets). Give one to trust a private CA (its
	// Transport's TLSClientConfig.RootCAs; realtimetest's TLS server has
	// Client), to go through a proxy, or to bound dials; its Timeout, if
	// set, bounds each sideband handshake, not the sideband. Nil: a clone
	// of http.DefaultTransport, whose idle connections Close closes (a
	// given client's are left to its owner).
	HTTPClient *http.Client
	// Logger receives operational logs; discarded if nil.
	Logger *slog.Logger
	// Admit, if set, is asked before every call the agent would start or
	// accept (relay, client secret, SIP), before OpenAI is contacted. A
	// *RefusedError refuses with its status and reason; nil admits.
	Admit func(ctx context.Context, mode, user string) error
	// DefaultSession is the realtime session config (JSON object) used when
	// an integration is given none; {"type":"realtime","model":"gpt-realtime"}
	// if empty.
	DefaultSession json.RawMessage
	// DefaultLiveSession is the GPT-Live session config (the "session"
	// object of POST /v1/live/sessions) used when a Live integration is
	// given none; {"model":"gpt-live-1"} if empty.
	DefaultLiveSession json.RawMessage
	// PolicyFor returns the policy a user's calls run under: per-call
	// limits (seconds, tokens, cost), per-user admission limits and abuse
	// thresholds. Nil: no limits, default abuse thresholds.
	PolicyFor func(user string) policy.Policy
	// Credits, if set, is the users' credit: read when a call is admitted
	// and again as the user's calls spend, charged as each call spends and
	// settled when it ends; a call is cut when the user's credit is spent,
	// by whichever agent's call (docs/BUDGETS.md). The sidecar uses feed's
	// JetStream store (credits.FromStore).
	Credits credits.Credits
	// ClaimGrace is how long after a client secret expires a call may
	// still be registered for it before key_unclaimed is raised. Default
	// 10s.
	ClaimGrace time.Duration
	// Notify, if set, pushes final records (and optionally flags,
	// warnings and refusals) to the app as signed webhooks.
	Notify *NotifyConfig
}

// Meta is what the app knows about a call that OpenAI does not.
type Meta struct {
	// User is the app's end user (an id or an email), shown on dashboards.
	User string
	// Model is the model the app configured; it prices the call (OpenAI
	// may echo a dated snapshot instead).
	Model string
	// API is the voice API the call runs on: feed.APIRealtime or
	// feed.APILive. Empty: read from the id ("live_…" is a GPT-Live
	// session, anything else a Realtime call). A SIP call answered on
	// the Live API keeps its "rtc_…" id: SIPWebhook says APILive for it;
	// a Track of such a call must say it too.
	API feed.API

	// sip: the call came in over SIP (the webhook), so a Live session
	// bills no standby and no WebRTC creation minimum.
	sip bool

	// admitted: the call passed the agent's admission, which counted it
	// and read the user's credit into credits (nil: no credit limit), so
	// the call's start need not read it again.
	admitted bool
	credits  *feed.Micros
	// creditsUnknown: admission could not read the credit and the policy
	// let the call in anyway (credits_unavailable: allow).
	creditsUnknown bool
}

// Agent tracks Realtime calls over their sidebands, accounts their usage,
// publishes it to NATS and hangs calls up on request. Its methods are safe
// for concurrent use.
//
// Agents sharing a NATS (and a subject prefix) form a fleet: each live call
// is owned by exactly one agent instance, recorded in NATS; an agent that
// stops cleanly hands its calls to another, and the calls of an agent
// whose heartbeats stop are adopted by another, which carries on their
// totals (see docs/OPERATIONS.md).
type Agent struct {
	cfg      Config
	feed     *feed.Client
	oai      openai.Client
	wsBase   string
	log      *slog.Logger
	instance string // this run of the agent: names it in ownership records

	ctx     context.Context // the agent's lifetime: cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ownHTTP bool // the agent made its HTTP client, so it closes its idle connections

	secrets secretBook
	adm     *policy.Admission
	counts  *sharedCounts
	ledger  *ledger
	outbox  *feed.Outbox
	peers   *peerBook
	fleet   fleet
	notes   *notifier // nil without Config.Notify

	// stats counts for Stats; svc is the NATS micro service (nil: not
	// registered; guarded by mu).
	stats stats
	svc   micro.Service

	mu      sync.Mutex
	calls   map[string]*call
	closed  bool
	started time.Time
	// handoff is set by Close when another agent can take the calls over.
	handoff bool
	// creditsDown is when reading credits began to fail (zero: they read).
	creditsDown time.Time

	// waiting holds the calls with a cost change held back (coalesced)
	// until their publish interval is up. flushTimer is armed only while
	// it is not empty: a ticker woke the agent 100 times a second, which
	// cost 2 % of a core at 10 calls.
	waitingMu  sync.Mutex
	waiting    map[*call]struct{}
	flushTimer *time.Timer
	flushing   bool // flush is armed
}

// New returns an agent publishing on nc, which the caller keeps and
// closes after the agent. It dials OpenAI only once a call comes (Track,
// Relay, SIPWebhook). It prepares what it needs in NATS (the streams, the
// ownership bucket), waiting up to 5 s for JetStream; when NATS is
// unreachable or JetStream does not answer in time, it starts anyway and
// prepares them once NATS is back, so a NATS outage never stops a backend
// from starting. ctx bounds that wait: if it ends first, New returns its
// error and no agent. Stop the agent with Close.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Agent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if cfg.APIKey == "" {
		return nil, errors.New("agent: no OpenAI API key (set OPENAI_API_KEY)")
	}
	if strings.HasPrefix(cfg.APIKey, "ek_") {
		return nil, errors.New("agent: APIKey is an ephemeral key (ek_…): the sideband needs the project's standard key; OpenAI refuses sidebands opened with ephemeral keys")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	wsBase, err := sidebandBase(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var notifyKey []byte
	if cfg.Notify != nil {
		n, key, err := cfg.Notify.normalize()
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		cfg.Notify, notifyKey = &n, key
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Prices == nil {
		cfg.Prices = DefaultPrices()
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 4 << 20
	}
	cfg.PublishInterval = orDefault(cfg.PublishInterval, 50*time.Millisecond)
	cfg.EvaluateInterval = orDefault(cfg.EvaluateInterval, 250*time.Millisecond)
	cfg.CountersInterval = orDefault(cfg.CountersInterval, 30*time.Second)
	cfg.LiveInterval = orDefault(cfg.LiveInterval, 5*time.Second)
	cfg.ClaimGrace = orDefault(cfg.ClaimGrace, 10*time.Second)
	cfg.ReattachMax = orDefault(cfg.ReattachMax, 5*time.Second)
	cfg.CloseGrace = orDefault(cfg.CloseGrace, 2*time.Second)
	cfg.HeartbeatInterval = orDefault(cfg.HeartbeatInterval, feed.HeartbeatInterval)
	cfg.AdoptAfter = orDefault(cfg.AdoptAfter, 15*time.Second)
	cfg.HandoffWait = orDefault(cfg.HandoffWait, 5*time.Second)
	ownHTTP := cfg.HTTPClient == nil
	if ownHTTP {
		cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fc, err := feed.NewClient(nc, cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	instance := newInstance()
	fc.Replicas, fc.Instance = cfg.Replicas, instance
	life, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:  cfg,
		feed: fc,
		oai: openai.NewClient(
			option.WithAPIKey(cfg.APIKey),
			option.WithBaseURL(cfg.BaseURL),
			option.WithHTTPClient(cfg.HTTPClient),
			option.WithMaxRetries(3),
			option.WithRequestTimeout(5*time.Second),
		),
		wsBase:     wsBase,
		log:        log.With("agent", cfg.Name),
		instance:   instance,
		ctx:        life,
		cancel:     cancel,
		calls:      make(map[string]*call),
		waiting:    make(map[*call]struct{}),
		flushTimer: stoppedTimer(),
		ownHTTP:    ownHTTP,
		adm:        policy.NewAdmission(cfg.PolicyFor),
		outbox:     fc.NewOutbox(cfg.OutboxLimit),
		peers:      newPeerBook(instance, time.Now()),
	}
	a.started = time.Now().UTC()
	a.counts = newSharedCounts(a)
	a.ledger = newLedger(a)
	err = a.fleet.start(ctx, a)
	if err == nil {
		err = ctx.Err() // the caller gave up while NATS was being prepared
	}
	if err != nil {
		cancel()
		a.outbox.Close()
		a.fleet.stop()
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.startMicro()
	a.wg.Add(3)
	go a.publishLoop()
	go func() { defer a.wg.Done(); a.counts.work() }()
	go func() { defer a.wg.Done(); a.ledger.watch() }()
	if cfg.Notify != nil {
		a.notes = startNotifier(ctx, a, *cfg.Notify, notifyKey)
	}
	return a, nil
}

// newInstance names one run of an agent: random, so a restarted agent
// with the same name is told apart from its former self.
func newInstance() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sidebandBase turns the REST base into the sideband's WebSocket base.
func sidebandBase(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	default:
		return "", fmt.Errorf("base URL %q: scheme must be http or https", base)
	}
	return u.String() + "/realtime", nil
}

// Name is the agent's name as it appears in events.
func (a *Agent) Name() string { return a.cfg.Name }

// Instance identifies this run of the agent in call ownership records and
// heartbeats.
func (a *Agent) Instance() string { return a.instance }

func (a *Agent) forget(c *call) {
	a.mu.Lock()
	if a.calls[c.id] == c {
		delete(a.calls, c.id)
	}
	a.mu.Unlock()
	a.stats.forget(c)
}

func (a *Agent) lookup(callID string) *call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[callID]
}

// snapshot returns the calls tracked now.
func (a *Agent) snapshot() []*call {
	a.mu.Lock()
	defer a.mu.Unlock()
	calls := make([]*call, 0, len(a.calls))
	for _, c := range a.calls {
		calls = append(calls, c)
	}
	return calls
}

// Calls returns the IDs of the calls this agent tracks now.
func (a *Agent) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.calls))
	for id := range a.calls {
		ids = append(ids, id)
	}
	return ids
}

// Usage returns a tracked call's usage as of now.
func (a *Agent) Usage(callID string) (feed.Usage, error) {
	c := a.lookup(callID)
	if c == nil {
		return feed.Usage{}, fmt.Errorf("usage %s: %w", callID, ErrNotTracked)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usageLocked(time.Now()), nil
}

// Close stops the agent without hanging any call up: the calls go on at
// OpenAI. When another agent of the fleet is alive, each call is handed to
// it (its totals so far recorded with it) and Close waits up to
// HandoffWait for them to be taken; otherwise the calls are left detached
// and the next agent to start adopts them. Either way each call's cost so
// far is charged (a later charge of its total adds only the rest), a
// goodbye event says what happened, and the final records of calls that
// ended are stored if NATS lets them within a few seconds.
//
// ctx bounds those waits, as http.Server.Shutdown's does: if it ends
// first, Close returns its error, and what was cut short is safe (calls
// not taken yet are adopted by the next agent that scans, records not
// stored are written by the agents that adopt their calls). The agent is
// closed either way. Give it a context that is not cancelled already
// (not the one SIGTERM cancelled): context.Background() waits at most
// HandoffWait plus a few seconds. Closing twice returns nil. Close does
// not close the NATS connection.
func (a *Agent) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	n := len(a.calls)
	a.handoff = n > 0 && a.fleet.canHandOff(time.Now())
	a.mu.Unlock()
	a.stopMicro()
	a.cancel()
	a.notes.stop()
	a.wg.Wait()
	handed := a.fleet.goodbye(ctx, n, a.handoff)
	cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
	if !a.counts.flush(cctx) {
		a.log.Warn("shared counts not updated before closing; the agents that see this one gone purge them")
	}
	ccancel()
	if a.ownHTTP {
		a.cfg.HTTPClient.CloseIdleConnections()
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ferr := a.outbox.Flush(fctx)
	a.outbox.Close()
	a.fleet.stop()
	switch {
	case n == 0:
		a.log.Info("agent closed")
	case a.handoff:
		a.log.Info("agent closed; calls handed over", "calls", n, "taken", handed)
	default:
		a.log.Warn("agent closed; calls left detached for the next agent to adopt", "calls", n)
	}
	if ferr != nil {
		a.log.Error("final records not stored; the agents that adopt their calls will write them", "err", ferr)
	}
	if err := a.flush(ctx); err != nil {
		return fmt.Errorf("agent close: flush: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agent close: %w (the fleet takes over what was left)", err)
	}
	return nil
}

// flush waits for NATS to have what was published, but only while
// connected, and briefly: an agent stopping during a NATS outage must not
// hang (nats.go's Flush waits 10 s for a server that is not there).
func (a *Agent) flush(ctx context.Context) error {
	if a.feed.NC.Status() != nats.CONNECTED || ctx.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := a.feed.NC.FlushWithContext(ctx)
	if errors.Is(err, nats.ErrConnectionClosed) {
		return nil
	}
	return err
}

// publishLoop evaluates every call's policy each EvaluateInterval
// (seconds run between events) and publishes counters that moved; a few
// times a PublishInterval it publishes the cost changes that came in a
// burst and were held back (a lone one goes out at once, from the
// sideband reader); and
// it sends the heartbeat every HeartbeatInterval, with the fleet's
// upkeep: healing NATS after a restart, adopting the calls of dead
// agents.
func (a *Agent) publishLoop() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.EvaluateInterval)
	defer t.Stop()
	defer a.flushTimer.Stop()
	beat := time.NewTicker(a.cfg.HeartbeatInterval)
	defer beat.Stop()
	lastPrune, lastUpkeep := time.Now(), time.Now()
	a.heartbeat()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-beat.C:
			a.fleet.upkeep(time.Now(), true)
			a.heartbeat()
			continue
		case <-a.fleet.wake:
			a.fleet.upkeep(time.Now(), false)
			continue
		case now := <-a.flushTimer.C:
			a.flushCoalesced(now)
			continue
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(lastUpkeep) >= time.Second {
			a.fleet.upkeep(now, false)
			lastUpkeep = now
		} else {
			a.fleet.watchConn(now)
		}
		// Seconds run between events: a call can cross max_seconds or go
		// silent without a frame, so every call is evaluated on the tick.
		for _, c := range a.snapshot() {
			c.enforce(now)
			c.flushUsage(now)
		}
		a.sweepSecrets(now)
		if now.Sub(lastPrune) > time.Minute {
			a.adm.Prune(now)
			lastPrune = now
		}
	}
}

// coalesced notes a call whose cost change waits for its publish
// interval. The lock order is the call's, then the set's.
func (a *Agent) coalesced(c *call) {
	a.waitingMu.Lock()
	a.waiting[c] = struct{}{}
	a.armFlushLocked()
	a.waitingMu.Unlock()
}

// armFlushLocked arms the flush timer unless it is: a held-back change
// goes out within a fifth of PublishInterval of its interval being up.
func (a *Agent) armFlushLocked() {
	if !a.flushing {
		a.flushing = true
		a.flushTimer.Reset(max(a.cfg.PublishInterval/5, 5*time.Millisecond))
	}
}

// stoppedTimer is a timer that has not been armed.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// flushCoalesced publishes the held-back cost changes whose interval is
// up; only calls that have one are looked at.
func (a *Agent) flushCoalesced(now time.Time) {
	a.waitingMu.Lock()
	a.flushing = false // coalesced re-arms it for what is still waiting
	calls := make([]*call, 0, len(a.waiting))
	for c := range a.waiting {
		calls = append(calls, c)
	}
	clear(a.waiting)
	a.waitingMu.Unlock()
	for _, c := range calls {
		if c.flushUsage(now) {
			a.coalesced(c) // its interval is not up yet
		}
	}
}

// heartbeat tells dashboards and other agents this agent is alive, how
// many calls it owns and what is wrong, so calls of an agent that died
// can be marked and adopted.
func (a *Agent) heartbeat() {
	calls := a.snapshot()
	detached := 0
	for _, c := range calls {
		if c.isDetached() {
			detached++
		}
	}
	h := &feed.Heartbeat{Calls: len(calls), StartedAt: a.started, Version: "v1", Instance: a.instance,
		Detached: detached, Outbox: a.outbox.Len()}
	a.mu.Lock()
	if !a.creditsDown.IsZero() {
		t := a.creditsDown.UTC()
		h.CreditsUnavailableSince = &t
	}
	a.mu.Unlock()
	err := a.feed.Publish(feed.Event{Kind: feed.KindHeartbeat, Agent: a.cfg.Name, At: time.Now().UTC(), Heartbeat: h})
	if err != nil {
		a.stats.publishFailed()
		a.log.Warn("heartbeat", "err", err)
	}
}

// creditsRead records whether reading credits worked, for the heartbeat:
// a credit store that cannot be read is a visible state, never only a log
// line.
func (a *Agent) creditsRead(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case err == nil:
		a.creditsDown = time.Time{}
	case a.creditsDown.IsZero():
		a.creditsDown = time.Now()
	}
}

// orDefault is d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
