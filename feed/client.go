package feed

import (
	"errors"
	"fmt"
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
	// Replicas is how many copies a NATS cluster keeps of every stream and
	// bucket this client creates (1 if zero); 3 survives the loss of a
	// node. Existing streams keep their own setting.
	Replicas int
	// Instance, if set, names this run of the publishing agent in the
	// Nats-Msg-Id of its events (see Message).
	Instance string
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
// that so a NATS restart never kills an agent or a dashboard. Security's
// Options are how a client authenticates beyond the URL and checks the
// server (TLS).
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
		hint := ""
		if errors.Is(err, nats.ErrAuthorization) {
			hint = " (the server refused these credentials: check the user:password@ or token@ in the URL, the creds or the nkey file)"
		}
		return nil, fmt.Errorf("connect to NATS at %s: %w%s", RedactURL(url), redactErr(url, err), hint)
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

// Publish checks e and sends it on its subject with a core NATS publish:
// it never blocks on NATS (the client buffers while reconnecting), and
// what a NATS restart loses is re-announced by its agent. Final records,
// which must not be lost, go through an Outbox instead.
func (c *Client) Publish(e Event) error {
	msg, err := c.Message(e)
	if err != nil {
		return err
	}
	if err := c.NC.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish %s/%s: %w", e.CallID, e.Kind, err)
	}
	return nil
}

// Message checks e and encodes it, in the compact schema 2, as the NATS
// message Publish sends: no header (a core publish is never retried, so it
// needs no Nats-Msg-Id; see WithMsgID for those that are).
func (c *Client) Message(e Event) (*nats.Msg, error) {
	e.V = VersionCompact
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	data, err := compact(&e)
	if err != nil {
		return nil, fmt.Errorf("publish %s/%s: %w", e.CallID, e.Kind, err)
	}
	return &nats.Msg{Subject: c.Subjects.Of(&e), Data: data}, nil
}

// RecordMessage is Message for records read on their own, days later
// (final records, webhook copies): schema 2 with the kind, call and user
// in the payload, and a Nats-Msg-Id.
func (c *Client) RecordMessage(e Event) (*nats.Msg, error) {
	e.V = VersionCompact
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	data, err := encodeCompact(&e, true)
	if err != nil {
		return nil, fmt.Errorf("publish %s/%s: %w", e.CallID, e.Kind, err)
	}
	msg := &nats.Msg{Subject: c.Subjects.Of(&e), Data: data}
	c.WithMsgID(msg, &e)
	return msg, nil
}

// WithMsgID sets a call event's Nats-Msg-Id (agent instance or name, call,
// term, seq), so JetStream drops a duplicate of a retried publish, and
// never the events of a restarted agent: its instance differs.
func (c *Client) WithMsgID(msg *nats.Msg, e *Event) {
	if e.Seq == 0 {
		return
	}
	who := c.Instance
	if who == "" {
		who = e.Agent
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(jetstream.MsgIDHeader, who+"."+e.CallID+"."+strconv.FormatUint(e.Term, 10)+"."+strconv.FormatUint(e.Seq, 10))
}
