package feed

import (
	"context"
	"errors"
	"testing"
	"time"
)

// historyMsgs waits until the history stream holds n messages (it sources
// the live-state stream, a hop behind) and returns the time then: every
// event stored so far is at or before it, every event published after it
// is after.
func historyMsgs(t *testing.T, c *Client, n uint64) time.Time {
	t.Helper()
	ctx := context.Background()
	s, err := c.EnsureHistoryStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == n {
			return time.Now()
		}
		if info.State.Msgs > n || time.Now().After(deadline) {
			t.Fatalf("history holds %d messages, want %d", info.State.Msgs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMomentAt: calls start, spend and end; the board replayed at moments
// between their events shows exactly the calls live then, with the usage
// of then, even after the live state purged the ended calls' events.
func TestMomentAt(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	before := time.Now()
	if _, err := c.MomentAt(ctx, before); !errors.Is(err, ErrNoHistory) {
		t.Fatalf("no history stream yet: %v", err)
	}
	if _, err := c.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	historyMsgs(t, c, 0)
	start := time.Now().Add(-time.Minute)
	ev := func(id string, seq uint64, kind Kind) Event {
		return Event{Kind: kind, CallID: id, Term: 1, Seq: seq, At: time.Now(), Agent: "api-1"}
	}
	started := func(id, user string) Event {
		e := ev(id, 1, KindStarted)
		e.Start = &Start{User: user, Model: "gpt-realtime", StartedAt: start}
		return e
	}
	usage := func(id string, seq uint64, tokens int64) Event {
		e := ev(id, seq, KindUsage)
		e.Usage = &Usage{Tokens: Tokens{Total: tokens, Input: tokens}, Responses: int(seq), CostUSD: float64(tokens) / 1e4}
		return e
	}
	ended := func(id string, seq uint64, tokens int64) Event {
		e := usage(id, seq, tokens)
		e.Kind, e.End = KindEnded, &End{Reason: ReasonHangup, EndedAt: time.Now()}
		e.Start = &Start{User: "x", Model: "gpt-realtime", StartedAt: start}
		return e
	}
	var moments []time.Time
	var stored uint64
	step := func(evs ...Event) {
		for _, e := range evs {
			if err := c.Publish(e); err != nil {
				t.Fatal(err)
			}
		}
		stored += uint64(len(evs))
		moments = append(moments, historyMsgs(t, c, stored))
	}
	step(started("rtc_a", "alice"))                       // 0: a live, nothing spent
	step(usage("rtc_a", 2, 100))                          // 1: a spent 100
	step(started("rtc_b", "bob"), usage("rtc_a", 3, 300)) // 2: a 300, b live
	step(ended("rtc_a", 4, 350))                          // 3: a ended at 350, b live
	step(usage("rtc_b", 2, 70), ended("rtc_b", 3, 90))    // 4: both ended
	// The live state forgets a's past altogether; the history keeps it.
	live, err := c.EnsureStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := live.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PurgeCall(ctx, "rtc_a", info.State.LastSeq+1); err != nil {
		t.Fatal(err)
	}

	type want struct {
		state  State
		tokens int64
	}
	for i, w := range []map[string]want{
		{"rtc_a": {StateLive, 0}},
		{"rtc_a": {StateLive, 100}},
		{"rtc_a": {StateLive, 300}, "rtc_b": {StateLive, 0}},
		{"rtc_a": {StateEnded, 350}, "rtc_b": {StateLive, 0}},
		{"rtc_a": {StateEnded, 350}, "rtc_b": {StateEnded, 90}},
	} {
		m, err := c.MomentAt(ctx, moments[i])
		if err != nil {
			t.Fatalf("moment %d: %v", i, err)
		}
		if !m.Partial() {
			t.Errorf("moment %d: the history began seconds ago, not partial (since %s)", i, m.Since)
		}
		b := m.Board(0)
		if b.Len() != len(w) {
			t.Errorf("moment %d: %d calls on the board, want %d", i, b.Len(), len(w))
		}
		for id, want := range w {
			call, ok := b.Get(id)
			if !ok || call.State != want.state || call.Usage.Tokens.Total != want.tokens {
				t.Errorf("moment %d: %s = %s with %d tokens (on the board: %v); want %s with %d", i, id, call.State, call.Usage.Tokens.Total, ok, want.state, want.tokens)
			}
			if s := call.Summarize(m.At); call.Live() && s.Seconds < 60 {
				t.Errorf("moment %d: %s has run %.1f s at the moment, want its seconds then (≥ 60)", i, id, s.Seconds)
			}
		}
	}
	if _, err := c.MomentAt(ctx, before); !errors.Is(err, ErrNoHistory) {
		t.Errorf("a moment before the history began: %v", err)
	}

	// A Replay hands the moment over once, then blocks; it never hangs up.
	m, _ := c.MomentAt(ctx, moments[2])
	r := NewReplay(m)
	got, err := r.Next(ctx)
	if err != nil || len(got) != len(m.Events) || len(got) != 4 {
		t.Fatalf("replay: %d events, %v; want %d", len(got), err, len(m.Events))
	}
	select {
	case <-r.Ready():
	default:
		t.Error("replay not ready after handing everything over")
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if evs, err := r.Next(short); len(evs) != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("replay's second Next: %d events, %v", len(evs), err)
	}
	if _, err := r.Terminate(ctx, TerminateRequest{CallID: "rtc_a"}); !errors.Is(err, ErrReplay) {
		t.Errorf("replay's terminate: %v", err)
	}
}
