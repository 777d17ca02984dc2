package agent

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// liveAttachURL is a GPT-Live session's sideband: attached by path, with
// the graceful close handshake, so the socket's end follows a
// session.closed that says why and gives the final seconds. Nothing is
// sent on attach: the first frame is OpenAI's session.started, and a
// sideband must not send session.start.
func (a *Agent) liveAttachURL(id string) string {
	return strings.TrimSuffix(a.wsBase, "/realtime") + "/live/sessions/" + url.PathEscape(id) + "/attach?graceful_close=true"
}

// liveClosed ends a Live session on OpenAI's session.closed: the end is
// the close reason (or our own hangup's, for close_requested); the socket
// is closed by us, which completes the graceful close.
func (c *call) liveClosed(conn *websocket.Conn) *feed.End {
	conn.Close(websocket.StatusNormalClosure, "session closed")
	c.mu.Lock()
	reason, own := c.acct.closed, c.endReq
	c.mu.Unlock()
	e := liveEnd(reason, own, time.Now())
	return &e
}

// sessionCap is OpenAI's maximum duration of the call's session.
func (c *call) sessionCap() time.Duration {
	if c.live() {
		return policy.LiveSessionCap
	}
	return policy.SessionCap
}

// apiMismatch flags a model of one voice API on a call of the other:
// "gpt-live-…" models are GPT-Live's. who says where the model was seen.
func apiMismatch(api feed.API, model, who string) *feed.Flag {
	if model == "" || strings.HasPrefix(model, "gpt-live") == (api == feed.APILive) {
		return nil
	}
	want := "a Realtime model"
	if api == feed.APILive {
		want = "a GPT-Live model (gpt-live-…)"
	}
	return &feed.Flag{Kind: feed.FlagAPIMismatch,
		Message:  fmt.Sprintf("%s %q on a %s call, which takes %s", who, feed.Printable(model), api.Or(), want),
		Evidence: map[string]string{"api": string(api.Or()), "model": model}}
}
