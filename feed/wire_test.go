package feed

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// roundTrip encodes e as an agent publishes it and decodes it as a
// dashboard reads it.
func roundTrip(t *testing.T, c *Client, e Event) Event {
	t.Helper()
	msg, err := c.Message(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Subjects.DecodeMsg(msg.Subject, msg.Data)
	if err != nil {
		t.Fatalf("decode %s %s: %v", msg.Subject, msg.Data, err)
	}
	return got
}

// TestCompactRoundTrip: every kind of event reads back as it was sent,
// to the millisecond and the micro-dollar.
func TestCompactRoundTrip(t *testing.T) {
	c, _ := NewClient(nil, "rt")
	at := time.Date(2026, 11, 29, 10, 1, 12, 500_000_000, time.UTC)
	credits := 1.75
	since := at.Add(-time.Minute)
	u := &Usage{
		Tokens: Tokens{Total: 4210, Input: 3120, Output: 1090, InputText: 1480, InputAudio: 1640, InputCached: 2048,
			CachedText: 1024, CachedAudio: 1024, OutputText: 260, OutputAudio: 830},
		Responses: 6, ByStatus: map[string]int{"completed": 5, "cancelled": 1}, ByReason: map[string]int{"turn_detected": 1},
		TranscriptionTokens: 310, TranscriptionUSD: 0.000123, UserSpeechSeconds: 21.3, AgentSpeechSeconds: 30.8,
		CostUSD: 0.121347, Errors: 1, Gaps: 1, GapSeconds: 2.5,
	}
	for _, e := range []Event{
		{Kind: KindStarted, CallID: "rtc_a", Term: 1, Seq: 1, At: at, Agent: "api-1",
			Start: &Start{User: "alice@example.com", Model: "gpt-realtime", StartedAt: at}, Policy: &EffectivePolicy{MaxSeconds: 600, CreditsUSD: &credits, WarnAt: 0.8}},
		{Kind: KindSession, CallID: "rtc_a", Term: 1, Seq: 2, At: at, Session: &Session{SessionID: "sess_a", Model: "gpt-realtime-2025-08-28", ExpiresAt: at.Add(time.Hour)}},
		{Kind: KindUsage, CallID: "rtc_a", Term: 2, Seq: 9, At: at, Usage: u},
		{Kind: KindSideband, CallID: "rtc_a", Term: 1, Seq: 10, At: at, Sideband: &Sideband{State: SidebandDetached, Since: since, Detail: "HTTP 503"}},
		{Kind: KindFlag, CallID: "rtc_a", Term: 1, Seq: 11, At: at, Flag: &Flag{Kind: FlagBurnRate, Message: "fast", Evidence: map[string]string{"usd_per_min": "1.92"}}},
		{Kind: KindWarning, CallID: "rtc_a", Term: 1, Seq: 12, At: at, Warning: &Warning{Limit: LimitSeconds, Used: 480, Max: 600}},
		{Kind: KindEnded, CallID: "rtc_a", Term: 1, Seq: 13, At: at, Agent: "api-1", Usage: &Usage{Responses: 1, ByStatus: map[string]int{"completed": 1}, Seconds: 123.456, CostUSD: 0.5},
			End: &End{Reason: ReasonOperator, Detail: "abuse", By: "maria@oncall", EndedAt: at}, Start: &Start{User: "alice@example.com", StartedAt: since},
			Flags: []Flag{{Kind: FlagGap}}},
		{Kind: KindStarted, CallID: "live_u1_b", Term: 1, Seq: 1, At: at, Agent: "api-1",
			Start: &Start{User: "bob", Model: "gpt-live-1", StartedAt: at, API: APILive}},
		{Kind: KindUsage, CallID: "live_u1_b", Term: 1, Seq: 2, At: at, Usage: &Usage{LiveSeconds: 61.25, StandbySeconds: 3.5,
			BackendTokens: Tokens{Total: 1500, Input: 1200, Output: 300, InputText: 1200, InputCached: 1024, CachedText: 1024, OutputText: 300},
			BackendUSD:    0.0021, CostUSD: 0.053, Unknown: 2}},
		{Kind: KindEnded, CallID: "live_u1_b", Term: 1, Seq: 3, At: at, Agent: "api-1", Usage: &Usage{LiveSeconds: 90, Seconds: 93.5, CostUSD: 0.075},
			End: &End{Reason: ReasonContent, Detail: "session.closed content", EndedAt: at}, Start: &Start{User: "bob", StartedAt: since, API: APILive}},
		{Kind: KindFlag, User: "mallory", At: at, Agent: "api-1", Flag: &Flag{Kind: FlagKeyUnclaimed}},
		{Kind: KindRefused, User: "carol", At: at, Agent: "api-1", Refusal: &Refusal{Mode: "relay", Status: 402, Reason: "credits"}},
		{Kind: KindHeartbeat, At: at, Agent: "web-1.eu", Heartbeat: &Heartbeat{Calls: 3, StartedAt: since, Instance: "abc", Detached: 1, CreditsUnavailableSince: &since, Outbox: 2}},
		{Kind: KindGoodbye, At: at, Agent: "web-1", Goodbye: &Goodbye{Instance: "abc", Calls: 3, Handoff: true}},
	} {
		want := e
		want.V = VersionCompact
		got := roundTrip(t, c, e)
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s round trip:\n got %s\nwant %s", e.Kind, gj, wj)
		}
	}
}

// TestCompactIsSmall: a usage event, most of what a call-minute costs,
// is a fraction of its schema 1 form.
func TestCompactIsSmall(t *testing.T) {
	c, _ := NewClient(nil, "")
	e := Event{Kind: KindUsage, CallID: "rtc_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn", Term: 1, Seq: 9, At: time.Now(), Agent: "api-7f9c-4121",
		Usage: &Usage{Tokens: Tokens{Total: 4210, Input: 3120, Output: 1090, InputText: 1480, InputAudio: 1640, InputCached: 2048,
			CachedText: 1024, CachedAudio: 1024, OutputText: 260, OutputAudio: 830}, Responses: 6,
			ByStatus: map[string]int{"completed": 6}, Seconds: 72.4, UserSpeechSeconds: 21.3, AgentSpeechSeconds: 30.8, CostUSD: 0.1213}}
	small, err := c.Message(e)
	if err != nil {
		t.Fatal(err)
	}
	full, err := c.RecordMessage(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Data) > 200 || len(small.Header) != 0 {
		t.Fatalf("compact usage is %d bytes (%s) with %d headers, want ≤ 200 and none", len(small.Data), small.Data, len(small.Header))
	}
	t.Logf("usage event: %d bytes compact, %d as schema 1 (+%d of Nats-Msg-Id)", len(small.Data), len(full.Data), len(full.Header.Get("Nats-Msg-Id")))
}

// TestSchema1StillReads: live events of agents of the previous version
// (schema 1) still decode and fold.
func TestSchema1StillReads(t *testing.T) {
	c, _ := NewClient(nil, "")
	old := started("rtc_old", 1, "bob")
	old.V = VersionVerbose
	data, _ := json.Marshal(old)
	e, err := c.Subjects.DecodeMsg(c.Subjects.Call("rtc_old", KindStarted), data)
	if err != nil || e.V != VersionVerbose || e.Start.User != "bob" {
		t.Fatalf("schema 1 event: %+v %v", e, err)
	}
	b := NewBoard(0)
	if !b.Apply(e) {
		t.Fatal("a schema 1 event did not fold")
	}
}

// TestCompactRefusesBadInput: a schema 2 payload on a subject that is no
// event's, or lacking what its kind needs, is an error, never a panic.
func TestCompactRefusesBadInput(t *testing.T) {
	s := Subjects{}
	for _, tc := range []struct{ subject, data string }{
		{"calltop.v1.call.rtc_a.usage", `{"v":2,"seq":1,"at":1}`},            // no usage
		{"calltop.v1.call.rtc.a.usage", `{"v":2,"seq":1,"at":1,"usage":{}}`}, // the ID is "rtc", the kind "a"
		{"calltop.v1.ctl.rtc_a.terminate", `{"v":2,"at":1}`},
		{"other.v1.call.rtc_a.usage", `{"v":2,"at":1,"usage":{}}`},
		{"calltop.v1.call.rtc_a.usage", `{"v":2,"at":"yesterday"}`},
		{"calltop.v1.user.abc.flag.x", `{"v":2,"at":1,"flag":{"kind":"x"}}`}, // no user
		{"calltop.v1.call.rtc_a", `{"v":2,"at":1}`},
	} {
		if e, err := s.DecodeMsg(tc.subject, []byte(tc.data)); err == nil {
			t.Errorf("%s %s decoded as %+v", tc.subject, tc.data, e)
		}
	}
}

func FuzzDecodeMsg(f *testing.F) {
	f.Add("calltop.v1.call.rtc_a.usage", []byte(`{"v":2,"seq":3,"at":1764660000000,"usage":{"tok":{"it":1},"resp":1,"cost":5}}`))
	f.Add("calltop.v1.user.0123456789abcdef.refused.credits", []byte(`{"v":2,"at":1,"user":"u","refusal":{"mode":"relay","status":402,"reason":"credits"}}`))
	f.Add("calltop.v1.agent.web-1.heartbeat", []byte(`{"v":1,"kind":"heartbeat","at":"2026-11-29T10:11:05Z","agent":"web-1","heartbeat":{"calls":1,"started_at":"2026-11-29T10:11:05Z"}}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		e, err := Subjects{}.DecodeMsg(subject, data)
		if err == nil {
			NewBoard(0).Apply(e) // whatever decodes must fold without a panic
		}
	})
}

// FuzzUsageFastPath: whatever usage message the fast path reads, it reads
// as the general path does (same event, or both an error), and it reads
// what the agent writes.
func FuzzUsageFastPath(f *testing.F) {
	subject := "calltop.v1.call.rtc_a.usage"
	for _, d := range []string{
		`{"v":2,"seq":3,"at":1764660000000,"usage":{"tok":{"it":1},"resp":1,"cost":5}}`,
		`{"v":2,"term":2,"seq":9,"at":1,"usage":{"tok":{"it":50,"ia":438,"ca":121,"oa":188,"total":7},"resp":3,"status":{"cancelled":1,"odd":2},"reason":{"turn_detected":1},"tr_tok":4,"tr_ms":5,"tr_cost":6,"ms":7,"user_ms":8,"agent_ms":9,"cost":27648,"cost_unknown":true,"errors":1,"skipped":2,"unknown":3,"gaps":1,"gap_ms":400}}`,
		`{"v":2,"seq":1,"at":1,"usage":{"resp":1,"resp":2}}`,
		`{"v":2,"seq":-1,"at":1,"usage":{}}`,
		`{"v":3,"seq":1,"at":1,"usage":{}}`,
		`{"v":2,"seq":1,"at":1,"usage":{"tok":{"it":01}}}`,
		`{"v":2,"seq":1,"at":1,"usage":{"status":{"a\u0062":1}}}`,
	} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data string) {
		s := Subjects{}
		fast, ok, ferr := s.decodeUsageMsg(subject, []byte(data))
		if !ok {
			return
		}
		slow, serr := s.decodeMsg(subject, []byte(data))
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("%s: fast path error %v, general path error %v", data, ferr, serr)
		}
		if ferr == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s:\nfast    %+v %+v\ngeneral %+v %+v", data, fast, *fast.Usage, slow, *slow.Usage)
		}
	})
}

// TestUsageFastPathTakesAgentOutput: the events the agent publishes take
// the fast path, so a change of the encoder cannot slip it silently.
func TestUsageFastPathTakesAgentOutput(t *testing.T) {
	c, err := NewClient(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1764660000123).UTC()
	for _, u := range []Usage{
		{Responses: 2, ByStatus: map[string]int{"completed": 1, "cancelled": 1}, ByReason: map[string]int{"turn_detected": 1},
			Tokens: Tokens{InputText: 5, InputAudio: 7, Input: 12, OutputAudio: 3, Output: 3, Total: 15}, CostUSD: 0.001234,
			UserSpeechSeconds: 1.5, AgentSpeechSeconds: 2.25, TranscriptionTokens: 9, TranscriptionSeconds: 1.2, TranscriptionUSD: 0.0001},
		{Errors: 1, Gaps: 1, GapSeconds: 3.5, CostUnknown: true},
	} {
		e := Event{V: Version, Kind: KindUsage, CallID: "rtc_a", Term: 2, Seq: 7, At: at, Usage: &u}
		m, err := c.Message(e)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok, err := c.Subjects.decodeUsageMsg(m.Subject, m.Data)
		if !ok || err != nil {
			t.Fatalf("%s: the fast path refused the agent's own usage event (ok %v, %v)", m.Data, ok, err)
		}
		slow, err := c.Subjects.decodeMsg(m.Subject, m.Data)
		if err != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s: fast %+v, general %+v (%v)", m.Data, fast, slow, err)
		}
	}
}

// TestDecodeMsgRefusesForeignSubjects: a message on a subject outside the
// prefix is not an event, whichever path reads it.
func TestDecodeMsgRefusesForeignSubjects(t *testing.T) {
	usage := []byte(`{"v":2,"seq":1,"at":1764660000000,"usage":{"resp":1}}`)
	session := []byte(`{"v":2,"seq":1,"at":1764660000000,"session":{"model":"m"}}`)
	for _, subject := range []string{".v1.call.rtc_a.usage", "other.v1.call.rtc_a.usage", "calltop.v2.call.rtc_a.usage"} {
		for _, data := range [][]byte{usage, session} {
			if _, err := (Subjects{}).DecodeMsg(subject, data); !errors.Is(err, ErrNotEvent) {
				t.Errorf("%s %s: %v, want ErrNotEvent", subject, data, err)
			}
		}
	}
	if _, err := (Subjects{}).DecodeMsg("calltop.v1.call.rtc_a.usage", usage); err != nil {
		t.Fatalf("the prefix's own subject: %v", err)
	}
}
