package realtimetest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const testOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n"

func TestHangup(t *testing.T) {
	var mu sync.Mutex
	var statuses []int
	s := newTestServer(t, Options{OnHangup: func(_ string, status int) {
		mu.Lock()
		statuses = append(statuses, status)
		mu.Unlock()
	}})
	id := s.NewCall(Script{TurnGap: 2 * time.Millisecond})
	c := attach(t, s, id)
	configure(t, c)
	readUntil(t, c, "response.done")

	resp, body := do(t, s, "POST", "/realtime/calls/"+id+"/hangup", s.APIKey(), "", nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != "0" {
		t.Fatalf("hangup: %d %q cl=%q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
	_, err := readAll(t, c)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("sideband should close 1000, got %v", err)
	}
	resp, body = do(t, s, "POST", "/realtime/calls/"+id+"/hangup", s.APIKey(), "", nil)
	const want404 = `{"error":{"message":"No session found for the provided call_id","type":"invalid_request_error","code":"call_id_not_found","param":""}}`
	if resp.StatusCode != 404 || string(body) != want404 {
		t.Fatalf("second hangup: %d %s", resp.StatusCode, body)
	}
	if n := s.Hangups(id); n != 2 {
		t.Fatalf("Hangups = %d, want 2", n)
	}
	if _, r, err := dial(s, id, authHeader(s.APIKey())); err == nil || r.StatusCode != 404 {
		t.Fatalf("attach after hangup should 404")
	}
	// Unauthorized hangups are refused, counted and reported too.
	id2 := s.NewCall(Script{})
	if resp, body := do(t, s, "POST", "/realtime/calls/"+id2+"/hangup", "", "", nil); resp.StatusCode != 401 ||
		apiErrorOf(t, body).Code != "invalid_api_key" {
		t.Fatalf("hangup without key: %d %s", resp.StatusCode, body)
	}
	if n := s.Hangups(id2); n != 1 || len(s.Live()) != 1 {
		t.Fatalf("unauthorized hangup: count %d live %v", n, s.Live())
	}
	if resp, _ := do(t, s, "POST", "/realtime/calls/rtc_u1_nope/hangup", s.APIKey(), "", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown call: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := statuses; len(got) != 4 || got[0] != 200 || got[1] != 404 || got[2] != 401 || got[3] != 404 {
		t.Fatalf("OnHangup statuses %v", got)
	}
}

func TestEndCallClosesSidebands(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{})
	c := attach(t, s, id)
	s.EndCall(id)
	if _, err := readAll(t, c); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("EndCall: %v", err)
	}
	if len(s.Live()) != 0 {
		t.Fatal("still live")
	}
}

func TestClientSecrets(t *testing.T) {
	s := newTestServer(t, Options{})
	path := "/realtime/client_secrets"
	if resp, _ := postJSON(t, s, path, "", `{"session":{"type":"realtime"}}`); resp.StatusCode != 401 {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	for _, tc := range []struct{ body, code string }{
		{`{"session":`, ""},
		{`{"expires_after":{"anchor":"created_at","seconds":5},"session":{"type":"realtime"}}`, "integer_below_min_value"},
		{`{"expires_after":{"seconds":8000},"session":{"type":"realtime"}}`, "integer_above_max_value"},
		{`{"expires_after":{"seconds":60.5},"session":{"type":"realtime"}}`, "invalid_type"},
		{`{"expires_after":{"seconds":"x"},"session":{"type":"realtime"}}`, "invalid_type"},
		{`{"expires_after":{"anchor":"now"},"session":{"type":"realtime"}}`, "invalid_value"},
		{`{}`, "missing_required_parameter"},
		{`{"session":{"model":"gpt-realtime"}}`, "missing_required_parameter"},
		{`{"session":{"type":"realtime","model":"gpt-live-1"}}`, "invalid_model"},
		{`{"session":{"type":"realtime","model":"gpt-4o"}}`, "invalid_value"},
		{`[]`, "invalid_type"},
	} {
		resp, body := postJSON(t, s, path, s.APIKey(), tc.body)
		e := apiErrorOf(t, body)
		if resp.StatusCode != 400 || (tc.code != "" && e.Code != tc.code) || e.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s", tc.body, resp.StatusCode, body)
		}
	}

	before := time.Now()
	resp, body := postJSON(t, s, path, s.APIKey(),
		`{"expires_after":{"anchor":"created_at","seconds":60},"session":{"type":"realtime","model":"gpt-realtime-mini","instructions":"Be brief.","audio":{"input":{"transcription":{"model":"whisper-1"}},"output":{"voice":"marin"}}}}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("mint: %d %s", resp.StatusCode, body)
	}
	var sec struct {
		Value     string `json:"value"`
		ExpiresAt int64  `json:"expires_at"`
		Session   struct {
			Type         string `json:"type"`
			Object       string `json:"object"`
			ID           string `json:"id"`
			Model        string `json:"model"`
			Instructions string `json:"instructions"`
			ExpiresAt    int64  `json:"expires_at"`
			Audio        struct {
				Output struct{ Voice string } `json:"output"`
			} `json:"audio"`
		} `json:"session"`
	}
	if err := json.Unmarshal(body, &sec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sec.Value, "ek_") || sec.ExpiresAt < before.Unix()+59 || sec.ExpiresAt > time.Now().Unix()+61 ||
		!strings.HasPrefix(sec.Session.ID, "sess_") || sec.Session.Model != "gpt-realtime-mini" || sec.Session.Object != "realtime.session" ||
		sec.Session.Instructions != "Be brief." || sec.Session.Audio.Output.Voice != "marin" || sec.Session.ExpiresAt != 0 {
		t.Fatalf("secret %s", body)
	}
	if resp, body := postJSON(t, s, path, s.APIKey(), `{"session":{"type":"realtime"}}`); resp.StatusCode != 200 {
		t.Fatalf("defaults: %d %s", resp.StatusCode, body)
	}
}

func mintSecret(t *testing.T, s *Server, session string) string {
	t.Helper()
	resp, body := postJSON(t, s, "/realtime/client_secrets", s.APIKey(), `{"session":`+session+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("mint: %d %s", resp.StatusCode, body)
	}
	var sec struct{ Value string }
	_ = json.Unmarshal(body, &sec)
	return sec.Value
}

func TestCreateCallWithEphemeralKey(t *testing.T) {
	s := newTestServer(t, Options{TurnGap: time.Millisecond})
	ek := mintSecret(t, s, `{"type":"realtime","model":"gpt-realtime-mini","instructions":"Be brief.","audio":{"input":{"transcription":{"model":"whisper-1"}}}}`)
	resp, body := do(t, s, "POST", "/realtime/calls", ek, "application/sdp", strings.NewReader(testOffer))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("content-type %q", ct)
	}
	if h := resp.Header.Get("Access-Control-Expose-Headers"); h != "Location, X-Request-Id" {
		t.Errorf("expose headers %q", h)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("no X-Request-Id")
	}
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/v1/realtime/calls/")
	if !ok || !strings.HasPrefix(id, "rtc_u1_") || len(id) != len("rtc_u1_")+32 {
		t.Fatalf("location %q", loc)
	}
	if !strings.HasPrefix(string(body), "v=0\r\n") || !strings.Contains(string(body), "a=mid:1") {
		t.Errorf("answer %q", body)
	}
	if live := s.Live(); len(live) != 1 || live[0] != id {
		t.Fatalf("live %v", live)
	}
	c := attach(t, s, id)
	ev := configure(t, c)
	var sess struct {
		Model        string `json:"model"`
		Instructions string `json:"instructions"`
	}
	_ = ev.field("session", &sess)
	if sess.Model != "gpt-realtime-mini" || sess.Instructions != "Be brief." {
		t.Errorf("session from the secret not applied: %+v", sess)
	}
	// whisper-1 transcription gives duration usage.
	tr := readUntil(t, c, "conversation.item.input_audio_transcription.completed")
	if !strings.Contains(string(tr.raw), `"type":"duration"`) {
		t.Errorf("transcription usage: %s", tr.raw)
	}

	// The same secret can start another call; an unknown or expired one cannot.
	if resp, _ := do(t, s, "POST", "/realtime/calls", ek, "application/sdp", strings.NewReader(testOffer)); resp.StatusCode != 201 {
		t.Errorf("reuse: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, "POST", "/realtime/calls", "ek_00000000000000000000000000000000", "application/sdp", strings.NewReader(testOffer)); resp.StatusCode != 401 {
		t.Errorf("unknown ek: %d", resp.StatusCode)
	}
	s.mu.Lock()
	s.secrets[ek].expiresAt = time.Now().Add(-time.Second)
	s.mu.Unlock()
	if resp, body := do(t, s, "POST", "/realtime/calls", ek, "application/sdp", strings.NewReader(testOffer)); resp.StatusCode != 401 ||
		apiErrorOf(t, body).Code != "invalid_api_key" {
		t.Errorf("expired ek: %d %s", resp.StatusCode, body)
	}
}

func TestCreateCallErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, tc := range []struct {
		name, key, ct, body string
		status              int
	}{
		{"no key", "", "application/sdp", testOffer, 401},
		{"wrong key", "sk-nope-nope-nope", "application/sdp", testOffer, 401},
		{"empty sdp", s.APIKey(), "application/sdp", "", 400},
		{"invalid sdp", s.APIKey(), "application/sdp", "hello", 400},
		{"content type", s.APIKey(), "text/plain", testOffer, 400},
		{"bad multipart", s.APIKey(), "multipart/form-data; boundary=x", "garbage", 400},
		{"no boundary", s.APIKey(), "multipart/form-data", "garbage", 400},
	} {
		resp, body := do(t, s, "POST", "/realtime/calls", tc.key, tc.ct, strings.NewReader(tc.body))
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
			continue
		}
		apiErrorOf(t, body)
	}
	// A GPT-Live model is refused with invalid_model (openai-realtime.md §8),
	// in the query and in the unified form's session.
	if resp, body := do(t, s, "POST", "/realtime/calls?model=gpt-live-1", s.APIKey(), "application/sdp", strings.NewReader(testOffer)); resp.StatusCode != 400 || apiErrorOf(t, body).Code != "invalid_model" {
		t.Errorf("live model: %d %s", resp.StatusCode, body)
	}
	ct, mp := multipartBody(t, testOffer, `{"type":"realtime","model":"gpt-live-1"}`)
	if resp, body := do(t, s, "POST", "/realtime/calls", s.APIKey(), ct, mp); resp.StatusCode != 400 || apiErrorOf(t, body).Code != "invalid_model" {
		t.Errorf("live model in the form: %d %s", resp.StatusCode, body)
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("failed requests created calls: %v", live)
	}
}

func multipartBody(t *testing.T, sdp, session string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part := func(name, ct, content string) {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+name+`"`)
		h.Set("Content-Type", ct)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(content))
	}
	part("sdp", "application/sdp", sdp)
	if session != "" {
		part("session", "application/json", session)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestCreateCallMultipart(t *testing.T) {
	s := newTestServer(t, Options{})
	ct, body := multipartBody(t, testOffer, `{"type":"realtime","model":"gpt-realtime-2","audio":{"output":{"voice":"cedar"}}}`)
	resp, answer := do(t, s, "POST", "/realtime/calls", s.APIKey(), ct, body)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(string(answer), "v=0") {
		t.Fatalf("multipart: %d %s", resp.StatusCode, answer)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/v1/realtime/calls/")
	c := attach(t, s, id)
	ev := configure(t, c)
	var sess struct {
		Model string `json:"model"`
		Audio struct {
			Output struct{ Voice string } `json:"output"`
		} `json:"audio"`
	}
	_ = ev.field("session", &sess)
	if sess.Model != "gpt-realtime-2" || sess.Audio.Output.Voice != "cedar" {
		t.Errorf("session %+v", sess)
	}

	for name, tc := range map[string]struct{ sdp, session string }{
		"bad session json": {testOffer, `{"type":`},
		"session no type":  {testOffer, `{"model":"gpt-realtime"}`},
		"empty sdp":        {"", `{"type":"realtime"}`},
		"invalid sdp":      {"x=1", `{"type":"realtime"}`},
	} {
		ct, body := multipartBody(t, tc.sdp, tc.session)
		if resp, b := do(t, s, "POST", "/realtime/calls", s.APIKey(), ct, body); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	// Without a session part the defaults apply.
	ct, body = multipartBody(t, testOffer, "")
	if resp, b := do(t, s, "POST", "/realtime/calls", s.APIKey(), ct, body); resp.StatusCode != 201 {
		t.Errorf("no session part: %d %s", resp.StatusCode, b)
	}
}

func TestUnknownRoutes(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/realtime/calls"},
		{"POST", "/foo"},
		{"GET", "/realtime/calls/x/hangup"},
		{"GET", "/realtime/calls/x/accept"},
		{"DELETE", "/realtime"},
	} {
		resp, body := do(t, s, tc.method, tc.path, s.APIKey(), "", nil)
		e := apiErrorOf(t, body)
		if resp.StatusCode != 404 || e.Message != "Invalid URL ("+tc.method+" /v1"+tc.path+")" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	// A plain GET on the sideband path (no upgrade) does not panic.
	id := s.NewCall(Script{})
	if resp, _ := do(t, s, "GET", "/realtime?call_id="+id, s.APIKey(), "", nil); resp.StatusCode < 400 {
		t.Errorf("non-upgrade GET: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, "GET", "/realtime", s.APIKey(), "", nil); resp.StatusCode != 400 {
		t.Errorf("no call_id: %d", resp.StatusCode)
	}
}

func TestGarbageNeverPanics(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{})
	bodies := []string{"", "{", "null", "[]", `{"session":null}`, `{"session":{"type":null}}`, `{"expires_after":null,"session":{"type":"realtime","tools":null,"audio":null}}`,
		`{"session":{"type":"realtime","audio":{"input":null,"output":{"speed":"fast"}}}}`, strings.Repeat("x", 2<<20)}
	paths := []string{"/realtime/client_secrets", "/realtime/calls", "/realtime/calls/" + id + "/hangup"}
	for _, p := range paths {
		for _, b := range bodies {
			for _, ct := range []string{"application/json", "application/sdp", "multipart/form-data; boundary=zz", ";;;"} {
				resp, _, err := tryDo(s, "POST", p, s.APIKey(), ct, strings.NewReader(b))
				if err != nil && len(b) > maxBody {
					continue // the server stopped reading an oversized body
				}
				if err != nil || resp.StatusCode >= 500 {
					t.Fatalf("%s %q: %v %v", p, b[:min(len(b), 20)], resp, err)
				}
			}
		}
	}
	c := attach(t, s, id2(s))
	for _, b := range []string{"", "{}", `{"type":""}`, `{"type":"session.update","session":[]}`, `{"type":"session.update","session":{"type":"realtime","audio":{"output":{"voice":5}}}}`,
		`{"type":"session.update","session":{"type":"realtime","tools":null,"audio":{"input":{"transcription":{"model":7}}}}}`} {
		send(t, c, b)
	}
	configure(t, c)
}

// id2 returns a fresh call for the garbage test (the first one was hung up).
func id2(s *Server) string { return s.NewCall(Script{TurnGap: time.Millisecond, Turns: 1}) }
