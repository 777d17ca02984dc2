package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/calltop/calltop/feed"
)

// sessionUpdate asks for the session's config: a sideband attach gets no
// session.created, and session.update must carry session.type.
var sessionUpdate = []byte(`{"type":"session.update","session":{"type":"realtime"}}`)

// attachTimeout bounds one handshake; OpenAI has been seen taking 5.5 s to
// answer a doomed one.
const attachTimeout = 15 * time.Second

// attach opens the call's sideband and asks for its session.
func (c *call) attach(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	if c.live() {
		return c.dial(ctx, c.a.liveAttachURL(c.id))
	}
	conn, err := c.dial(ctx, c.a.wsBase+"?call_id="+url.QueryEscape(c.id))
	if err != nil {
		return nil, err
	}
	if err := conn.Write(ctx, websocket.MessageText, sessionUpdate); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("attach %s: session.update: %w", c.id, err)
	}
	return conn, nil
}

// dial opens a sideband at u with the agent's standard key; a 404/410 is
// ErrCallNotFound, a 401/403 ErrUnauthorized.
func (c *call) dial(ctx context.Context, u string) (*websocket.Conn, error) {
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: c.a.cfg.HTTPClient,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + c.a.cfg.APIKey}},
	})
	if err != nil {
		if resp != nil {
			switch resp.StatusCode {
			case http.StatusNotFound, http.StatusGone:
				return nil, fmt.Errorf("attach %s: HTTP %d: %w", c.id, resp.StatusCode, ErrCallNotFound)
			case http.StatusUnauthorized, http.StatusForbidden:
				return nil, fmt.Errorf("attach %s: HTTP %d: %w", c.id, resp.StatusCode, ErrUnauthorized)
			}
		}
		return nil, fmt.Errorf("attach %s: %w", c.id, err)
	}
	// Frames are bounded by MaxFrameBytes in read, which skips an
	// oversized frame instead of letting the library close the sideband.
	conn.SetReadLimit(-1)
	return conn, nil
}

// framePool recycles frame buffers: a call holds one only while it reads
// a frame, so idle calls cost no buffer memory.
var framePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledFrame keeps one huge frame from pinning its buffer in the pool.
const maxPooledFrame = 256 << 10

// read consumes frames until the sideband ends. It returns how the call
// ended (both nil: the agent stopped reading, detach) or, when the socket
// dropped or closed without OpenAI saying the call is over, how it
// dropped: the caller re-attaches, and a 404 then confirms an end.
func (c *call) read(conn *websocket.Conn) (end *feed.End, drop *dropInfo) {
	defer conn.CloseNow()
	expired, closed := false, false
	for {
		typ, r, err := conn.Reader(c.ctx)
		if err != nil {
			return c.classify(conn, err, expired)
		}
		if typ != websocket.MessageText {
			_, _ = io.Copy(io.Discard, r)
			c.skipped()
			continue
		}
		buf := framePool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(io.LimitReader(r, c.a.cfg.MaxFrameBytes+1))
		if err == nil && int64(buf.Len()) > c.a.cfg.MaxFrameBytes {
			_, err = io.Copy(io.Discard, r)
			c.skipped()
			c.a.log.Warn("oversized frame skipped", "call", c.id, "limit", c.a.cfg.MaxFrameBytes)
		} else if err == nil {
			ch := c.apply(buf.Bytes())
			expired = expired || ch&sawExpired != 0
			closed = ch&sawClosed != 0
		}
		if buf.Cap() <= maxPooledFrame {
			framePool.Put(buf)
		}
		if err != nil {
			return c.classify(conn, err, expired)
		}
		if closed {
			return c.liveClosed(conn), nil
		}
	}
}

func (c *call) skipped() {
	c.mu.Lock()
	c.acct.usage.Skipped++
	c.countersMoved = true
	c.mu.Unlock()
}

// apply accounts for one frame and reports what it changed, and whether
// it said the session expired (sawExpired) or closed (sawClosed).
func (c *call) apply(frame []byte) change {
	now := time.Now()
	c.mu.Lock()
	before := c.acct.usage.Responses
	ch, err := c.acct.apply(frame, now)
	switch {
	case ch&changedCost != 0:
		c.noteZombieLocked(now, before)
		c.costMovedLocked(now)
	case ch&changedMeter != 0:
		c.meterMoved = true
	case ch&changedCounters != 0:
		c.countersMoved = true
	}
	if ch&changedSession != 0 {
		s := c.acct.session
		c.publishLocked(feed.Event{Kind: feed.KindSession, Session: &s})
		if f := apiMismatch(c.api, s.Model, "OpenAI runs"); f != nil {
			c.flagLocked(*f)
		}
	}
	c.mu.Unlock()
	if err != nil {
		c.a.log.Debug("frame skipped", "call", c.id, "err", err)
	}
	if ch&(changedCost|changedCounters|changedMeter) != 0 {
		c.enforce(now)
	}
	return ch
}

// classify maps the error that ended a read to the call's fate. Only
// OpenAI ends a call: a session_expired error, or our own hangup. Every
// close or drop otherwise is re-attached, and the re-attach tells: a 404
// after a clean close is a hang-up, after anything else the call is gone;
// a working attach means it was a blip (a proxy restart closes cleanly
// too).
func (c *call) classify(conn *websocket.Conn, err error, expired bool) (*feed.End, *dropInfo) {
	own := c.ownEnd()
	if c.ctx.Err() != nil {
		// We stopped reading: our hangup succeeded, or the agent is
		// closing or handing the call over.
		if own == nil {
			conn.Close(websocket.StatusGoingAway, "calltop agent detaching")
		}
		return own, nil
	}
	d := &dropInfo{at: time.Now(), expired: expired}
	var ce websocket.CloseError
	switch {
	case expired:
		return &feed.End{Reason: feed.ReasonExpired, Detail: "session_expired: hit OpenAI's maximum session duration"}, nil
	case errors.As(err, &ce) && (ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusGoingAway):
		if own != nil {
			return own, nil
		}
		d.clean = true
		d.detail = fmt.Sprintf("sideband closed %d %s", ce.Code, ce.Reason)
	case errors.As(err, &ce):
		d.detail = fmt.Sprintf("sideband closed %d %s", ce.Code, ce.Reason)
	default:
		d.detail = "sideband dropped: " + err.Error()
	}
	c.a.log.Info("sideband ended without a word from OpenAI on the call; re-attaching to find out", "call", c.id, "why", d.detail)
	return nil, d
}
