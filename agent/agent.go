package agent

import (
	"context"
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
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

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
	// PublishInterval coalesces usage events: at most one per call per
	// interval. Default 250ms.
	PublishInterval time.Duration
	// AttachTries bounds consecutive failed attaches after a transport
	// drop before the call is given up as ended with reason "error".
	// Default 5.
	AttachTries int
	// HTTPClient is used for the sideband handshake and REST calls.
	HTTPClient *http.Client
	// Logger receives operational logs; discarded if nil.
	Logger *slog.Logger
	// Admit, if set, is asked before every call the agent would start or
	// accept (relay, client secret, SIP), before OpenAI is contacted. A
	// *Refusal refuses with its status and reason; nil admits.
	Admit func(ctx context.Context, mode, user string) error
	// DefaultSession is the realtime session config (JSON object) used when
	// an integration is given none; {"type":"realtime","model":"gpt-realtime"}
	// if empty.
	DefaultSession json.RawMessage
	// PolicyFor returns the policy a user's calls run under: per-call
	// limits (seconds, tokens, cost), per-user admission limits and abuse
	// thresholds. Nil: no limits, default abuse thresholds.
	PolicyFor func(user string) Policy
	// Credits, if set, is the users' credit: read when a call is admitted
	// and starts (the call is cut when its cost reaches what was left) and
	// charged once when it ends. The sidecar uses feed's JetStream store.
	Credits Credits
	// ClaimGrace is how long after a client secret expires a call may
	// still be registered for it before key_unclaimed is raised. Default
	// 10s.
	ClaimGrace time.Duration
}

// Meta is what the app knows about a call that OpenAI does not.
type Meta struct {
	// User is the app's end user (an id or an email), shown on dashboards.
	User string
	// Model is the model the app configured; it prices the call (OpenAI
	// may echo a dated snapshot instead).
	Model string

	// admitted: the call passed the agent's admission, which counted it
	// and read the user's credit into credits (nil: no credit limit), so
	// the call's start need not read it again.
	admitted bool
	credits  *feed.Micros
}

// Agent tracks Realtime calls over their sidebands, accounts their usage,
// publishes it to NATS and hangs calls up on request. Its methods are safe
// for concurrent use.
type Agent struct {
	cfg    Config
	feed   *feed.Client
	oai    openai.Client
	wsBase string
	log    *slog.Logger

	ctx     context.Context // the agent's lifetime: cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ownHTTP bool // the agent made its HTTP client, so it closes its idle connections

	secrets secretBook
	adm     *Admission

	mu      sync.Mutex
	calls   map[string]*call
	closed  bool
	started time.Time
}

// New returns an agent publishing on nc. It dials nothing until Track.
func New(nc *nats.Conn, cfg Config) (*Agent, error) {
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
	if cfg.PublishInterval <= 0 {
		cfg.PublishInterval = 250 * time.Millisecond
	}
	if cfg.ClaimGrace <= 0 {
		cfg.ClaimGrace = 10 * time.Second
	}
	if cfg.AttachTries <= 0 {
		cfg.AttachTries = 5
	}
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
	ctx, cancel := context.WithCancel(context.Background())
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
		wsBase:  wsBase,
		log:     log.With("agent", cfg.Name),
		ctx:     ctx,
		cancel:  cancel,
		calls:   make(map[string]*call),
		ownHTTP: ownHTTP,
		adm:     NewAdmission(cfg.PolicyFor),
	}
	if _, err := fc.EnsureStream(ctx); err != nil {
		a.log.Warn("events stream unavailable; live events only", "err", err)
	}
	a.started = time.Now().UTC()
	a.wg.Add(1)
	go a.publishLoop()
	return a, nil
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

func (a *Agent) forget(c *call) {
	a.mu.Lock()
	if a.calls[c.id] == c {
		delete(a.calls, c.id)
	}
	a.mu.Unlock()
}

func (a *Agent) lookup(callID string) *call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[callID]
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

// Close detaches from every call without hanging any up, publishes each
// call's last totals, and waits for every goroutine of the agent to end.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	n := len(a.calls)
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	if a.ownHTTP {
		a.cfg.HTTPClient.CloseIdleConnections()
	}
	a.log.Info("agent closed; detached without hanging up", "calls", n)
	if err := a.feed.NC.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("agent close: flush: %w", err)
	}
	return nil
}

// publishLoop publishes the usage of every call that changed, at most once
// per PublishInterval, so a chatty call costs a few messages a second; and
// the agent's heartbeat every feed.HeartbeatInterval.
func (a *Agent) publishLoop() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.PublishInterval)
	defer t.Stop()
	beat := time.NewTicker(feed.HeartbeatInterval)
	defer beat.Stop()
	lastPrune := time.Now()
	a.heartbeat()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-beat.C:
			a.heartbeat()
			continue
		case <-t.C:
		}
		a.mu.Lock()
		calls := make([]*call, 0, len(a.calls))
		for _, c := range a.calls {
			calls = append(calls, c)
		}
		a.mu.Unlock()
		// Seconds run between events: a call can cross max_seconds or go
		// silent without a frame, so every call is evaluated on the tick.
		now := time.Now()
		for _, c := range calls {
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

// heartbeat tells dashboards this agent is alive and how many calls it
// owns, so calls of an agent that died can be marked.
func (a *Agent) heartbeat() {
	a.mu.Lock()
	n := len(a.calls)
	a.mu.Unlock()
	err := a.feed.Publish(feed.Event{Kind: feed.KindHeartbeat, Agent: a.cfg.Name, At: time.Now().UTC(),
		Heartbeat: &feed.Heartbeat{Calls: n, StartedAt: a.started, Version: "v1"}})
	if err != nil {
		a.log.Warn("heartbeat", "err", err)
	}
}
