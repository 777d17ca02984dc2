package agent_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// An error close is OpenAI closing our sideband, not the call: the agent
// re-attaches and the call goes on, with the moment unread counted as a
// gap. Only a 404 on that re-attach ends it (gone), the close kept in the
// detail.
func TestErrorCloseReattaches(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "u")
	// Track returns once the handshake is done; the stand-in may register
	// the sideband a moment later.
	waitFor(t, "the sideband closed", func() bool {
		return e.openai.CloseSideband(id, 4000, "invalid_request_error.beta_api_shape_disabled") > 0
	})
	c := e.waitCall(id, "a gap after the re-attach", func(c feed.Call) bool { return c.Usage.Gaps == 1 })
	if !c.Live() || e.openai.Attaches(id) != 2 {
		t.Fatalf("after an error close: call %s, %d attaches; want live, 2", c.State, e.openai.Attaches(id))
	}
	e.openai.FailAttaches(id, 404, 1)
	waitFor(t, "the sideband closed again", func() bool {
		return e.openai.CloseSideband(id, 4000, "invalid_request_error.beta_api_shape_disabled") > 0
	})
	c = e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	if c.End.Reason != feed.ReasonGone || !strings.Contains(c.End.Detail, "4000") || !strings.Contains(c.End.Detail, "beta_api_shape_disabled") {
		t.Fatalf("end = %+v", c.End)
	}
}

// TestTranscriptionCountedOnce: a transcription seen again (a sideband
// attached again is sent one it already counted) is counted once, by its
// item id, as responses are by theirs.
func TestTranscriptionCountedOnce(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	e.track(id, "u")
	waitFor(t, "the sideband", func() bool { return e.openai.Attached(id) > 0 })
	frame := []byte(`{"type":"conversation.item.input_audio_transcription.completed","event_id":"event_t1","item_id":"item_T1","content_index":0,"transcript":"hello","usage":{"type":"duration","seconds":3}}`)
	other := []byte(`{"type":"conversation.item.input_audio_transcription.completed","event_id":"event_t2","item_id":"item_T2","content_index":0,"transcript":"again","usage":{"type":"duration","seconds":2}}`)
	for _, f := range [][]byte{frame, frame, other, frame} {
		e.openai.Inject(id, f, false)
	}
	c := e.waitCall(id, "both transcriptions", func(c feed.Call) bool { return c.Usage.TranscriptionSeconds >= 5 })
	if c.Usage.TranscriptionSeconds != 5 {
		t.Fatalf("transcription seconds %v, want 5 (3 + 2, each item once)", c.Usage.TranscriptionSeconds)
	}
}

func TestBadFramesAreCountedAndSkipped(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{MaxFrameBytes: 64 << 10})
	id := e.openai.NewCall(realtimetest.Script{Turns: 2, TurnGap: 50 * time.Millisecond})
	e.track(id, "u")
	e.waitCall(id, "session", func(c feed.Call) bool { return c.SessionID != "" })
	e.openai.Inject(id, []byte(`{"type":"response.done","response":{`), false)                  // malformed
	e.openai.Inject(id, []byte{0x00, 0x01, 0xff}, true)                                         // binary
	e.openai.Inject(id, []byte(`{"type":"x","pad":"`+strings.Repeat("a", 100<<10)+`"}`), false) // oversized
	e.openai.Inject(id, []byte(`{"type":"brand.new.event"}`), false)                            // unknown type
	e.openai.Inject(id, []byte(`not json at all`), false)                                       // malformed
	c := e.waitCall(id, "2 responses and the bad frames", func(c feed.Call) bool {
		return c.Usage.Responses == 2 && c.Usage.Skipped == 4 && c.Usage.Unknown == 1
	})
	want := e.openai.Emitted(id)
	c = e.waitCall(id, "settled", func(c feed.Call) bool { return c.Usage.Tokens.Total == want.Total })
	sameTokens(t, c.Usage, want)
	if !c.Live() {
		t.Fatalf("bad frames ended the call: %+v", c.End)
	}
}

func TestGoneAfterThreeAttaches(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const id = "rtc_u1_neverexisted"
	if err := e.agent.Track(ctx, id, agent.Meta{}); err == nil {
		t.Fatal("tracked a call OpenAI does not know")
	}
	if n := e.openai.Attaches(id); n != 3 {
		t.Fatalf("%d attaches for a call that is gone, want 3 (no retry storm)", n)
	}
}

func TestReattachThroughFailures(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	id := e.openai.NewCall(realtimetest.Script{Turns: 6, TurnGap: 20 * time.Millisecond, EndAfterTurns: true})
	e.track(id, "u")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	e.openai.FailAttaches(id, 503, 2)
	e.openai.DropSideband(id)
	// Events sent while no sideband was attached are lost (as with
	// OpenAI); what was sent is counted exactly once.
	c := e.waitCall(id, "the end of the call", func(c feed.Call) bool { return !c.Live() })
	if n := e.openai.Attaches(id); n != 5 {
		t.Fatalf("%d attaches, want 1 + 2 failed + 1 + the 404 that confirms the end", n)
	}
	if c.End.Reason != feed.ReasonHangup {
		t.Fatalf("end = %+v", c.End)
	}
	sameTokens(t, c.Usage, e.openai.Emitted(id))
}

func TestHangupRetriedAndIdempotent(t *testing.T) {
	t.Run("429 then 500 then 200", func(t *testing.T) {
		statuses := []int{429, 500, 200}
		var attempts atomic.Int64
		e := newEnv(t, realtimetest.Options{HangupRetryAfter: 10 * time.Millisecond, HangupStatus: func(_ string, attempt int) int {
			attempts.Add(1)
			return statuses[min(attempt, len(statuses))-1]
		}}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "u")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "op"}); err != nil {
			t.Fatalf("terminate through 429 and 500: %v", err)
		}
		if n := e.openai.Hangups(id); n != 3 {
			t.Fatalf("%d hangup requests, want 3", n)
		}
		if c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() }); c.End.Reason != feed.ReasonOperator {
			t.Fatalf("end = %+v", c.End)
		}
	})
	t.Run("404 means already gone", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{HangupStatus: func(string, int) int { return 404 }}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "u")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "op"}); err != nil {
			t.Fatalf("terminate answered 404: %v, want success", err)
		}
		// OpenAI ended the call before we asked: it ends "gone", and
		// says who asked.
		if c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() }); c.End.Reason != feed.ReasonGone || c.End.By != "op" {
			t.Fatalf("end = %+v", c.End)
		}
	})
	t.Run("a failing hangup says so and keeps the call", func(t *testing.T) {
		e := newEnv(t, realtimetest.Options{HangupStatus: func(string, int) int { return 400 }}, agent.Config{})
		id := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
		e.track(id, "u")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id}); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("terminate against a 400: %v", err)
		}
		if got := e.agent.Calls(); len(got) != 1 {
			t.Fatalf("the call was dropped after a failed hangup: %v", got)
		}
	})
}

// TestFloodDoesNotStarveOthers floods one call with events while another
// talks: each call has its own reader, and publishing never waits on NATS,
// so the quiet call's usage keeps arriving.
func TestFloodDoesNotStarveOthers(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	loud := e.openai.NewCall(realtimetest.Script{TurnGap: time.Hour})
	quiet := e.openai.NewCall(realtimetest.Script{Turns: 3, TurnGap: 20 * time.Millisecond})
	e.track(loud, "loud")
	e.track(quiet, "quiet")
	waitFor(t, "the loud sideband", func() bool { return e.openai.Attached(loud) > 0 })
	done := make(chan int, 1)
	go func() { done <- e.openai.Flood(loud, 50000) }()
	e.waitCall(quiet, "3 responses during the flood", func(c feed.Call) bool { return c.Usage.Responses == 3 })
	sent, during := 0, false
	select {
	case sent = <-done:
	default:
		during = true
		sent = <-done
	}
	t.Logf("the quiet call finished %s the flood", map[bool]string{true: "during", false: "after"}[during])
	if sent != 50000 {
		t.Fatalf("flooded %d events, want 50000", sent)
	}
	if c := e.waitCall(loud, "usage", func(c feed.Call) bool { return c.UsageSeq > 0 || c.Seq > 1 }); c.Usage.Skipped != 0 || !c.Live() {
		t.Fatalf("flooded call = %+v", c)
	}
}

// TestZombieAfterHangup: OpenAI answers our hangup as if the call were
// gone, yet responses keep coming: the call may still be billing.
func TestZombieAfterHangup(t *testing.T) {
	// The agent reads on for CloseGrace after its hangup: long enough to
	// see responses past zombieAfter (1 s).
	e := newEnv(t, realtimetest.Options{HangupStatus: func(string, int) int { return 404 }}, agent.Config{CloseGrace: 2 * time.Second})
	id := e.openai.NewCall(realtimetest.Script{TurnGap: 5 * time.Millisecond})
	e.track(id, "u")
	e.waitCall(id, "a response", func(c feed.Call) bool { return c.Usage.Responses >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Operator: "op"}); err != nil {
		t.Fatal(err)
	}
	c := e.waitCall(id, "ended", func(c feed.Call) bool { return !c.Live() })
	zombie := false
	for _, f := range c.Flags {
		zombie = zombie || f.Kind == feed.FlagZombie
	}
	if !zombie {
		t.Fatalf("no zombie flag; flags = %+v", c.Flags)
	}
}
