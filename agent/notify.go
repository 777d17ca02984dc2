package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
)

// Webhook event types an agent can push to an app (Config.Notify).
const (
	// NotifyEnded is a call's final record: the call as `calltop ls
	// --json` prints it once it ended (feed.Summary).
	NotifyEnded = "call.ended"
	// NotifyFlagged is an abuse or health signal on a call, or on a user
	// without a call (key_unclaimed).
	NotifyFlagged = "call.flagged"
	// NotifyWarning is a call crossing the warning threshold of a limit.
	NotifyWarning = "call.warning"
	// NotifyRefused is a call refused at admission.
	NotifyRefused = "call.refused"
)

// notifyKinds maps the optional webhook events to the event kinds whose
// copies the notify stream keeps.
var notifyKinds = map[string]feed.Kind{NotifyFlagged: feed.KindFlag, NotifyWarning: feed.KindWarning, NotifyRefused: feed.KindRefused}

// Delivery defaults: OpenAI's own webhook behaviour (a 2xx within a few
// seconds, retries with exponential backoff for up to 72 hours).
const (
	DefaultNotifyTimeout = 10 * time.Second
	DefaultNotifyGiveUp  = 72 * time.Hour
	// notifyWorkers bounds the attempts one agent has in flight per URL
	// and stream: a slow app slows its own webhooks, nothing else.
	notifyWorkers = 4
	// notifyMaxAckPending bounds the deliveries the whole fleet holds
	// unacknowledged per URL and stream, waiting retries included: past
	// it, newer events wait in the stream (kept, not lost) until older
	// ones are delivered or given up.
	notifyMaxAckPending = 1000
)

// DefaultNotifyBackoff is the wait before each retry of a webhook; the
// last step repeats until the give-up window has passed.
var DefaultNotifyBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour}

// NotifyConfig makes the agent push events to an app as signed webhooks
// (Standard Webhooks, like OpenAI's). Delivery is at least once, from
// durable JetStream consumers shared by the fleet: each event is posted
// by one agent at a time, retried with backoff through receiver outages
// and agent restarts, and carries the same webhook-id on every attempt so
// the app can drop repeats.
type NotifyConfig struct {
	// URLs receive every event; each has its own consumer and retries.
	URLs []string
	// Secret is the signing secret, "whsec_" + base64 of at least 24
	// bytes. Never logged.
	Secret string
	// Events to push, among NotifyEnded (the default), NotifyFlagged,
	// NotifyWarning and NotifyRefused.
	Events []string
	// Timeout bounds one attempt (DefaultNotifyTimeout if zero); a
	// receiver slower than that is retried.
	Timeout time.Duration
	// Backoff is the wait before each retry, the last step repeating
	// (DefaultNotifyBackoff if empty).
	Backoff []time.Duration
	// GiveUpAfter is how long after an event was stored its delivery is
	// retried before it is dropped and logged as an error
	// (DefaultNotifyGiveUp if zero).
	GiveUpAfter time.Duration
}

// Validate reports the first thing wrong with c, naming it; the secret
// itself is never in the error.
func (c NotifyConfig) Validate() error {
	_, _, err := c.normalize()
	return err
}

// normalize checks c and returns it with its defaults filled in, the URLs
// and events deduplicated, and the signing key.
func (c NotifyConfig) normalize() (NotifyConfig, []byte, error) {
	if len(c.URLs) == 0 {
		return c, nil, errors.New("notify: no URL to post webhooks to")
	}
	var urls []string
	for _, raw := range c.URLs {
		u := strings.TrimSpace(raw)
		if err := checkNotifyURL(u); err != nil {
			return c, nil, err
		}
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	c.URLs = urls
	key, err := decodeSecret(c.Secret)
	if err != nil {
		return c, nil, err
	}
	if len(c.Events) == 0 {
		c.Events = []string{NotifyEnded}
	}
	var events []string
	for _, ev := range c.Events {
		ev = strings.TrimSpace(ev)
		if _, ok := notifyKinds[ev]; !ok && ev != NotifyEnded {
			return c, nil, fmt.Errorf("notify events: unknown event %q (want %s, %s, %s or %s)",
				feed.Printable(ev), NotifyEnded, NotifyFlagged, NotifyWarning, NotifyRefused)
		}
		if !slices.Contains(events, ev) {
			events = append(events, ev)
		}
	}
	slices.Sort(events)
	c.Events = events
	if c.Timeout < 0 || c.GiveUpAfter < 0 {
		return c, nil, fmt.Errorf("notify: timeout %s and give-up window %s must not be negative", c.Timeout, c.GiveUpAfter)
	}
	c.Timeout = orDefault(c.Timeout, DefaultNotifyTimeout)
	c.GiveUpAfter = orDefault(c.GiveUpAfter, DefaultNotifyGiveUp)
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultNotifyBackoff
	}
	for _, d := range c.Backoff {
		if d <= 0 {
			return c, nil, fmt.Errorf("notify: backoff step %s: want > 0", d)
		}
	}
	c.Backoff = slices.Clone(c.Backoff)
	return c, key, nil
}

// checkNotifyURL accepts an absolute http or https URL.
func checkNotifyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("notify URL %q: want an absolute http:// or https:// URL such as https://app.example.com/webhooks/calltop", displayURL(raw))
	}
	return nil
}

// displayURL is a webhook URL fit for logs and errors: no credentials,
// and no query, which often carries a token.
func displayURL(raw string) string {
	base, query, hasQuery := strings.Cut(raw, "?")
	base, _, _ = strings.Cut(base, "#")
	if hasQuery && query != "" {
		base += "?…"
	}
	return feed.Printable(feed.RedactURL(base))
}

// NotifyConsumerName is the durable JetStream consumer that delivers
// webhooks to url: the same name on every agent given that URL, so the
// fleet shares one consumer per URL (per stream) and each event is posted
// by one of them. It depends on the URL alone: changing the events or
// rotating the secret keeps the consumer's position and its retries.
func NotifyConsumerName(url string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(url)))
	return "notify_" + hex.EncodeToString(sum[:8])
}

// notifier pushes webhooks for an agent: one target per URL and stream,
// each pulling from its durable consumer.
type notifier struct {
	a       *Agent
	cfg     NotifyConfig
	key     []byte
	http    *http.Client
	log     *slog.Logger
	since   time.Time // a consumer created now delivers what was stored from then on
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	targets []*target
}

// startNotifier starts pushing cfg's events (already normalized) for a;
// setup (New's context) bounds creating the notify stream.
func startNotifier(setup context.Context, a *Agent, cfg NotifyConfig, key []byte) *notifier {
	ctx, cancel := context.WithCancel(a.ctx)
	n := &notifier{a: a, cfg: cfg, key: key, log: a.log.With("component", "webhooks"), since: time.Now().UTC(),
		ctx: ctx, cancel: cancel,
		http: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   cfg.Timeout,
			// A redirect is not followed: it counts as a failed attempt
			// (Standard Webhooks senders do the same), so a moved
			// endpoint shows in the logs instead of being guessed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	var optional []string
	for _, ev := range cfg.Events {
		if k, ok := notifyKinds[ev]; ok {
			optional = append(optional, a.feed.Subjects.NotifyKind(k))
		}
	}
	if len(optional) > 0 && a.feed.NC.Status() == nats.CONNECTED {
		// Before New returns: copies published before the stream exists
		// would be stored nowhere. If NATS cannot make it now, the
		// targets keep trying.
		ctx, cancel := context.WithTimeout(setup, 5*time.Second)
		if _, err := a.feed.EnsureNotifyStream(ctx); err != nil {
			n.log.Warn("notify stream not ready yet; will retry", "err", err)
		}
		cancel()
	}
	for _, u := range cfg.URLs {
		if slices.Contains(cfg.Events, NotifyEnded) {
			n.targets = append(n.targets, n.newTarget(u, true, []string{a.feed.Subjects.Finals()}))
		}
		if len(optional) > 0 {
			n.targets = append(n.targets, n.newTarget(u, false, optional))
		}
	}
	for _, t := range n.targets {
		n.wg.Add(1)
		go t.run()
	}
	n.log.Info("webhooks on", "urls", len(cfg.URLs), "events", strings.Join(cfg.Events, ","))
	return n
}

// stop ends every pull and attempt; an attempt cut short is handed back
// at once (Nak), for another agent or the next start to make.
func (n *notifier) stop() {
	if n == nil {
		return
	}
	n.cancel()
	n.wg.Wait()
	n.http.CloseIdleConnections()
}

// delay is the wait before the retry that follows attempt (1-based).
func (n *notifier) delay(attempt uint64) time.Duration {
	b := n.cfg.Backoff
	i := int(min(attempt, uint64(len(b)))) - 1
	return b[max(i, 0)]
}

// ackWait is how long JetStream waits for an attempt's outcome before
// handing the event to another agent: longer than any attempt, so an
// event is posted by one agent at a time, and short enough that one lost
// with a dying agent is retried soon.
func (n *notifier) ackWait() time.Duration { return 2*n.cfg.Timeout + 5*time.Second }

// sleep waits d, false when the notifier stops meanwhile.
func (n *notifier) sleep(d time.Duration) bool {
	if d <= 0 {
		return n.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}
