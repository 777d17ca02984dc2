package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

// storedUpTo waits until the history stream holds n messages and returns
// the time then: a moment after every event so far, before any to come.
func storedUpTo(t *testing.T, cl *feed.Client, n uint64) time.Time {
	t.Helper()
	s, err := cl.EnsureHistoryStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	waitFor(t, "events in the history", func() bool {
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = info.State.Msgs
		return got >= n
	})
	if got != n {
		t.Fatalf("history holds %d messages, want %d", got, n)
	}
	return time.Now()
}

// TestLsAndWatchAt: `ls --at` at moments between events shows exactly the
// calls live then, with their usage and seconds of then; `watch --at`
// gets the same moment, read-only, its clock stopped there.
func TestLsAndWatchAt(t *testing.T) {
	url, cl := runNATS(t)
	if code, _, errs := calltop(t, "ls", "--nats", url, "--at", "-1m"); code != 1 || !strings.Contains(errs, "no history") {
		t.Errorf("ls --at without a history: exit %d, %q", code, errs)
	}
	storedUpTo(t, cl, 0)
	start := time.Now().Add(-time.Minute)
	event := func(id string, seq uint64, tokens int64, kind feed.Kind) feed.Event {
		e := feed.Event{Kind: kind, CallID: id, Term: 1, Seq: seq, At: time.Now(), Agent: "api-1",
			Start: &feed.Start{User: "user of " + id, Model: "gpt-realtime", StartedAt: start}}
		if kind != feed.KindStarted {
			e.Usage = &feed.Usage{Tokens: feed.Tokens{Total: tokens, Input: tokens}, CostUSD: float64(tokens) / 1e5}
		}
		if kind == feed.KindEnded {
			e.End = &feed.End{Reason: feed.ReasonHangup, EndedAt: time.Now()}
		}
		return e
	}
	var at []time.Time
	n := uint64(0)
	for _, evs := range [][]feed.Event{
		{event("rtc_a", 1, 0, feed.KindStarted)},
		{event("rtc_a", 2, 120, feed.KindUsage), event("rtc_b", 1, 0, feed.KindStarted)},
		{event("rtc_a", 3, 480, feed.KindUsage), event("rtc_b", 2, 40, feed.KindEnded)},
		{event("rtc_a", 4, 500, feed.KindEnded)},
	} {
		publish(t, cl, evs)
		n += uint64(len(evs))
		at = append(at, storedUpTo(t, cl, n))
	}
	type row struct {
		state  feed.State
		tokens int64
	}
	for i, want := range []map[string]row{
		{"rtc_a": {feed.StateLive, 0}},
		{"rtc_a": {feed.StateLive, 120}, "rtc_b": {feed.StateLive, 0}},
		{"rtc_a": {feed.StateLive, 480}, "rtc_b": {feed.StateEnded, 40}},
		{"rtc_a": {feed.StateEnded, 500}, "rtc_b": {feed.StateEnded, 40}},
	} {
		got := lsAtJSON(t, url, at[i].Format(time.RFC3339Nano))
		if len(got) != len(want) {
			t.Errorf("ls --at moment %d: %d calls, want %d", i, len(got), len(want))
		}
		for id, w := range want {
			s := got[id]
			if s.State != w.state || s.Tokens.Total != w.tokens {
				t.Errorf("ls --at moment %d: %s %s with %d tokens, want %s with %d", i, id, s.State, s.Tokens.Total, w.state, w.tokens)
			}
			if s.State == feed.StateLive && (s.Seconds < 60 || s.Seconds > at[i].Sub(start).Seconds()+0.1) {
				t.Errorf("ls --at moment %d: %s has %.1f s, want its seconds at the moment (%.1f)", i, id, s.Seconds, at[i].Sub(start).Seconds())
			}
		}
	}
	code, out, errs := calltop(t, "ls", "--nats", url, "--at", at[1].Format(time.RFC3339Nano))
	if code != 0 || !strings.Contains(errs, "calls at ") || !strings.Contains(errs, "replayed from CALLTOP_HISTORY") ||
		!strings.Contains(lineOf(out, "rtc_a"), "live") {
		t.Errorf("ls --at table: exit %d\n%s\n%s", code, out, errs)
	}
	for _, bad := range []string{"tomorrow", "2999-01-01T00:00:00Z", "-5q"} {
		if code, _, errs := calltop(t, "ls", "--nats", url, "--at", bad); code != 2 || !strings.HasPrefix(errs, "calltop ls: --at ") {
			t.Errorf("ls --at %s: exit %d, %q", bad, code, errs)
		}
		if code, _, errs := calltop(t, "watch", "--nats", url, "--at", bad); code != 2 || !strings.HasPrefix(errs, "calltop watch: --at ") {
			t.Errorf("watch --at %s: exit %d, %q", bad, code, errs)
		}
	}

	// watch --at: the same moment, read-only, its clock stopped there.
	src, opts, err := replayAt(context.Background(), cl, at[2], tui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := src.Next(context.Background())
	if err != nil || len(evs) != 5 {
		t.Fatalf("watch --at: %d events, %v; want the 5 stored by then", len(evs), err)
	}
	if !opts.ReadOnly || !opts.ReplayAt.Equal(at[2]) || !opts.Now().Equal(at[2]) {
		t.Errorf("watch --at options: read-only %v, replay at %v, now %v", opts.ReadOnly, opts.ReplayAt, opts.Now())
	}
	if _, err := src.Terminate(context.Background(), feed.TerminateRequest{CallID: "rtc_a"}); err == nil {
		t.Error("a replay hung up")
	}
}

func lsAtJSON(t *testing.T, url, at string) map[string]feed.Summary {
	t.Helper()
	code, out, errs := calltop(t, "ls", "--json", "--nats", url, "--at", at)
	if code != 0 {
		t.Fatalf("ls --json --at %s: exit %d: %s", at, code, errs)
	}
	calls := map[string]feed.Summary{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var s feed.Summary
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("ls --json line %q: %v", line, err)
		}
		calls[s.CallID] = s
	}
	return calls
}
