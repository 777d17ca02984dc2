package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Client is a NATS connection with calltop's subject layout: what agents
// publish and answer with, and what dashboards watch and terminate with.
type Client struct {
	NC       *nats.Conn
	Subjects Subjects
}

// NewClient wraps an open connection; prefix "" means DefaultPrefix.
func NewClient(nc *nats.Conn, prefix string) (*Client, error) {
	subj, err := NewSubjects(prefix)
	if err != nil {
		return nil, err
	}
	return &Client{NC: nc, Subjects: subj}, nil
}

// Connect dials NATS with the options calltop wants everywhere: a name that
// shows in `nats server report connections`, a short first-connect timeout so
// a wrong URL fails fast with one clear line, and endless reconnects after
// that so a NATS restart never kills an agent or a dashboard.
func Connect(url, name string, opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{
		nats.Name(name),
		nats.Timeout(3 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectBufSize(32 << 20),
	}, opts...)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", RedactURL(url), redactErr(url, err))
	}
	return nc, nil
}

// ConnState is the NATS connection as a dashboard shows it.
type ConnState string

// Connection states.
const (
	ConnConnected    ConnState = "connected"
	ConnReconnecting ConnState = "reconnecting"
	ConnDown         ConnState = "down"
)

// State reports the connection's state.
func (c *Client) State() ConnState {
	switch c.NC.Status() {
	case nats.CONNECTED:
		return ConnConnected
	case nats.RECONNECTING, nats.CONNECTING:
		return ConnReconnecting
	default:
		return ConnDown
	}
}

// Stream settings: long enough for "recently ended" and a day of audit,
// bounded so a busy install cannot fill a disk. JetStream reserves
// MaxBytes up front, so it stays modest; create the stream yourself for
// other limits (EnsureStream keeps an existing one).
const (
	streamMaxAge     = 24 * time.Hour
	streamMaxBytes   = 256 << 20
	streamDuplicates = 2 * time.Minute
)

// EnsureStream creates the events stream if it does not exist. An existing
// stream is left as it is, so an operator's own limits are kept.
func (c *Client) EnsureStream(ctx context.Context) (jetstream.Stream, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	name := c.Subjects.Stream()
	s, err := js.Stream(ctx, name)
	if err == nil {
		return c.coverSubjects(ctx, js, s)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("look up stream %s (is JetStream enabled on the server?): %w", name, err)
	}
	s, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "calltop call events",
		Subjects:    c.Subjects.Stored(),
		Storage:     jetstream.FileStorage,
		MaxAge:      streamMaxAge,
		MaxBytes:    streamMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  streamDuplicates,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", name, err)
	}
	return s, nil
}

// Publish checks e and sends it on its subject. The Nats-Msg-Id header (agent, call, seq)
// lets JetStream drop a duplicate if a publish is retried.
func (c *Client) Publish(e Event) error {
	e.V = Version
	if err := e.check(); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish %s/%s: %w", e.CallID, e.Kind, err)
	}
	msg := nats.NewMsg(c.Subjects.Of(&e))
	msg.Data = data
	if e.Seq > 0 {
		msg.Header.Set(jetstream.MsgIDHeader, e.Agent+"."+e.CallID+"."+strconv.FormatUint(e.Seq, 10))
	}
	if err := c.NC.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish %s/%s: %w", e.CallID, e.Kind, err)
	}
	return nil
}

// coverSubjects adds the subjects this version stores to an existing
// stream that lacks them (one made by an older calltop), changing nothing
// else of the operator's settings.
func (c *Client) coverSubjects(ctx context.Context, js jetstream.JetStream, s jetstream.Stream) (jetstream.Stream, error) {
	cfg := s.CachedInfo().Config
	missing := false
	for _, want := range c.Subjects.Stored() {
		if !slices.Contains(cfg.Subjects, want) {
			cfg.Subjects = append(cfg.Subjects, want)
			missing = true
		}
	}
	if !missing {
		return s, nil
	}
	s, err := js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("add subjects to stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
