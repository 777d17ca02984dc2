package feed

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/natsserver"
)

var prefixN atomic.Int64

// newTestClient starts an embedded NATS with JetStream and returns a client
// under a unique prefix.
func newTestClient(t *testing.T) (*Client, *natsserver.Server) {
	t.Helper()
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := Connect(srv.ClientURL(), "feed-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := NewClient(nc, fmt.Sprintf("t%d", prefixN.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func collect(t *testing.T, w *Watcher, b *Board, until func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !until() {
		batch, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("next: %v (board has %d calls)", err, b.Len())
		}
		for _, e := range batch {
			b.Apply(e)
		}
	}
}

func TestLateWatcherSeesSnapshotThenLive(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	if _, err := c.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	// Three calls with many usage events each, published before anyone watches.
	for i := range 3 {
		id := fmt.Sprintf("rtc_%d", i)
		if err := c.Publish(started(id, 1, fmt.Sprintf("user%d", i))); err != nil {
			t.Fatal(err)
		}
		for s := uint64(2); s <= 50; s++ {
			if err := c.Publish(usage(id, s, int64(s*10), float64(s)/100)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Publish(ended("rtc_2", 51, ReasonExpired, 510, 0.51)); err != nil {
		t.Fatal(err)
	}
	// What the stream holds once it has taken them all: the newest event
	// of each subject (started and usage of each call, rtc_2's ended).
	waitStored(t, c, 7)
	w, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	b := NewBoard(0)
	// Ready may close just after the last replayed event was taken, so
	// poll with short waits rather than block on a Next that has nothing.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ready := false
		select {
		case <-w.Ready():
			ready = true
		default:
		}
		if ready && len(w.ch) == 0 && b.Len() == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay: ready %v, %d calls on the board", ready, b.Len())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		batch, _ := w.Next(ctx)
		cancel()
		for _, e := range batch {
			b.Apply(e)
		}
	}
	for i := range 3 {
		call, _ := b.Get(fmt.Sprintf("rtc_%d", i))
		want := int64(500)
		if i == 2 {
			want = 510
		}
		if call.Usage.Tokens.Total != want || call.User != fmt.Sprintf("user%d", i) {
			t.Fatalf("call %d after snapshot: %+v", i, call)
		}
	}
	if c2, _ := b.Get("rtc_2"); c2.Live() || c2.End.Reason != ReasonExpired {
		t.Fatalf("rtc_2 should be ended/expired: %+v", c2)
	}
	// Live events follow on the same watcher.
	if err := c.Publish(usage("rtc_0", 60, 999, 0.99)); err != nil {
		t.Fatal(err)
	}
	collect(t, w, b, func() bool { call, _ := b.Get("rtc_0"); return call.Usage.Tokens.Total == 999 })
}

func TestWatcherSkipsGarbage(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	w, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	<-w.Ready() // empty stream: ready at once
	// Each on a subject of its own: the live-state stream keeps only the
	// newest message per subject, so a slow reader may never see an older
	// one (cumulative events make that harmless).
	for i, junk := range []string{"not json", `{"v":9}`, `{"v":1,"kind":"usage","call_id":"x"}`} {
		if err := c.NC.Publish(c.Subjects.Call(fmt.Sprintf("rtc_junk%d", i), KindUsage), []byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Publish(started("rtc_ok", 1, "ok")); err != nil {
		t.Fatal(err)
	}
	b := NewBoard(0)
	collect(t, w, b, func() bool { return b.Len() == 1 })
	if _, ok := b.Get("rtc_ok"); !ok || w.Skipped() != 3 {
		t.Fatalf("board %d calls, skipped %d, want rtc_ok and 3 skipped", b.Len(), w.Skipped())
	}
}

func TestTerminate(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if _, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc_nobody"}); !errors.Is(err, ErrNoOwner) {
		t.Fatalf("terminate without owner: %v, want ErrNoOwner", err)
	}
	if _, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc.*"}); !errors.Is(err, ErrInvalidCallID) {
		t.Fatalf("terminate bad id: %v", err)
	}
	var got []TerminateRequest
	sub, err := c.ServeTerminate("rtc_a", func(r TerminateRequest) (*Summary, error) {
		got = append(got, r)
		if r.Reason == "fail" {
			return nil, errors.New("hangup: 500 from OpenAI")
		}
		return &Summary{CallID: "rtc_a", State: StateEnded, EndReason: ReasonOperator}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	rep, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc_a", Operator: "op@host", Reason: "abuse"})
	if err != nil || !rep.OK || rep.Call == nil || rep.Call.State != StateEnded {
		t.Fatalf("terminate: %+v %v", rep, err)
	}
	if _, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc_a", EndReason: "policy"}); err == nil {
		t.Fatal("a terminate may not claim any end reason but operator or app")
	}
	if _, err := c.Terminate(ctx, TerminateRequest{CallID: "rtc_a", Reason: "fail"}); err == nil || !errors.Is(err, err) || err.Error() != "terminate rtc_a: agent: hangup: 500 from OpenAI" {
		t.Fatalf("failed terminate: %v", err)
	}
	if len(got) != 2 || got[0].Operator != "op@host" || got[0].Reason != "abuse" || got[0].V != TerminateVersion {
		t.Fatalf("agent saw %+v", got)
	}
}

func TestSnapshot(t *testing.T) {
	c, _ := newTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := c.Snapshot(ctx, 0)
	if err != nil || b.Len() != 0 {
		t.Fatalf("empty snapshot: %v, %d calls", err, b.Len())
	}
	for i := range 20 {
		id := fmt.Sprintf("rtc_%d", i)
		if err := c.Publish(started(id, 1, "u")); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(usage(id, 2, int64(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	// Garbage as the very last message must not hang the snapshot.
	if err := c.NC.Publish(c.Subjects.Call("rtc_x", KindUsage), []byte("junk")); err != nil {
		t.Fatal(err)
	}
	if err := c.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	waitStored(t, c, 41)
	b, err = c.Snapshot(ctx, 0)
	if err != nil || b.Len() != 20 {
		t.Fatalf("snapshot: %v, %d calls, want 20", err, b.Len())
	}
	if call, _ := b.Get("rtc_19"); call.Usage.Tokens.Total != 19 {
		t.Fatalf("rtc_19 = %+v", call)
	}
}

// waitStored waits until the events stream holds n messages.
func waitStored(t *testing.T, c *Client, n uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.EnsureStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream holds %d messages, want %d", info.State.Msgs, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
