package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/feed"
)

// receiver is the app's webhook endpoint: a real HTTP server that
// verifies every attempt with openai-go's own Standard Webhooks verifier,
// records it, and answers as the test says (500s first, a dead
// connection, a slow answer).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	oai    openai.Client

	fail atomic.Int64 // answer 500 to this many attempts first
	down atomic.Bool  // drop the connection without an answer
	hang atomic.Bool  // answer only once the sender gives up

	mu       sync.Mutex
	attempts []attempt
}

// attempt is one POST the receiver got.
type attempt struct {
	id, typ string
	header  http.Header
	body    []byte
	at      time.Time
	ok      bool  // answered 2xx
	verify  error // openai-go's verdict on the signature
	env     struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
}

// newSecret is a fresh Standard Webhooks secret, as OpenAI's dashboard
// hands them out.
func newSecret(t *testing.T) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, oai: openai.NewClient(option.WithAPIKey("unused"), option.WithWebhookSecret(secret))}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hooks/calltop" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	a := attempt{id: req.Header.Get("webhook-id"), header: req.Header.Clone(), body: body, at: time.Now(),
		verify: r.oai.Webhooks.VerifySignature(body, req.Header)}
	_ = json.Unmarshal(body, &a.env)
	a.typ = a.env.Type
	switch {
	case r.down.Load():
		r.record(a)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		w.WriteHeader(http.StatusBadGateway)
	case r.hang.Load():
		r.record(a)
		<-req.Context().Done()
	case r.fail.Add(-1) >= 0:
		r.record(a)
		http.Error(w, "boom", http.StatusInternalServerError)
	default:
		a.ok = true
		r.record(a)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (r *receiver) record(a attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

// all returns every attempt so far.
func (r *receiver) all() []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attempt(nil), r.attempts...)
}

// delivered counts the successful attempts per webhook-id.
func (r *receiver) delivered() map[string]int {
	n := map[string]int{}
	for _, a := range r.all() {
		if a.ok {
			n[a.id]++
		}
	}
	return n
}

// waitFor polls until cond holds on the attempts, or fails after limit.
func (r *receiver) waitFor(what string, limit time.Duration, cond func([]attempt) bool) []attempt {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := r.all()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %s: still no %s; the receiver got %d attempts: %v", limit, what, len(got), ids(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDelivered waits until every id was delivered at least once.
func (r *receiver) waitDelivered(limit time.Duration, ids ...string) {
	r.t.Helper()
	r.waitFor("delivery of "+joinIDs(ids), limit, func([]attempt) bool {
		got := r.delivered()
		for _, id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
}

// checkSigned fails on any attempt that openai-go's verifier refused, or
// that lacks what a Standard Webhooks receiver expects.
func (r *receiver) checkSigned() {
	r.t.Helper()
	for _, a := range r.all() {
		if a.verify != nil {
			r.t.Fatalf("webhook %s: openai-go refused its signature: %v", a.id, a.verify)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			r.t.Fatalf("webhook %s: content-type %q", a.id, ct)
		}
		if ua := a.header.Get("User-Agent"); !bytes.Contains([]byte(ua), []byte("calltop")) {
			r.t.Fatalf("webhook %s: user-agent %q does not name calltop", a.id, ua)
		}
		if a.env.Type == "" || a.env.Timestamp.IsZero() || len(a.env.Data) == 0 {
			r.t.Fatalf("webhook %s: not a Standard Webhooks payload: %s", a.id, a.body)
		}
	}
}

func ids(as []attempt) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		s := a.id
		if !a.ok {
			s += "(failed)"
		}
		out = append(out, s)
	}
	return out
}

func joinIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	return b.String()
}

// fastNotify is a notify config with test timing: retries every 50 ms.
func fastNotify(secret string, urls ...string) *agent.NotifyConfig {
	return &agent.NotifyConfig{URLs: urls, Secret: secret, Backoff: []time.Duration{50 * time.Millisecond}}
}

// waitSettled waits until the URL's consumer on stream has nothing left
// to deliver and nothing unacknowledged: from then on no further attempt
// can come, so counting deliveries is final.
func waitSettled(t *testing.T, nc *nats.Conn, stream, url string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := js.Consumer(ctx, stream, agent.NotifyConsumerName(url))
		var info *jetstream.ConsumerInfo
		if err == nil {
			info, err = c.Info(ctx)
		}
		cancel()
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer of %s on %s not settled: %+v %v", url, stream, info, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// summaryOf decodes a call.ended webhook's data.
func summaryOf(t *testing.T, a attempt) feed.Summary {
	t.Helper()
	var s feed.Summary
	dec := json.NewDecoder(bytes.NewReader(a.env.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("call.ended data is not a feed.Summary: %v\n%s", err, a.env.Data)
	}
	return s
}
