package realtimetest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/realtime"
)

func TestAcceptAndReject(t *testing.T) {
	s := newTestServer(t, Options{TurnGap: time.Millisecond})
	accept := func(id, key, body string) (*http.Response, []byte) {
		t.Helper()
		return postJSON(t, s, "/realtime/calls/"+id+"/accept", key, body)
	}
	reject := func(id, body string) (*http.Response, []byte) {
		t.Helper()
		return postJSON(t, s, "/realtime/calls/"+id+"/reject", s.APIKey(), body)
	}
	good := `{"type":"realtime","model":"gpt-realtime-2","instructions":"Hi.","audio":{"output":{"voice":"marin"}}}`

	id := s.IncomingSIPCall("+14155550123", "+18005551212")
	// Pending: not live, no sideband, no hangup.
	if len(s.Live()) != 0 {
		t.Errorf("pending call is live: %v", s.Live())
	}
	if _, r, err := dial(s, id, authHeader(s.APIKey())); err == nil || r.StatusCode != 404 {
		t.Errorf("sideband on a pending call should 404")
	}
	if r, _ := do(t, s, "POST", "/realtime/calls/"+id+"/hangup", s.APIKey(), "", nil); r.StatusCode != 404 {
		t.Errorf("hangup of a pending call: %d", r.StatusCode)
	}
	// Errors leave it pending.
	if r, b := accept(id, "", good); r.StatusCode != 401 || apiErrorOf(t, b).Code != "invalid_api_key" {
		t.Errorf("accept without key: %d %s", r.StatusCode, b)
	}
	if r, b := accept(id, s.APIKey(), `{"type":`); r.StatusCode != 400 {
		t.Errorf("accept with broken JSON: %d %s", r.StatusCode, b)
	}
	if r, b := reject(id, `{"status_code":200}`); r.StatusCode != 400 || apiErrorOf(t, b).Code != "invalid_value" {
		t.Errorf("reject 200: %d %s", r.StatusCode, b)
	}
	if r, _ := reject(id, `{"status_code":"busy"}`); r.StatusCode != 400 {
		t.Errorf("reject with a string status: %d", r.StatusCode)
	}
	for _, other := range []string{"rtc_00000000000000000000000000000000", s.NewCall(Script{})} {
		if r, b := accept(other, s.APIKey(), good); r.StatusCode != 404 || apiErrorOf(t, b).Code != "call_id_not_found" {
			t.Errorf("accept of %s: %d %s", other, r.StatusCode, b)
		}
		if r, _ := reject(other, ""); r.StatusCode != 404 {
			t.Errorf("reject of %s: %d", other, r.StatusCode)
		}
	}
	if info, _ := s.SIPCall(id); info.State != SIPPending || info.Ended {
		t.Fatalf("after errors: %+v", info)
	}

	// Accept: 200 empty, live, talks on the model, session recorded.
	r, b := accept(id, s.APIKey(), good)
	if r.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("accept: %d %q", r.StatusCode, b)
	}
	if r, _ := accept(id, s.APIKey(), good); r.StatusCode != 404 {
		t.Errorf("second accept: %d", r.StatusCode)
	}
	if r, _ := reject(id, ""); r.StatusCode != 404 {
		t.Errorf("reject after accept: %d", r.StatusCode)
	}
	if string(s.CallSession(id)) != good {
		t.Errorf("CallSession %s", s.CallSession(id))
	}
	if acc, rej, model := s.SIPOutcome(id); !acc || rej != 0 || model != "gpt-realtime-2" {
		t.Errorf("SIPOutcome %v %d %q", acc, rej, model)
	}
	c := attach(t, s, id)
	ev := configure(t, c)
	if !strings.Contains(string(ev.raw), `"model":"gpt-realtime-2"`) || !strings.Contains(string(ev.raw), `"voice":"marin"`) {
		t.Errorf("session.updated %s", ev.raw[:200])
	}
	readUntil(t, c, "response.done")

	// The quirk: an invalid session is answered 200, then the call fails.
	for _, body := range []string{`{"model":"gpt-realtime"}`, `{"type":"transcription"}`, `{"type":"realtime","model":"gpt-live-1"}`, `[]`} {
		bad := s.IncomingSIPCall("a", "b")
		if r, b := accept(bad, s.APIKey(), body); r.StatusCode != 200 || len(b) != 0 {
			t.Errorf("quirk %s: %d %s", body, r.StatusCode, b)
		}
		if _, r, err := dial(s, bad, authHeader(s.APIKey())); err == nil || r.StatusCode != 404 {
			t.Errorf("quirk %s: sideband should 404", body)
		}
		info, _ := s.SIPCall(bad)
		if acc, rej, _ := s.SIPOutcome(bad); acc || rej != 400 || info.State != SIPFailed || !info.Ended || string(info.Session) != body {
			t.Errorf("quirk %s: %+v", body, info)
		}
	}

	// Reject: default 603, or the given status; the call ends.
	r1, r2 := s.IncomingSIPCall("a", "b"), s.IncomingSIPCall("a", "b")
	if r, b := reject(r1, ""); r.StatusCode != 200 || len(b) != 0 {
		t.Errorf("reject: %d %s", r.StatusCode, b)
	}
	if r, _ := reject(r2, `{"status_code":486}`); r.StatusCode != 200 {
		t.Errorf("reject 486: %d", r.StatusCode)
	}
	if acc, rej, _ := s.SIPOutcome(r1); acc || rej != 603 {
		t.Errorf("default reject status %d", rej)
	}
	if info, _ := s.SIPCall(r2); info.RejectStatus != 486 || info.State != SIPRejected || !info.Ended {
		t.Errorf("reject 486: %+v", info)
	}
	if r, _ := accept(r1, s.APIKey(), good); r.StatusCode != 404 {
		t.Errorf("accept after reject: %d", r.StatusCode)
	}

	// The caller gives up before an answer.
	gone := s.IncomingSIPCall("a", "b")
	s.EndCall(gone)
	if info, _ := s.SIPCall(gone); info.State != SIPCancelled || !info.Ended {
		t.Errorf("EndCall on pending: %+v", info)
	}
	if _, ok := s.SIPCall(s.NewCall(Script{})); ok {
		t.Errorf("SIPCall knows a WebRTC call")
	}
	if live := s.Live(); len(live) != 3 { // the accepted SIP call and two WebRTC calls
		t.Errorf("Live %v", live)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Logf("close: %v", err)
	}
}

// TestRejectWithOpenAIGo: openai-go's Calls.Reject with and without a status.
func TestRejectWithOpenAIGo(t *testing.T) {
	s := newTestServer(t, Options{})
	client := openaiClient(s, s.WebhookSecret())
	a, b := s.IncomingSIPCall("a", "b"), s.IncomingSIPCall("a", "b")
	ctx := context.Background()
	if err := client.Realtime.Calls.Reject(ctx, a, realtime.CallRejectParams{StatusCode: openai.Int(486)}); err != nil {
		t.Fatal(err)
	}
	if err := client.Realtime.Calls.Reject(ctx, b, realtime.CallRejectParams{}); err != nil {
		t.Fatal(err)
	}
	if _, rej, _ := s.SIPOutcome(a); rej != 486 {
		t.Errorf("a: %d", rej)
	}
	if _, rej, _ := s.SIPOutcome(b); rej != 603 {
		t.Errorf("b: %d", rej)
	}
	err := client.Realtime.Calls.Reject(ctx, a, realtime.CallRejectParams{})
	var apiErr *openai.Error
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "call_id_not_found" {
		t.Errorf("second reject: %v", err)
	}
}
