package realtimetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var liveIDRe = regexp.MustCompile(`^live_u1_[A-Za-z0-9]{32}$`)

// TestLiveAttachStartsWithSessionStarted: the first frame is
// session.started with the session's id, model and expires_at (creation +
// LiveMaxDuration); the script starts with the first attach.
func TestLiveAttachStartsWithSessionStarted(t *testing.T) {
	s := newTestServer(t, Options{})
	before := time.Now().Unix()
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond, AudioEvery: 2 * time.Millisecond})
	after := time.Now().Unix()
	if !liveIDRe.MatchString(id) {
		t.Fatalf("id %q", id)
	}
	if info, ok := s.LiveSession(id); !ok || info.Started || info.Updates != 0 || info.Transport != "webrtc" ||
		info.MinimumBilledSeconds != 15 || info.Model != "gpt-live-1" {
		t.Fatalf("before attach: %+v", info)
	}
	if live := s.Live(); !slices.Contains(live, id) {
		t.Errorf("Live() = %v", live)
	}
	c, started := liveAttach(t, s, id, "")
	if !strings.HasPrefix(started.ID, "event_") {
		t.Errorf("event_id %q", started.ID)
	}
	sess := liveSessionOf(t, started)
	if sess.ID != id || sess.Object != "live.session" || sess.Model != "gpt-live-1" || sess.Status != "active" ||
		sess.ExpiresAt < before+7200 || sess.ExpiresAt > after+7200 || string(sess.Audio.Output.Voice) != `"marin"` ||
		string(sess.Delegation) != "null" || sess.Instructions != nil {
		t.Errorf("session.started %s", started.raw)
	}
	readUntil(t, c, "session.usage.updated")
	if info, _ := s.LiveSession(id); !info.Started || info.Updates == 0 {
		t.Errorf("after the first update: %+v", info)
	}
	// No replay: a second sideband also starts with session.started.
	c2, _ := liveAttach(t, s, id, "")
	readUntil(t, c2, "session.usage.updated")
	if n := s.Attached(id); n != 2 {
		t.Errorf("Attached %d", n)
	}
	_ = c.CloseNow()
	_ = c2.CloseNow()
}

// TestLiveScriptUsageAudioBackend plays a whole script: cumulative,
// increasing usage at the pace, reflected audio without event_id, other
// Live events to skip, backend completions with usage, and the close with
// the final usage, all matching the server's truth.
func TestLiveScriptUsageAudioBackend(t *testing.T) {
	var mu sync.Mutex
	var usageAt []time.Time
	s := newTestServer(t, Options{OnEmit: func(_, typ string, at time.Time) {
		if typ == "session.usage.updated" {
			mu.Lock()
			usageAt = append(usageAt, at)
			mu.Unlock()
		}
	}})
	const every, updates, per = 10 * time.Millisecond, 6, 0.5
	id := s.NewLiveSession(LiveScript{UsageEvery: every, SecondsPerUpdate: per, Updates: updates,
		AudioEvery: 3 * time.Millisecond, BackendResponses: 3})
	start := time.Now()
	c, _ := liveAttach(t, s, id, "")
	evs, code := readUntilClose(t, c)
	if code != websocket.StatusNormalClosure {
		t.Fatalf("close %v", code)
	}

	var seconds []float64
	var audio, completions int
	var input, output int64
	types := map[string]int{}
	for i, ev := range evs {
		types[ev.Type]++
		switch ev.Type {
		case "session.input_audio.append":
			audio++
			var a struct {
				Audio string `json:"audio"`
			}
			_ = json.Unmarshal(ev.raw, &a)
			pcm, err := base64.StdEncoding.DecodeString(a.Audio)
			if err != nil || len(pcm) != 960 || ev.ID != "" || strings.Contains(string(ev.raw), "event_id") {
				t.Fatalf("audio frame %.80s… (%d bytes, %v)", ev.raw, len(pcm), err)
			}
			continue
		case "session.usage.updated":
			seconds = append(seconds, usageSeconds(t, ev))
		case "response.event":
			var r struct {
				DelegationID string `json:"delegation_id"`
				Event        struct {
					Type     string `json:"type"`
					Response struct {
						Model string          `json:"model"`
						Usage *responsesUsage `json:"usage"`
					} `json:"response"`
				} `json:"event"`
			}
			if err := json.Unmarshal(ev.raw, &r); err != nil || !strings.HasPrefix(r.DelegationID, "deleg_") {
				t.Fatalf("response.event %s (%v)", ev.raw, err)
			}
			if r.Event.Type == "response.completed" {
				u := r.Event.Response.Usage
				if u == nil || r.Event.Response.Model != "gpt-5.2" || u.TotalTokens != u.InputTokens+u.OutputTokens ||
					u.InputTokensDetails.CachedTokens > u.InputTokens || u.OutputTokensDetails.ReasoningTokens > u.OutputTokens {
					t.Fatalf("completion %s", ev.raw)
				}
				completions++
				input += u.InputTokens
				output += u.OutputTokens
			}
		case "session.closed":
			if i != len(evs)-1 {
				t.Errorf("session.closed is not last")
			}
		}
		if !strings.HasPrefix(ev.ID, "event_") {
			t.Errorf("%s without event_id: %s", ev.Type, ev.raw)
		}
	}
	if len(seconds) != updates {
		t.Fatalf("%d usage updates: %v (types %v)", len(seconds), seconds, types)
	}
	for i, sec := range seconds {
		if sec != per*float64(i+1) {
			t.Errorf("update %d: seconds %v, want cumulative %v", i+1, sec, per*float64(i+1))
		}
	}
	closed := liveClosedOf(t, evs[len(evs)-1])
	if closed.Reason != "remote_hangup" || closed.Usage.Seconds != per*updates || closed.Session.ID != id {
		t.Errorf("session.closed %s", evs[len(evs)-1].raw)
	}
	if got := s.LiveSeconds(id); got != per*updates {
		t.Errorf("LiveSeconds %v", got)
	}
	if reason, ok := s.LiveEnded(id); !ok || reason != "remote_hangup" {
		t.Errorf("LiveEnded %q %v", reason, ok)
	}
	if in, out := s.LiveBackendUsage(id); completions != 3 || in != input || out != output || in == 0 {
		t.Errorf("backend: %d completions, read %d/%d, truth %d/%d", completions, input, output, in, out)
	}
	info, _ := s.LiveSession(id)
	if audio == 0 || info.AudioFrames != audio || info.BackendResponses != 3 || info.Updates != updates || !info.Ended {
		t.Errorf("read %d audio frames; info %+v", audio, info)
	}
	for _, typ := range []string{"info", "session.input_transcript.delta", "session.output_transcript.delta", "session.delegation.created"} {
		if types[typ] == 0 {
			t.Errorf("no %s (types %v)", typ, types)
		}
	}
	// The pace: the n-th update cannot come before n×UsageEvery after the
	// attach started the script.
	mu.Lock()
	defer mu.Unlock()
	if len(usageAt) != updates || usageAt[updates-1].Sub(start) < updates*every {
		t.Errorf("usage at %v after start, want ≥ %v", usageAt[len(usageAt)-1].Sub(start), updates*every)
	}
	if slices.Contains(s.Live(), id) {
		t.Errorf("ended session still in Live()")
	}
}

// TestLiveHangup: 200 empty, session.closed close_requested with the final
// usage on every sideband, close 1000; then 404 session_id_not_found for a
// second hangup and for an attach.
func TestLiveHangup(t *testing.T) {
	var mu sync.Mutex
	var answered []int
	s := newTestServer(t, Options{OnHangup: func(id string, status int) {
		mu.Lock()
		answered = append(answered, status)
		mu.Unlock()
	}})
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond})
	c1, _ := liveAttach(t, s, id, "")
	c2, _ := liveAttach(t, s, id, "")
	last := usageSeconds(t, readUntil(t, c1, "session.usage.updated"))

	if r, b := do(t, s, "POST", "/live/sessions/"+id+"/hangup", "", "", nil); r.StatusCode != 401 || apiErrorOf(t, b).Code != "invalid_api_key" {
		t.Fatalf("hangup without key: %d %s", r.StatusCode, b)
	}
	r, b := liveHangup(t, s, id)
	if r.StatusCode != 200 || len(b) != 0 || r.Header.Get("Content-Length") != "0" {
		t.Fatalf("hangup: %d %q", r.StatusCode, b)
	}
	for _, c := range []*websocket.Conn{c1, c2} {
		evs, code := readUntilClose(t, c)
		if len(evs) == 0 || code != websocket.StatusNormalClosure {
			t.Fatalf("close %v after %d events", code, len(evs))
		}
		closed := liveClosedOf(t, evs[len(evs)-1])
		if closed.Reason != "close_requested" || closed.Usage.Seconds < last || closed.Usage.Seconds != s.LiveSeconds(id) {
			t.Errorf("session.closed %s (last update %v, truth %v)", evs[len(evs)-1].raw, last, s.LiveSeconds(id))
		}
	}
	for range 2 {
		r, b = liveHangup(t, s, id)
		if r.StatusCode != 404 || string(b) != sessionNotFoundBody {
			t.Errorf("hangup again: %d %s", r.StatusCode, b)
		}
	}
	_, resp, err := liveDial(s, id, "", authHeader(s.APIKey()))
	if err == nil || resp.StatusCode != 404 {
		t.Fatalf("attach after hangup: %v %v", resp, err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != sessionNotFoundBody {
		t.Errorf("attach body %s", body)
	}
	if reason, ok := s.LiveEnded(id); reason != "close_requested" || !ok {
		t.Errorf("LiveEnded %q %v", reason, ok)
	}
	if s.Hangups(id) != 4 {
		t.Errorf("Hangups %d", s.Hangups(id))
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(answered, []int{401, 200, 404, 404}) {
		t.Errorf("OnHangup %v", answered)
	}
}

// TestLiveCloseReasons: CloseLiveSession ends with the reason given, the
// final usage at least the last update, then close 1000.
func TestLiveCloseReasons(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, reason := range []string{LiveContent, LiveConnectionLost, LiveExpired, LiveRemoteHangup, LiveCloseRequested, ""} {
		id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond, SecondsPerUpdate: 2})
		c, _ := liveAttach(t, s, id, "")
		last := usageSeconds(t, readUntil(t, c, "session.usage.updated"))
		if !s.CloseLiveSession(id, reason) {
			t.Fatalf("%q: CloseLiveSession false", reason)
		}
		want := reason
		if want == "" {
			want = "remote_hangup"
		}
		evs, code := readUntilClose(t, c)
		closed := liveClosedOf(t, evs[len(evs)-1])
		// The final usage adds at most one update's worth since the last.
		if closed.Reason != want || code != websocket.StatusNormalClosure || closed.Usage.Seconds < last ||
			closed.Usage.Seconds > last+2*2 || closed.Usage.Seconds != s.LiveSeconds(id) {
			t.Errorf("%q: %s, close %v (last %v)", reason, evs[len(evs)-1].raw, code, last)
		}
		if got, ok := s.LiveEnded(id); got != want || !ok {
			t.Errorf("%q: LiveEnded %q %v", reason, got, ok)
		}
		if s.CloseLiveSession(id, reason) {
			t.Errorf("%q: closed twice", reason)
		}
	}
	if s.CloseLiveSession("live_u1_unknown", "") || s.CloseLiveSession(s.NewCall(Script{}), "") {
		t.Error("CloseLiveSession of an unknown id or a Realtime call")
	}
	if _, ok := s.LiveEnded(s.NewLiveSession(LiveScript{})); ok {
		t.Error("LiveEnded of a live session")
	}
	// EndCall is the remote party hanging up.
	id := s.NewLiveSession(LiveScript{})
	c, _ := liveAttach(t, s, id, "")
	s.EndCall(id)
	evs, _ := readUntilClose(t, c)
	if closed := liveClosedOf(t, evs[len(evs)-1]); closed.Reason != "remote_hangup" {
		t.Errorf("EndCall: %+v", closed)
	}
}

// TestLiveExpiry: at expires_at the session ends with reason expired,
// whether or not a sideband is attached.
func TestLiveExpiry(t *testing.T) {
	s := newTestServer(t, Options{LiveMaxDuration: 300 * time.Millisecond})
	id := s.NewLiveSession(LiveScript{UsageEvery: 20 * time.Millisecond})
	info, _ := s.LiveSession(id)
	if info.ExpiresAt.Sub(info.CreatedAt) != 300*time.Millisecond {
		t.Fatalf("expires %v after creation", info.ExpiresAt.Sub(info.CreatedAt))
	}
	c, started := liveAttach(t, s, id, "")
	if got := liveSessionOf(t, started).ExpiresAt; got != info.ExpiresAt.Unix() {
		t.Errorf("expires_at %d, want %d", got, info.ExpiresAt.Unix())
	}
	evs, code := readUntilClose(t, c)
	closed := liveClosedOf(t, evs[len(evs)-1])
	if closed.Reason != "expired" || code != websocket.StatusNormalClosure || time.Since(info.CreatedAt) < 300*time.Millisecond {
		t.Errorf("expiry: %+v close %v", closed, code)
	}
	// A session nobody attached to expires too.
	quiet := s.NewLiveSession(LiveScript{})
	waitFor(t, "the quiet session to expire", func() bool { r, ok := s.LiveEnded(quiet); return ok && r == "expired" })
	if s.LiveSeconds(quiet) != 0 {
		t.Errorf("unstarted session billed %v", s.LiveSeconds(quiet))
	}
}

// TestLiveSessionClose: a sideband's session.close ends the session for
// every sideband with close_requested, echoing the client's event id.
func TestLiveSessionClose(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond})
	c1, _ := liveAttach(t, s, id, "")
	c2, _ := liveAttach(t, s, id, "")
	readUntil(t, c1, "session.usage.updated")
	send(t, c1, `{"type":"session.close","event_id":"evt_bye"}`)
	for _, c := range []*websocket.Conn{c1, c2} {
		evs, code := readUntilClose(t, c)
		closed := liveClosedOf(t, evs[len(evs)-1])
		if closed.Reason != "close_requested" || closed.ClientEventID != "evt_bye" || code != websocket.StatusNormalClosure {
			t.Errorf("%s close %v", evs[len(evs)-1].raw, code)
		}
	}
}

// TestLiveClientEvents: bad frames get non-fatal Live error events;
// primary-only events are refused on a sideband; known ones are accepted
// silently; session.update changes delegation settings only.
func TestLiveClientEvents(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: time.Hour}) // quiet after the info event
	c, _ := liveAttach(t, s, id, "")
	nextError := func() liveErr {
		t.Helper()
		return liveErrOf(t, readUntil(t, c, "error"))
	}
	for _, tc := range []struct {
		frame, code, evID string
		binary            bool
	}{
		{frame: `{"type":`, code: "invalid_json"},
		{frame: "\x00\x01", code: "invalid_event", binary: true},
		{frame: `[]`, code: "invalid_event"},
		{frame: `{"event_id":"e1"}`, code: "invalid_event", evID: "e1"},
		{frame: `{"type":7,"event_id":"e2"}`, code: "invalid_type", evID: "e2"},
		{frame: `{"type":"session.start","event_id":"e3","session":{"model":"gpt-live-1"}}`, code: "invalid_event", evID: "e3"},
		{frame: `{"type":"session.input_audio.append","audio":"AAAA"}`, code: "invalid_event"},
		{frame: `{"type":"response.done"}`, code: "invalid_value"},
		{frame: `{"type":"session.update","event_id":"e4"}`, code: "missing_required_parameter", evID: "e4"},
		{frame: `{"type":"session.update","session":{"model":"gpt-live-2"}}`, code: "unknown_parameter"},
		{frame: `{"type":"session.update","session":{"type":"realtime"}}`, code: "unknown_parameter"},
		{frame: `{"type":"session.update","session":{"delegation":{"type":"responses","responses":{"model":"gpt-5.2"}}}}`, code: "invalid_value"},
		{frame: `{"type":"session.update","session":{"triggers":{}}}`, code: "invalid_type"},
	} {
		typ := websocket.MessageText
		if tc.binary {
			typ = websocket.MessageBinary
		}
		if err := c.Write(context.Background(), typ, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		e := nextError()
		if e.Code != tc.code || e.Type != "invalid_request_error" || e.ClientEventID != tc.evID || e.Message == "" {
			t.Errorf("%q: error %+v, want %s", tc.frame, e, tc.code)
		}
	}
	// Accepted client events are silent: the next error is the probe's.
	for _, ok := range []string{
		`{"type":"response.create"}`, `{"type":"session.input_audio.mute"}`,
		`{"type":"session.instructions.append","content":"Be brief.","delegation_id":null}`,
		`{"type":"transport.dtmf.send","event":"5"}`,
	} {
		send(t, c, ok)
	}
	send(t, c, `{"type":"nope","event_id":"probe"}`)
	if e := nextError(); e.ClientEventID != "probe" {
		t.Errorf("an accepted event got an error: %+v", e)
	}
	// A good update is answered with the full session on every sideband.
	send(t, c, `{"type":"session.update","event_id":"u1","session":{"triggers":[{"type":"transcript","event":"session.input_transcript.delta"}]}}`)
	upd := readUntil(t, c, "session.updated")
	var got struct {
		ClientEventID string `json:"client_event_id"`
		Session       struct {
			ID       string          `json:"id"`
			Triggers json.RawMessage `json:"triggers"`
		} `json:"session"`
	}
	_ = json.Unmarshal(upd.raw, &got)
	if got.ClientEventID != "u1" || got.Session.ID != id || !strings.Contains(string(got.Session.Triggers), "session.input_transcript.delta") {
		t.Errorf("session.updated %s", upd.raw)
	}
	if !slices.Contains(s.Live(), id) {
		t.Error("bad client events ended the session")
	}
}

// TestLiveGracefulClose: with graceful_close=true the server sends
// session.closed and waits (up to about a second) for the client to close;
// without it the server closes right after session.closed.
func TestLiveGracefulClose(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond})
	plain, _ := liveAttach(t, s, id, "")
	closer, _ := liveAttach(t, s, id, "graceful_close=true")
	waiter, _ := liveAttach(t, s, id, "graceful_close=true")
	readUntil(t, waiter, "session.usage.updated")

	start := time.Now()
	if r, _ := liveHangup(t, s, id); r.StatusCode != 200 {
		t.Fatalf("hangup %d", r.StatusCode)
	}
	// The closer reads session.closed and closes first; the handshake is
	// answered at once.
	readUntil(t, closer, "session.closed")
	closeStart := time.Now()
	if err := closer.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Errorf("client close: %v", err)
	}
	if d := time.Since(closeStart); d > closeGrace/2 {
		t.Errorf("client close took %v", d)
	}
	// The plain sideband is closed by the server after session.closed.
	if evs, code := readUntilClose(t, plain); code != websocket.StatusNormalClosure || evs[len(evs)-1].Type != "session.closed" {
		t.Errorf("plain: close %v", code)
	}
	// The waiter does not close: the server does, after its grace.
	evs, code := readUntilClose(t, waiter)
	if code != websocket.StatusNormalClosure || evs[len(evs)-1].Type != "session.closed" {
		t.Errorf("waiter: close %v", code)
	}
	if d := time.Since(start); d < closeGrace {
		t.Errorf("graceful close came %v after the hangup, want ≥ %v", d, closeGrace)
	}
}

// TestLiveServerClose: Close closes Live sidebands with 1001 and no
// session.closed; LiveEnded reports it with an empty reason.
func TestLiveServerClose(t *testing.T) {
	s := NewServer(Options{})
	id := s.NewLiveSession(LiveScript{UsageEvery: 5 * time.Millisecond, AudioEvery: 5 * time.Millisecond})
	pending := s.IncomingLiveSIPCall("+14155550123", "+18005551212")
	c, _ := liveAttach(t, s, id, "")
	readUntil(t, c, "session.usage.updated")
	type result struct {
		evs  []event
		code websocket.StatusCode
	}
	done := make(chan result, 1)
	go func() { // a reading client answers the close handshake at once
		evs, err := readAll(t, c)
		done <- result{evs, websocket.CloseStatus(err)}
	}()
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > closeGrace/2 {
		t.Errorf("Close took %v", d)
	}
	res := <-done
	evs, code := res.evs, res.code
	if code != websocket.StatusGoingAway {
		t.Errorf("close %v", code)
	}
	for _, ev := range evs {
		if ev.Type == "session.closed" {
			t.Errorf("session.closed on Server.Close")
		}
	}
	if reason, ok := s.LiveEnded(id); !ok || reason != "" {
		t.Errorf("LiveEnded %q %v", reason, ok)
	}
	if info, _ := s.SIPCall(pending); info.State != SIPCancelled {
		t.Errorf("pending Live SIP call %+v", info)
	}
	if late := s.NewLiveSession(LiveScript{}); slices.Contains(s.Live(), late) {
		t.Error("a session created after Close is live")
	}
	_, resp, err := liveDial(s, id, "", authHeader(s.APIKey()))
	if err == nil || (resp != nil && resp.StatusCode == http.StatusSwitchingProtocols) {
		t.Error("attach after Close")
	}
}
