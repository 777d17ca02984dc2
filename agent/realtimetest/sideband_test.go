package realtimetest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestSidebandRequiresKey(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{})
	for name, hdr := range map[string]http.Header{
		"missing": nil,
		"wrong":   authHeader("sk-wrong-key-123456"),
		"basic":   {"Authorization": {"Basic " + s.APIKey()}},
	} {
		_, resp, err := dial(s, id, hdr)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: want 401, got %v %v", name, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		e := apiErrorOf(t, body)
		if e.Code != "invalid_api_key" || e.Type != "invalid_request_error" || e.Param != nil {
			t.Errorf("%s: error body %s", name, body)
		}
		if name == "wrong" && (!strings.HasPrefix(e.Message, "Incorrect API key provided: sk-") || strings.Contains(e.Message, "wrong-key")) {
			t.Errorf("wrong key message not masked: %q", e.Message)
		}
	}
}

func TestSidebandUnknownCall404(t *testing.T) {
	s := newTestServer(t, Options{})
	_, resp, err := dial(s, "rtc_u1_doesnotexist", authHeader(s.APIKey()))
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("want 404, got %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	const want = `{"error":{"message":"No session found for the provided call_id","type":"invalid_request_error","code":"call_id_not_found","param":""}}`
	if string(body) != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
}

func TestSidebandNoSessionCreated(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{Turns: 1, TurnGap: time.Millisecond})
	c, _, err := dial(s, id, authHeader(s.APIKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ev, err := readEvent(c, 150*time.Millisecond); err == nil {
		t.Fatalf("server spoke first: %s", ev.raw)
	}
	// The timed-out read closed that connection (coder/websocket closes on
	// a cancelled read); attach again and configure.
	c2 := attach(t, s, id)
	send(t, c2, `{"type":"session.update","session":{"type":"realtime"}}`)
	ev, err := readEvent(c2, 5*time.Second)
	if err != nil || ev.Type != "session.updated" {
		t.Fatalf("first event after update: %s %v", ev.raw, err)
	}
}

func TestSessionUpdateRequiresType(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{Turns: 1, TurnGap: time.Millisecond})
	c := attach(t, s, id)
	send(t, c, `{"type":"session.update","event_id":"evt_1","session":{"instructions":"hi"}}`)
	ev := readUntil(t, c, "error")
	var e struct {
		Error eventError `json:"error"`
	}
	if err := json.Unmarshal(ev.raw, &e); err != nil {
		t.Fatal(err)
	}
	if e.Error.Code != "missing_required_parameter" || e.Error.Message != "Missing required parameter: 'session.type'." ||
		e.Error.Type != "invalid_request_error" || e.Error.EventID != "evt_1" {
		t.Fatalf("error event %s", ev.raw)
	}
	// Still usable: a good update works and starts the script.
	configure(t, c)
	readUntil(t, c, "response.done")
}

func TestSessionUpdatedIsFull(t *testing.T) {
	s := newTestServer(t, Options{MaxDuration: 90 * time.Second})
	before := time.Now()
	id := s.NewCall(Script{Model: "gpt-realtime-2", Transcription: "tokens"})
	after := time.Now()
	c := attach(t, s, id)
	ev := configure(t, c)
	if !strings.HasPrefix(ev.ID, "event_") {
		t.Errorf("event_id %q", ev.ID)
	}
	var sess map[string]json.RawMessage
	if err := ev.field("session", &sess); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "object", "id", "model", "output_modalities", "instructions", "tools", "tool_choice",
		"max_output_tokens", "tracing", "truncation", "prompt", "expires_at", "audio", "include"} {
		if _, ok := sess[k]; !ok {
			t.Errorf("session.%s missing", k)
		}
	}
	var obj struct {
		Type            string `json:"type"`
		Object          string `json:"object"`
		ID              string `json:"id"`
		Model           string `json:"model"`
		Instructions    string `json:"instructions"`
		MaxOutputTokens any    `json:"max_output_tokens"`
		ExpiresAt       int64  `json:"expires_at"`
		Audio           struct {
			Input struct {
				Format struct {
					Type string `json:"type"`
					Rate int    `json:"rate"`
				} `json:"format"`
				Transcription *struct {
					Model string `json:"model"`
				} `json:"transcription"`
				TurnDetection struct {
					Type              string `json:"type"`
					SilenceDurationMs int    `json:"silence_duration_ms"`
				} `json:"turn_detection"`
			} `json:"input"`
			Output struct {
				Voice string  `json:"voice"`
				Speed float64 `json:"speed"`
			} `json:"output"`
		} `json:"audio"`
	}
	if err := ev.field("session", &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Type != "realtime" || obj.Object != "realtime.session" || obj.Model != "gpt-realtime-2" || obj.MaxOutputTokens != "inf" {
		t.Errorf("session %+v", obj)
	}
	if obj.ID != "sess_"+strings.TrimPrefix(id, "rtc_") {
		t.Errorf("session id %q for call %q", obj.ID, id)
	}
	if lo, hi := before.Add(90*time.Second).Unix(), after.Add(90*time.Second).Unix(); obj.ExpiresAt < lo || obj.ExpiresAt > hi {
		t.Errorf("expires_at %d, want in [%d,%d]", obj.ExpiresAt, lo, hi)
	}
	if len(obj.Instructions) < 1000 {
		t.Errorf("instructions too short: %d", len(obj.Instructions))
	}
	if obj.Audio.Input.Format.Type != "audio/pcm" || obj.Audio.Input.Format.Rate != 24000 ||
		obj.Audio.Input.TurnDetection.Type != "server_vad" || obj.Audio.Output.Voice == "" || obj.Audio.Output.Speed != 1 {
		t.Errorf("audio %+v", obj.Audio)
	}
	if obj.Audio.Input.Transcription == nil || obj.Audio.Input.Transcription.Model != "gpt-4o-mini-transcribe" {
		t.Errorf("transcription %+v", obj.Audio.Input.Transcription)
	}

	// Updates are applied and echoed.
	send(t, c, `{"type":"session.update","session":{"type":"realtime","instructions":"Be brief.","audio":{"output":{"voice":"cedar"}}}}`)
	ev = readUntil(t, c, "session.updated")
	if err := ev.field("session", &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Instructions != "Be brief." || obj.Audio.Output.Voice != "cedar" {
		t.Errorf("update not applied: %q %q", obj.Instructions, obj.Audio.Output.Voice)
	}
}

func TestBetaHeaderRejected(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{})
	hdr := authHeader(s.APIKey())
	hdr.Set("OpenAI-Beta", "realtime=v1")
	c, _, err := dial(s, id, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ev, err := readEvent(c, 5*time.Second)
	if err != nil || ev.Type != "error" || ev.errorCode() != "beta_api_shape_disabled" {
		t.Fatalf("want beta error, got %s %v", ev.raw, err)
	}
	_, err = readEvent(c, 5*time.Second)
	var ce websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != 4000 || ce.Reason != "invalid_request_error.beta_api_shape_disabled" {
		t.Fatalf("want close 4000, got %v", err)
	}
	if len(s.Live()) != 1 {
		t.Errorf("call should stay live")
	}
}

func TestBadClientFramesAreNonFatal(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{Turns: 1, TurnGap: time.Millisecond})
	c := attach(t, s, id)
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if ev := readUntil(t, c, "error"); ev.errorCode() != "invalid_event" {
		t.Errorf("binary: %s", ev.raw)
	}
	for _, tc := range []struct{ in, code string }{
		{`not json`, "invalid_json"},
		{`{"type":"nope.nope","event_id":"evt_9"}`, "invalid_value"},
		{`{"event_id":"evt_10"}`, "invalid_event"},
		{`[1,2]`, "invalid_event"},
		{`{"type":42}`, "invalid_type"},
		{`{"type":"session.update","session":"x"}`, "invalid_type"},
		{`{"type":"session.update","session":{"type":"transcription"}}`, "invalid_value"},
		{`{"type":"session.update"}`, "missing_required_parameter"},
	} {
		send(t, c, tc.in)
		if ev := readUntil(t, c, "error"); ev.errorCode() != tc.code {
			t.Errorf("%s: got %s", tc.in, ev.raw)
		}
	}
	// Valid but unsimulated events are accepted silently.
	send(t, c, `{"type":"response.cancel"}`)
	configure(t, c)
	readUntil(t, c, "response.done")
}

func TestServerPings(t *testing.T) {
	s := newTestServer(t, Options{PingInterval: 20 * time.Millisecond})
	id := s.NewCall(Script{})
	var pings atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(s, id), &websocket.DialOptions{
		HTTPHeader:     authHeader(s.APIKey()),
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.CloseRead(ctx) // answers pings; no data is expected before session.update
	deadline := time.Now().Add(3 * time.Second)
	for pings.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := pings.Load(); n < 3 {
		t.Fatalf("got %d pings", n)
	}
}

func TestMultipleSidebandsFanOut(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{Turns: 2, TurnGap: time.Millisecond, EndAfterTurns: true})
	a := attach(t, s, id)
	b := attach(t, s, id)
	send(t, a, `{"type":"session.update","session":{"type":"realtime"}}`)
	done := func(c *websocket.Conn) []string {
		evs, err := readAll(t, c)
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("close: %v", err)
		}
		var ids []string
		for _, ev := range evs {
			if ev.Type == "response.done" {
				var r struct{ ID string }
				_ = ev.field("response", &r)
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	ch := make(chan []string)
	go func() { ch <- done(b) }()
	ia := done(a)
	ib := <-ch
	if len(ia) != 2 || strings.Join(ia, ",") != strings.Join(ib, ",") {
		t.Fatalf("fan-out mismatch: %v vs %v", ia, ib)
	}
	if got := s.Emitted(id).Responses; got != 2 {
		t.Fatalf("Emitted.Responses = %d, want 2 (counted once per response)", got)
	}
}

func TestEphemeralKeyOnSideband404(t *testing.T) {
	s := newTestServer(t, Options{})
	resp, body := postJSON(t, s, "/realtime/client_secrets", s.APIKey(), `{"session":{"type":"realtime"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("mint: %d %s", resp.StatusCode, body)
	}
	var sec struct{ Value string }
	_ = json.Unmarshal(body, &sec)
	id := s.NewCall(Script{})
	_, r, err := dial(s, id, authHeader(sec.Value))
	if err == nil || r == nil || r.StatusCode != 404 {
		t.Fatalf("want 404 with ephemeral key, got %v %v", r, err)
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool {
	if websocket.CloseStatus(err) == -1 {
		return false
	}
	return errorsAs(err, ce)
}
