package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

func TestPeekType(t *testing.T) {
	big := bigSessionUpdated()
	if len(big) < 100<<10 {
		t.Fatalf("big session.updated is %d bytes, want > 100 KB", len(big))
	}
	for _, tc := range []struct{ in, want string }{
		{frameResponseDone, "response.done"},
		{frameTranscriptDelta, "response.output_audio_transcript.delta"},
		{big, "session.updated"},
		// "type" after nested objects that have their own "type".
		{`{"event_id":"e","response":{"type":"nested","x":[1,{"type":"deeper"}]},"type":"response.created"}`, "response.created"},
		{` { "a" : true , "b":null,"c":-1.5e3, "type" : "x.y" } `, "x.y"},
		{`{"s":"quote \" and \\ and } inside","type":"ok"}`, "ok"},
	} {
		got, err := peekType([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("peekType(%.60q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "null", "[]", `"type"`, `{`, `{"type"`, `{"type":`, `{"type":"x`, `{"a":1`, `{"a" 1}`, `{"a":1 "type":"x"}`, `{"a":{"b":1},"c"}`, `{}`, `{"type":7}`, "\x00\xff", `{"a":[[[[` + string(make([]byte, 100)) + `}`} {
		if got, err := peekType([]byte(bad)); err == nil {
			t.Errorf("peekType(%q) = %q, nil; want an error", bad, got)
		}
	}
}

func TestPeekTypeDeepNesting(t *testing.T) {
	deep := []byte(`{"a":`)
	for range 1000 {
		deep = append(deep, '[')
	}
	if _, err := peekType(deep); err == nil {
		t.Fatal("accepted 1000 levels of nesting")
	}
}

func TestAccountSumsResponsesOnce(t *testing.T) {
	a := newAccount(DefaultPrices())
	now := time.Now()
	for _, f := range []string{frameResponseDone, frameResponseDone, frameResponseCancelled, frameTranscriptDelta, frameRateLimits} {
		if _, err := a.apply([]byte(f), now); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	u := a.usage
	if u.ByReason["turn_detected"] != 1 || len(u.ByReason) != 1 {
		t.Fatalf("by reason = %v, want turn_detected once", u.ByReason)
	}
	if u.Responses != 2 || u.ByStatus["completed"] != 1 || u.ByStatus["cancelled"] != 1 {
		t.Fatalf("responses = %d %v, want 2 (the duplicate counted once)", u.Responses, u.ByStatus)
	}
	tk := u.Tokens
	if tk.Total != 420 || tk.Input != 222 || tk.Output != 198 || tk.InputText != 99 || tk.InputAudio != 123 ||
		tk.InputCached != 64 || tk.CachedAudio != 64 || tk.CachedText != 0 || tk.OutputText != 45 || tk.OutputAudio != 153 {
		t.Fatalf("tokens = %+v", tk)
	}
}

func TestAccountSecondsAndTranscription(t *testing.T) {
	a := newAccount(DefaultPrices())
	t0 := time.Now()
	steps := []struct {
		frame string
		at    time.Duration
	}{
		{frameSpeechStarted, 0},
		{frameSpeechStopped, 0},
		{`{"type":"output_audio_buffer.started","event_id":"event_fd8cb17ab18a4a3f","response_id":"resp_1"}`, time.Second},
		{`{"type":"output_audio_buffer.stopped","event_id":"event_fd8cb17ab18a4a40","response_id":"resp_1"}`, 5 * time.Second},
		{frameTranscriptionTokens, 0},
		{frameTranscriptionDuration, 0},
	}
	for _, s := range steps {
		if _, err := a.apply([]byte(s.frame), t0.Add(s.at)); err != nil {
			t.Fatal(err)
		}
	}
	u := a.usage
	if u.UserSpeechSeconds != 2.5 || u.AgentSpeechSeconds != 4 || u.TranscriptionTokens != 24 || u.TranscriptionSeconds != 3 {
		t.Fatalf("usage = %+v", u)
	}
}

func TestAccountSessionErrorsAndGarbage(t *testing.T) {
	a := newAccount(DefaultPrices())
	now := time.Now()
	ch, err := a.apply([]byte(bigSessionUpdated()), now)
	if err != nil || ch&changedSession == 0 {
		t.Fatalf("session.updated: %v %v", ch, err)
	}
	if a.session.SessionID != "sess_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn" || a.session.Model != "gpt-realtime-2025-08-28" || a.session.ExpiresAt.Unix() != 1785217650 {
		t.Fatalf("session = %+v", a.session)
	}
	// The same session again (every attach asks for it) is not news.
	if ch, err := a.apply([]byte(bigSessionUpdated()), now); err != nil || ch&changedSession != 0 {
		t.Fatalf("unchanged session.updated: %v %v, want nothing to publish", ch, err)
	}
	if ch, _ := a.apply([]byte(frameError), now); ch&sawExpired != 0 || a.usage.Errors != 1 {
		t.Fatalf("non-fatal error: %v errors=%d", ch, a.usage.Errors)
	}
	if ch, _ := a.apply([]byte(frameExpired), now); ch&sawExpired == 0 {
		t.Fatal("session_expired not seen")
	}
	for _, junk := range []string{"not json", `{"type":"response.done","response":{"usage":"oops"}}`, `{"type":"response.done","response":{"id":5}}`, `{"type":"session.updated","session":[]}`} {
		if _, err := a.apply([]byte(junk), now); err == nil {
			t.Errorf("apply(%q) = nil error", junk)
		}
	}
	if ch, err := a.apply([]byte(`{"type":"brand.new.event","x":1}`), now); err != nil || ch != changedCounters || a.usage.Unknown != 1 {
		t.Fatalf("unknown type: %v %v, unknown = %d", ch, err, a.usage.Unknown)
	}
	if ch, err := a.apply([]byte(frameTranscriptDelta), now); err != nil || ch != 0 || a.usage.Unknown != 1 {
		t.Fatalf("a known, ignored type changed the account: %v %v", ch, err)
	}
	if a.usage.Skipped != 4 || a.usage.Responses != 0 {
		t.Fatalf("skipped = %d responses = %d", a.usage.Skipped, a.usage.Responses)
	}
}

func TestCost(t *testing.T) {
	a := newAccount(DefaultPrices())
	if _, err := a.apply([]byte(frameResponseDone), time.Now()); err != nil {
		t.Fatal(err)
	}
	u := a.snapshot(time.Now(), time.Now(), "gpt-realtime-2025-08-28")
	// uncached text 59×4 + uncached audio 9×32 + cached audio 64×0.40 + text out 41×16 + audio out 147×64, per 1M.
	// The snapshot is in whole micro-dollars, as the wire and the ledger.
	want := feed.RoundUSD((59*4.0 + 9*32.0 + 64*0.40 + 41*16.0 + 147*64.0) / 1e6)
	if u.CostUnknown || diff(u.CostUSD, want) > 1e-12 {
		t.Fatalf("cost = %v (unknown %v), want %v", u.CostUSD, u.CostUnknown, want)
	}
	u = a.snapshot(time.Now(), time.Now(), "some-future-model")
	if !u.CostUnknown || u.CostUSD != 0 || u.Tokens.Total != 320 {
		t.Fatalf("unknown model: %+v", u)
	}
}

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

// FuzzDecode feeds arbitrary frames to the decoder and accountant: they
// must never panic, and a frame peekType accepts must be one whose type
// encoding/json agrees with when it is valid JSON, without escapes and
// with plain, unique keys (see plainKeys: encoding/json takes the last of
// repeated keys and matches "TYPE" too; peekType takes the first "type").
func FuzzDecode(f *testing.F) {
	for _, s := range []string{frameResponseDone, frameResponseCancelled, frameTranscriptDelta, frameRateLimits, frameTranscriptionTokens,
		frameTranscriptionDuration, frameSpeechStarted, frameSpeechStopped, frameError, frameExpired, bigSessionUpdated()[:4096], `{"type":"x"}`, `{}`, "not json"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		typ, err := peekType(frame)
		var probe struct {
			Type *string `json:"type"`
		}
		if err == nil && json.Valid(frame) && plainKeys(frame) {
			if jerr := json.Unmarshal(frame, &probe); jerr == nil && probe.Type != nil && *probe.Type != string(typ) && !hasEscape(frame) {
				t.Fatalf("peekType = %q, encoding/json says %q", typ, *probe.Type)
			}
		}
		a := newAccount(DefaultPrices())
		_, _ = a.apply(frame, time.Now())
	})
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func TestTranscriptionPricedByItsModel(t *testing.T) {
	a := newAccount(DefaultPrices())
	now := time.Now()
	session := `{"type":"session.updated","session":{"id":"sess_1","model":"gpt-realtime","expires_at":1785217650,"audio":{"input":{"transcription":{"model":"gpt-4o-mini-transcribe"}}}}}`
	for _, f := range []string{session, frameTranscriptionTokens} {
		if _, err := a.apply([]byte(f), now); err != nil {
			t.Fatal(err)
		}
	}
	u := a.snapshot(now, now, "gpt-realtime")
	want := (16*3.0 + 8*5.0) / 1e6 // audio in at $3, text out at $5 per 1M
	if diff(u.TranscriptionUSD, want) > 1e-15 || diff(u.CostUSD, want) > 1e-15 || u.CostUnknown {
		t.Fatalf("transcription $%v, cost $%v (unknown %v), want $%v", u.TranscriptionUSD, u.CostUSD, u.CostUnknown, want)
	}
	// Whisper bills by the minute.
	a = newAccount(DefaultPrices())
	whisper := `{"type":"session.updated","session":{"id":"sess_2","model":"gpt-realtime","audio":{"input":{"transcription":{"model":"gpt-realtime-whisper"}}}}}`
	for _, f := range []string{whisper, frameTranscriptionDuration} {
		if _, err := a.apply([]byte(f), now); err != nil {
			t.Fatal(err)
		}
	}
	if u := a.snapshot(now, now, "gpt-realtime"); diff(u.CostUSD, 3.0/60*0.017) > 1e-15 {
		t.Fatalf("whisper cost = %v", u.CostUSD)
	}
	// A transcription model without a price makes the cost unknown, not low.
	a = newAccount(DefaultPrices())
	odd := `{"type":"session.updated","session":{"id":"sess_3","model":"gpt-realtime","audio":{"input":{"transcription":{"model":"someone-elses-asr"}}}}}`
	for _, f := range []string{odd, frameTranscriptionTokens} {
		if _, err := a.apply([]byte(f), now); err != nil {
			t.Fatal(err)
		}
	}
	if u := a.snapshot(now, now, "gpt-realtime"); !u.CostUnknown {
		t.Fatal("unpriced transcription model left the cost known")
	}
}
