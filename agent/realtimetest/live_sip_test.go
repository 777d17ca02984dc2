package realtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/live"
	"github.com/openai/openai-go/v3/webhooks"
)

// TestLiveSIPWebhookVerifiedByOpenAIGo is the GPT-Live phone flow as a
// backend runs it with openai-go: the signed live.call.incoming passes
// client.Webhooks.Unwrap and AsLiveCallIncoming, Live.Sessions.Accept
// answers it, the sideband attaches by the same rtc_ id on the Live path
// and Live.Sessions.Hangup ends it with session.closed.
func TestLiveSIPWebhookVerifiedByOpenAIGo(t *testing.T) {
	secret := NewWebhookSecret()
	s := newTestServer(t, Options{WebhookSecret: secret, LiveUsageEvery: 5 * time.Millisecond})
	client := openaiClient(s, secret)
	got := make(chan webhooks.LiveCallIncomingWebhookEvent, 4)
	unwrapErr := make(chan error, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := client.Webhooks.Unwrap(body, r.Header)
		if err != nil {
			unwrapErr <- err
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- ev.AsLiveCallIncoming()
	}))
	defer recv.Close()
	s.SetWebhook(WebhookTarget{URL: recv.URL})

	before := time.Now().Unix()
	id := s.IncomingLiveSIPCall("+14155550123", "+18005551212")
	if !sipCallIDRe.MatchString(id) {
		t.Fatalf("id %q", id)
	}
	var ev webhooks.LiveCallIncomingWebhookEvent
	select {
	case ev = <-got:
	case err := <-unwrapErr:
		t.Fatalf("Unwrap: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook")
	}
	info, _ := s.SIPCall(id)
	if ev.Type != "live.call.incoming" || ev.Object != "event" || ev.Data.SessionID != id || !evtIDRe.MatchString(ev.ID) ||
		ev.ID != info.EventID || ev.CreatedAt < before || len(ev.Data.SipHeaders) != 3 ||
		ev.Data.SipHeaders[0].Name != "From" || ev.Data.SipHeaders[0].Value != "sip:+14155550123@sip.example.com" {
		t.Errorf("event %s", ev.RawJSON())
	}
	if !strings.HasPrefix(ev.RawJSON(), `{"object":"event","id":"evt_`) ||
		!strings.Contains(ev.RawJSON(), `"type":"live.call.incoming"`) || !strings.Contains(ev.RawJSON(), `"data":{"session_id":"`+id+`","sip_headers":[`) {
		t.Errorf("raw event %s", ev.RawJSON())
	}
	waitFor(t, "the delivery to be recorded", func() bool { return len(s.Deliveries()) == 1 })
	if d := s.Deliveries()[0]; d.CallID != id || d.Status != 200 || !bytes.Equal(d.Body, info.Event) {
		t.Errorf("delivery %+v", d)
	}

	// Pending: no sideband, no hangup.
	if _, r, err := liveDial(s, id, "", authHeader(s.APIKey())); err == nil || r.StatusCode != 404 {
		t.Errorf("attach to a pending call: %v %v", r, err)
	}
	if r, b := liveHangup(t, s, id); r.StatusCode != 404 || string(b) != sessionNotFoundBody {
		t.Errorf("hangup of a pending call: %d %s", r.StatusCode, b)
	}
	ctx := context.Background()
	err := client.Live.Sessions.Accept(ctx, ev.Data.SessionID, live.SessionAcceptParams{Session: live.SessionAcceptParamsSession{
		Model:        "gpt-live-1",
		Instructions: openai.String("You answer the phone for Brightline."),
	}})
	if err != nil {
		t.Fatalf("Live.Sessions.Accept: %v", err)
	}
	if info, _ := s.SIPCall(id); info.State != SIPAccepted || !info.Accepted || !info.Live || info.Model != "gpt-live-1" {
		t.Errorf("after accept %+v", info)
	}
	li, ok := s.LiveSession(id)
	if !ok || li.Transport != "sip" || li.MinimumBilledSeconds != 0 || !strings.Contains(string(li.Session), `"type":"live"`) {
		t.Errorf("LiveSession %+v", li)
	}
	if !slices.Contains(s.Live(), id) {
		t.Errorf("accepted call not live")
	}
	// The Realtime surface no longer knows it.
	if r, b := postJSON(t, s, "/realtime/calls/"+id+"/accept", s.APIKey(), `{"type":"realtime"}`); r.StatusCode != 404 || apiErrorOf(t, b).Code != "call_id_not_found" {
		t.Errorf("Realtime accept after the Live one: %d %s", r.StatusCode, b)
	}
	if _, r, err := dial(s, id, authHeader(s.APIKey())); err == nil || r.StatusCode != 404 {
		t.Errorf("Realtime sideband on a Live call: %v %v", r, err)
	}

	c, started := liveAttach(t, s, id, "")
	if sess := liveSessionOf(t, started); sess.ID != id || sess.Model != "gpt-live-1" ||
		sess.Instructions == nil || *sess.Instructions != "You answer the phone for Brightline." {
		t.Errorf("session.started %s", started.raw)
	}
	readUntil(t, c, "session.usage.updated")
	if err := client.Live.Sessions.Hangup(ctx, id); err != nil {
		t.Fatalf("Live.Sessions.Hangup: %v", err)
	}
	evs, code := readUntilClose(t, c)
	if closed := liveClosedOf(t, evs[len(evs)-1]); closed.Reason != "close_requested" || code != websocket.StatusNormalClosure {
		t.Errorf("close %+v %v", closed, code)
	}
	if info, _ := s.SIPCall(id); info.State != SIPAccepted || !info.Ended {
		t.Errorf("after hangup %+v", info)
	}
}

// TestLiveAcceptAndReject: a Live accept needs a GPT-Live model (400
// otherwise, the call stays pending); reject ends a pending call with its
// SIP status; the first accept on either surface decides.
func TestLiveAcceptAndReject(t *testing.T) {
	s := newTestServer(t, Options{LiveUsageEvery: 5 * time.Millisecond})
	accept := func(id, key, body string) (*http.Response, []byte) {
		t.Helper()
		return postJSON(t, s, "/live/sessions/"+id+"/accept", key, body)
	}
	reject := func(id, body string) (*http.Response, []byte) {
		t.Helper()
		return postJSON(t, s, "/live/sessions/"+id+"/reject", s.APIKey(), body)
	}
	id := s.IncomingLiveSIPCall("+14155550123", "+18005551212")
	for _, tc := range []struct {
		key, body string
		status    int
		code      string
	}{
		{"", `{"session":{"model":"gpt-live-1"}}`, 401, "invalid_api_key"},
		{s.APIKey(), `{"session":`, 400, ""},
		{s.APIKey(), `{"session":{"model":"gpt-realtime"}}`, 400, "invalid_model"},
		{s.APIKey(), `{"session":{"type":"realtime","model":"gpt-live-1"}}`, 400, "invalid_value"},
		{s.APIKey(), `{"session":{"instructions":"hi"}}`, 400, "missing_required_parameter"},
		{s.APIKey(), `{}`, 400, "missing_required_parameter"},
	} {
		r, b := accept(id, tc.key, tc.body)
		if r.StatusCode != tc.status || (tc.code != "" && apiErrorOf(t, b).Code != tc.code) {
			t.Errorf("accept %s: %d %s", tc.body, r.StatusCode, b)
		}
	}
	if r, b := reject(id, `{"status_code":200}`); r.StatusCode != 400 || apiErrorOf(t, b).Code != "invalid_value" {
		t.Errorf("reject 200: %d %s", r.StatusCode, b)
	}
	for _, other := range []string{"rtc_00000000000000000000000000000000", s.NewLiveSession(LiveScript{}), s.NewCall(Script{})} {
		if r, b := accept(other, s.APIKey(), `{"session":{"model":"gpt-live-1"}}`); r.StatusCode != 404 || string(b) != sessionNotFoundBody {
			t.Errorf("accept of %s: %d %s", other, r.StatusCode, b)
		}
		if r, _ := reject(other, ""); r.StatusCode != 404 {
			t.Errorf("reject of %s: %d", other, r.StatusCode)
		}
	}
	if info, _ := s.SIPCall(id); info.State != SIPPending || info.Ended {
		t.Fatalf("after errors: %+v", info)
	}
	// The session object alone is accepted too.
	if r, b := accept(id, s.APIKey(), `{"type":"live","model":"gpt-live-1","audio":{"output":{"voice":"cedar"}}}`); r.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("accept: %d %s", r.StatusCode, b)
	}
	c, started := liveAttach(t, s, id, "")
	if v := string(liveSessionOf(t, started).Audio.Output.Voice); v != `"cedar"` {
		t.Errorf("voice %s", v)
	}
	readUntil(t, c, "session.usage.updated")
	if r, _ := accept(id, s.APIKey(), `{"session":{"model":"gpt-live-1"}}`); r.StatusCode != 404 {
		t.Errorf("second accept: %d", r.StatusCode)
	}

	// Reject: 200, ended, the SIP status recorded; 300s are allowed.
	rej := s.IncomingLiveSIPCall("+14155550124", "+18005551212")
	if r, b := reject(rej, `{"status_code":302}`); r.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("reject: %d %s", r.StatusCode, b)
	}
	if acc, status, _ := s.SIPOutcome(rej); acc || status != 302 {
		t.Errorf("SIPOutcome %v %d", acc, status)
	}
	if _, ok := s.LiveEnded(rej); ok {
		t.Errorf("a rejected call is not a Live session")
	}
	if r, _ := reject(rej, ""); r.StatusCode != 404 {
		t.Errorf("second reject: %d", r.StatusCode)
	}

	// Either webhook's call can be answered on either surface: here a
	// live.call.incoming answered by Realtime's accept.
	rt := s.IncomingLiveSIPCall("+14155550125", "+18005551212")
	if r, b := postJSON(t, s, "/realtime/calls/"+rt+"/accept", s.APIKey(), `{"type":"realtime","model":"gpt-realtime"}`); r.StatusCode != 200 {
		t.Fatalf("Realtime accept: %d %s", r.StatusCode, b)
	}
	if r, b := accept(rt, s.APIKey(), `{"session":{"model":"gpt-live-1"}}`); r.StatusCode != 404 || string(b) != sessionNotFoundBody {
		t.Errorf("Live accept after the Realtime one: %d %s", r.StatusCode, b)
	}
	configure(t, attach(t, s, rt))
	if info, _ := s.SIPCall(rt); info.Live || !info.Accepted {
		t.Errorf("Realtime-accepted %+v", info)
	}
	// And a realtime.call.incoming answered by the Live accept.
	lv := s.IncomingSIPCall("+14155550126", "+18005551212")
	if r, b := accept(lv, s.APIKey(), `{"session":{"model":"gpt-live-1"}}`); r.StatusCode != 200 {
		t.Fatalf("Live accept of a realtime.call.incoming call: %d %s", r.StatusCode, b)
	}
	liveAttach(t, s, lv, "")
	var ev struct {
		Type string `json:"type"`
	}
	info, _ := s.SIPCall(lv)
	if _ = json.Unmarshal(info.Event, &ev); ev.Type != "realtime.call.incoming" || !info.Live {
		t.Errorf("%s %+v", ev.Type, info)
	}
}
