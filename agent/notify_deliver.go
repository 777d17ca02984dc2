package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltop/calltop/feed"
)

// notifyUserAgent names the sender in every webhook.
const notifyUserAgent = "calltop-webhooks/1"

// webhook is one event as the app receives it: the same id and body on
// every attempt, by whichever agent makes it.
type webhook struct {
	id   string
	typ  string
	body []byte
}

// envelope is the Standard Webhooks payload: the event type, when the
// event happened, and its data.
type envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// alertData is the data of call.flagged, call.warning and call.refused:
// who, when, and the flag, warning or refusal as in the event schema.
type alertData struct {
	CallID  string        `json:"call_id,omitempty"`
	User    string        `json:"user,omitempty"`
	Agent   string        `json:"agent"`
	At      time.Time     `json:"at"`
	Flag    *feed.Flag    `json:"flag,omitempty"`
	Warning *feed.Warning `json:"warning,omitempty"`
	Refusal *feed.Refusal `json:"refusal,omitempty"`
}

// webhookFor turns a stored event into its webhook. call.ended's data is
// the call as `calltop ls --json` prints it once ended: the final record
// folded into a Board, summarized as of its end, so the app reads the
// same fields, final seconds and exact cost as every other reader.
func webhookFor(data []byte) (webhook, error) {
	e, err := feed.Decode(data)
	if err != nil {
		return webhook{}, err
	}
	var env envelope
	switch e.Kind {
	case feed.KindEnded:
		b := feed.NewBoard(time.Hour)
		b.Apply(e)
		c, ok := b.Get(e.CallID)
		if !ok || c.Live() {
			return webhook{}, fmt.Errorf("final record of %s does not end the call", e.CallID)
		}
		env = envelope{Type: NotifyEnded, Timestamp: c.EndedAt.UTC(), Data: c.Summarize(c.EndedAt)}
	case feed.KindFlag, feed.KindWarning, feed.KindRefused:
		env = envelope{Type: alertType(e.Kind), Timestamp: e.At.UTC(),
			Data: alertData{CallID: e.CallID, User: e.User, Agent: e.Agent, At: e.At.UTC(), Flag: e.Flag, Warning: e.Warning, Refusal: e.Refusal}}
	default:
		return webhook{}, fmt.Errorf("%s event: no webhook for this kind", e.Kind)
	}
	body, err := json.Marshal(env)
	if err != nil {
		return webhook{}, err
	}
	return webhook{id: webhookID(e, data), typ: env.Type, body: body}, nil
}

func alertType(k feed.Kind) string {
	for ev, kind := range notifyKinds {
		if kind == k {
			return ev
		}
	}
	return ""
}

// webhookID derives an event's webhook-id from the event itself, so it
// is the same on every attempt, from every agent: a call's final record
// is "ended_<call_id>" (one per call); a flag on a call "flagged_<call_id>_<kind>"
// and a warning "warning_<call_id>_<limit>" (a call raises each once);
// a user's flag or a refusal, which can recur, is named by a digest of
// the stored event. The same id is the copy's Nats-Msg-Id, so a copy
// published twice is stored once.
func webhookID(e feed.Event, data []byte) string {
	switch {
	case e.Kind == feed.KindEnded:
		return "ended_" + e.CallID
	case e.Kind == feed.KindFlag && e.CallID != "" && e.Flag != nil:
		return "flagged_" + e.CallID + "_" + feed.Token(string(e.Flag.Kind))
	case e.Kind == feed.KindWarning && e.Warning != nil:
		return "warning_" + e.CallID + "_" + feed.Token(string(e.Warning.Limit))
	}
	sum := sha256.Sum256(data)
	return strings.TrimPrefix(alertType(e.Kind), "call.") + "_" + feed.UserKey(e.User) + "_" + hex.EncodeToString(sum[:8])
}

// deliver makes one attempt at posting an event and settles it with
// JetStream: a 2xx acknowledges it; anything else (another status, a
// timeout, a refused connection) retries it after the backoff step of
// this attempt, from whichever agent pulls it then, until GiveUpAfter
// has passed since it was stored, when it is dropped with an error log.
// 4xx answers are retried too, as every Standard Webhooks sender does: a
// 400 or 401 is most often the app's verifier misconfigured, fixed by a
// deploy, and dropping the event would lose a final record.
func (t *target) deliver(m jetstream.Msg) {
	n := t.n
	md, err := m.Metadata()
	if err != nil {
		t.log.Error("webhook event without metadata; dropped", "err", err)
		_ = m.Term()
		return
	}
	w, err := webhookFor(m.Data())
	if err != nil {
		t.log.Error("stored event unreadable; no webhook for it", "seq", md.Sequence.Stream, "err", err)
		_ = m.TermWithReason("calltop: unreadable event")
		return
	}
	start := time.Now()
	status, err := t.post(w)
	log := t.log.With("webhook_id", w.id, "type", w.typ, "attempt", md.NumDelivered)
	if err == nil && status/100 == 2 {
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if aerr := m.DoubleAck(actx); aerr != nil {
			log.Warn("webhook delivered but its ack not confirmed: the app may receive it again (same webhook-id)", "err", aerr)
			return
		}
		log.Info("webhook delivered", "status", status, "took", time.Since(start).Round(time.Millisecond))
		return
	}
	if n.ctx.Err() != nil {
		_ = m.Nak() // the agent stops: another agent (or the next start) retries at once
		return
	}
	why := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		why = err.Error()
	}
	age := time.Since(md.Timestamp)
	if age >= n.cfg.GiveUpAfter {
		log.Error("WEBHOOK GIVEN UP: not delivered within the retry window; the event is dropped",
			"last_error", why, "stored", md.Timestamp.UTC(), "window", n.cfg.GiveUpAfter)
		_ = m.TermWithReason("calltop: not delivered within " + n.cfg.GiveUpAfter.String())
		return
	}
	delay := min(n.delay(md.NumDelivered), n.cfg.GiveUpAfter-age)
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		log.Warn("webhook refused by the app; retrying (is the app verifying with the same secret?)", "err", why, "retry_in", delay)
	} else {
		log.Warn("webhook not delivered; retrying", "err", why, "retry_in", delay)
	}
	_ = m.NakWithDelay(delay)
}

// post makes one attempt and returns the answer's status. Its errors
// never quote the URL (it may carry a token).
func (t *target) post(w webhook) (int, error) {
	n := t.n
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, t.url, bytes.NewReader(w.body))
	if err != nil {
		return 0, errors.New("bad URL")
	}
	sign(req.Header, n.key, w.id, time.Now(), w.body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", notifyUserAgent)
	resp, err := n.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, err
	}
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}
