package realtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/live"
)

// TestLiveCreate: POST /v1/live/sessions answers 201 JSON (no Location)
// with the session id and the SDP answer, for the standard key or an
// ephemeral one; its model must be a GPT-Live model.
func TestLiveCreate(t *testing.T) {
	s := newTestServer(t, Options{LiveUsageEvery: 5 * time.Millisecond})
	offer, _ := json.Marshal(testOffer)
	body := func(session string) string {
		return `{"session":` + session + `,"transport":{"type":"webrtc","sdp":` + string(offer) + `}}`
	}
	good := `{"model":"gpt-live-1","instructions":"You are Nova.","audio":{"output":{"voice":"cedar"}}}`

	ek := mintSecret(t, s, `{"type":"realtime","model":"gpt-realtime"}`)
	for name, key := range map[string]string{"standard": s.APIKey(), "ephemeral": ek} {
		resp, b := postJSON(t, s, "/live/sessions", key, body(good))
		if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Location") != "" {
			t.Fatalf("%s: %d %v %s", name, resp.StatusCode, resp.Header, b)
		}
		var created struct {
			Session struct {
				ID, Object, Model string
			} `json:"session"`
			Transport struct {
				Type, SDP string
			} `json:"transport"`
		}
		if err := json.Unmarshal(b, &created); err != nil {
			t.Fatal(err)
		}
		id := created.Session.ID
		if !liveIDRe.MatchString(id) || created.Session.Object != "live.session" || created.Session.Model != "gpt-live-1" ||
			created.Transport.Type != "webrtc" || !strings.HasPrefix(created.Transport.SDP, "v=0") {
			t.Errorf("%s: created %s", name, b)
		}
		if !slices.Contains(s.Live(), id) {
			t.Errorf("%s: not live", name)
		}
		info, _ := s.LiveSession(id)
		if info.Transport != "webrtc" || info.MinimumBilledSeconds != 15 || string(info.Session) != good {
			t.Errorf("%s: info %+v", name, info)
		}
		c, started := liveAttach(t, s, id, "")
		sess := liveSessionOf(t, started)
		if sess.Instructions == nil || *sess.Instructions != "You are Nova." || string(sess.Audio.Output.Voice) != `"cedar"` {
			t.Errorf("%s: session.started %s", name, started.raw)
		}
		readUntil(t, c, "session.usage.updated") // paced by LiveUsageEvery
	}

	for _, tc := range []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"no key", "", body(good), 401, "invalid_api_key"},
		{"wrong key", "sk-wrong-0123456789", body(good), 401, "invalid_api_key"},
		{"unknown ephemeral key", "ek_00000000000000000000000000000000", body(good), 401, "invalid_api_key"},
		{"not JSON", s.APIKey(), `{"session":`, 400, ""},
		{"no session", s.APIKey(), `{"transport":{"type":"webrtc","sdp":"v=0"}}`, 400, "missing_required_parameter"},
		{"no model", s.APIKey(), body(`{"instructions":"hi"}`), 400, "missing_required_parameter"},
		{"realtime model", s.APIKey(), body(`{"model":"gpt-realtime"}`), 400, "invalid_model"},
		{"wrong type", s.APIKey(), body(`{"type":"realtime","model":"gpt-live-1"}`), 400, "invalid_value"},
		{"bad delegation", s.APIKey(), body(`{"model":"gpt-live-1","delegation":{"type":"robots"}}`), 400, "invalid_value"},
		{"no transport", s.APIKey(), `{"session":` + good + `}`, 400, "missing_required_parameter"},
		{"no sdp", s.APIKey(), `{"session":` + good + `,"transport":{"type":"webrtc"}}`, 400, "missing_required_parameter"},
		{"empty sdp", s.APIKey(), `{"session":` + good + `,"transport":{"type":"webrtc","sdp":"  "}}`, 400, "missing_required_parameter"},
		{"not an offer", s.APIKey(), `{"session":` + good + `,"transport":{"type":"webrtc","sdp":"hello"}}`, 400, "invalid_offer"},
		{"websocket transport", s.APIKey(), `{"session":` + good + `,"transport":{"type":"websocket","sdp":"v=0"}}`, 400, "invalid_value"},
	} {
		resp, b := postJSON(t, s, "/live/sessions", tc.key, tc.body)
		e := apiErrorOf(t, b)
		if resp.StatusCode != tc.status || (tc.code != "" && e.Code != tc.code) || e.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	if n := len(s.Live()); n != 2 {
		t.Errorf("failed creates made sessions: %d live", n)
	}
	if secs := s.Secrets(); len(secs) != 1 || len(secs[0].Calls) != 1 || !liveIDRe.MatchString(secs[0].Calls[0]) {
		t.Errorf("the ephemeral key's sessions: %+v", secs)
	}
	// And the other way round: a Live model on the Realtime create.
	if resp, b := do(t, s, "POST", "/realtime/calls?model=gpt-live-1", s.APIKey(), "application/sdp", strings.NewReader(testOffer)); resp.StatusCode != 400 || apiErrorOf(t, b).Code != "invalid_model" {
		t.Errorf("gpt-live-1 on /v1/realtime/calls: %d %s", resp.StatusCode, b)
	}
}

// TestLiveAttachErrors: the handshake's failures come before the upgrade,
// as OpenAI error bodies; the two surfaces do not know each other's ids.
func TestLiveAttachErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{})
	for name, hdr := range map[string]http.Header{
		"missing": nil,
		"wrong":   authHeader("sk-wrong-key-123456"),
		"basic":   {"Authorization": {"Basic " + s.APIKey()}},
	} {
		_, resp, err := liveDial(s, id, "", hdr)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: want 401, got %v %v", name, resp, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if e := apiErrorOf(t, b); e.Code != "invalid_api_key" {
			t.Errorf("%s: %s", name, b)
		}
	}
	ek := mintSecret(t, s, `{"type":"realtime"}`)
	rtc := s.NewCall(Script{})
	for name, tc := range map[string]struct{ id, key string }{
		"unknown":       {"live_u1_doesnotexist", s.APIKey()},
		"ephemeral key": {id, ek},
		"realtime call": {rtc, s.APIKey()},
	} {
		_, resp, err := liveDial(s, tc.id, "", authHeader(tc.key))
		if err == nil || resp == nil || resp.StatusCode != 404 {
			t.Fatalf("%s: want 404, got %v %v", name, resp, err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != sessionNotFoundBody || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %s", name, b)
		}
	}
	// A Live id is unknown to the Realtime sideband and hangup.
	if _, resp, err := dial(s, id, authHeader(s.APIKey())); err == nil || resp.StatusCode != 404 {
		t.Errorf("Realtime sideband on a Live session: %v %v", resp, err)
	}
	if r, b := do(t, s, "POST", "/realtime/calls/"+id+"/hangup", s.APIKey(), "", nil); r.StatusCode != 404 || apiErrorOf(t, b).Code != "call_id_not_found" {
		t.Errorf("Realtime hangup of a Live session: %d %s", r.StatusCode, b)
	}
	if r, b := liveHangup(t, s, rtc); r.StatusCode != 404 || string(b) != sessionNotFoundBody {
		t.Errorf("Live hangup of a Realtime call: %d %s", r.StatusCode, b)
	}
	if !slices.Contains(s.Live(), id) || !slices.Contains(s.Live(), rtc) {
		t.Errorf("a wrong-surface request ended something: %v", s.Live())
	}
	if n := s.Attaches(id); n != 5 { // three 401s, the ephemeral key, the Realtime sideband
		t.Errorf("Attaches %d", n)
	}
}

// TestLiveWithOpenAIGo drives the stand-in with openai-go's Live client:
// Live.New (WebRTC create with Responses delegation), Sideband.Connect
// with typed events, a session.update of the backend model, and
// Sessions.Hangup ending it with session.closed.
func TestLiveWithOpenAIGo(t *testing.T) {
	s := newTestServer(t, Options{LiveUsageEvery: 2 * time.Millisecond})
	client := openaiClient(s, NewWebhookSecret())
	ctx := context.Background()
	created, err := client.Live.New(ctx, live.LiveNewParams{
		Session: live.MediaSessionConfigParam{
			Model:        live.MediaSessionConfigModelGPTLive1,
			Instructions: openai.String("You are Nova."),
			Delegation: live.MediaSessionConfigDelegationUnionParam{OfResponses: &live.MediaSessionConfigDelegationResponsesParam{
				Responses: live.ResponsesDelegationConfigParam{Model: "gpt-5.2-mini"},
			}},
		},
		Transport: live.LiveNewParamsTransport{Sdp: testOffer},
	})
	if err != nil {
		t.Fatalf("Live.New: %v", err)
	}
	id := created.Session.ID
	if !liveIDRe.MatchString(id) || !strings.HasPrefix(created.Transport.Sdp, "v=0") {
		t.Fatalf("created %s", created.RawJSON())
	}
	conn, err := client.Live.Sideband.Connect(ctx, id, live.SidebandConnectionOptions{})
	if err != nil {
		t.Fatalf("Sideband.Connect: %v", err)
	}
	defer conn.Abort()
	recv := func() live.ConnectServerEventUnion {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ev, err := conn.Recv(rctx)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if e, ok := ev.AsAny().(live.ErrorEvent); ok {
			t.Fatalf("error event %s", e.RawJSON())
		}
		return ev
	}
	first, ok := recv().AsAny().(live.SessionStartedEvent)
	if !ok || first.Session.ID != id || first.Session.Model != "gpt-live-1" || first.Session.Instructions != "You are Nova." {
		t.Fatalf("first event %+v", first)
	}
	// Backend completions name the delegation's model; an update changes it.
	backendModel := func() string {
		for {
			if ev, ok := recv().AsAny().(live.ResponseEvent); ok && ev.Event["type"] == "response.completed" {
				resp, _ := ev.Event["response"].(map[string]any)
				m, _ := resp["model"].(string)
				return m
			}
		}
	}
	if m := backendModel(); m != "gpt-5.2-mini" {
		t.Errorf("backend model %q", m)
	}
	if err := conn.SendRaw(ctx, json.RawMessage(`{"type":"session.update","session":{"delegation":{"responses":{"model":"gpt-5.2"}}}}`)); err != nil {
		t.Fatal(err)
	}
	for {
		if upd, ok := recv().AsAny().(live.SessionUpdatedEvent); ok {
			if !strings.Contains(upd.Session.JSON.Delegation.Raw(), `"gpt-5.2"`) {
				t.Errorf("session.updated %s", upd.RawJSON())
			}
			break
		}
	}
	if m := backendModel(); m != "gpt-5.2" {
		t.Errorf("backend model after the update %q", m)
	}
	var last float64
	for last == 0 {
		if u, ok := recv().AsAny().(live.SessionUsageUpdatedEvent); ok {
			last = u.Usage.Seconds
		}
	}
	if err := client.Live.Sessions.Hangup(ctx, id); err != nil {
		t.Fatalf("Sessions.Hangup: %v", err)
	}
	for {
		if closed, ok := recv().AsAny().(live.SessionClosedEvent); ok {
			if closed.Reason != "close_requested" || closed.Usage.Seconds < last || closed.Session.ID != id {
				t.Errorf("session.closed %s", closed.RawJSON())
			}
			break
		}
	}
	err = client.Live.Sessions.Hangup(ctx, id)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "session_id_not_found" {
		t.Errorf("second Hangup: %v", err)
	}
	if in, out := s.LiveBackendUsage(id); in == 0 || out == 0 {
		t.Errorf("backend usage %d/%d", in, out)
	}
}
