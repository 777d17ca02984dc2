package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
)

// apiReply is one answer of the sidecar API.
type apiReply struct {
	status int
	body   string
}

func (r apiReply) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error.Code
}

func doAPI(t *testing.T, method, url, auth, ctype, body string) apiReply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return apiReply{resp.StatusCode, string(data)}
}

func TestNewRefusesAnEphemeralKey(t *testing.T) {
	_, nc := runNATS(t, "")
	_, err := agent.New(t.Context(), nc, agent.Config{APIKey: "ek_68af296e8e408191a1120ab6383263c2"})
	if err == nil || !strings.Contains(err.Error(), "ephemeral") || strings.Contains(err.Error(), "68af") {
		t.Fatalf("New with an ek_ key: %v; want a refusal that does not print the key", err)
	}
}

func TestSidecarBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	api := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{Token: "s3cret"}))
	defer api.Close()
	// An invalid call ID answers 400 once past the token check, and
	// dials nothing.
	body := `{"call_id":"rtc.x","user":"u"}`
	for _, auth := range []string{"Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR  s3cret"} {
		if r := doAPI(t, "POST", api.URL+"/v1/calls", auth, "application/json", body); r.status != http.StatusBadRequest {
			t.Errorf("Authorization: %s: %d %s, want past the token check", auth, r.status, r.body)
		}
	}
	for _, auth := range []string{"", "Bearer", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "Bearers3cret", "s3cret"} {
		if r := doAPI(t, "POST", api.URL+"/v1/calls", auth, "application/json", body); r.status != http.StatusUnauthorized || r.code() != "unauthorized" {
			t.Errorf("Authorization: %q: %d %s, want 401", auth, r.status, r.body)
		}
	}
}

func TestSidecarHealthzShowsDetailsOnlyWithTheToken(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{Name: "web-7"})
	api := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{Token: "s3cret"}))
	defer api.Close()
	for _, auth := range []string{"", "Bearer wrong"} {
		if r := doAPI(t, "GET", api.URL+"/healthz", auth, "", ""); r.status != http.StatusOK || strings.TrimSpace(r.body) != `{"ok":true}` {
			t.Errorf("healthz with %q: %d %s, want 200 {\"ok\":true} and nothing more", auth, r.status, r.body)
		}
	}
	r := doAPI(t, "GET", api.URL+"/healthz", "Bearer s3cret", "", "")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"agent":"web-7"`) || !strings.Contains(r.body, `"calls":0`) || !strings.Contains(r.body, `"ok":true`) {
		t.Errorf("healthz with the token: %d %s", r.status, r.body)
	}
	// Without a token configured (loopback only), everyone gets the details.
	open := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{}))
	defer open.Close()
	if r := doAPI(t, "GET", open.URL+"/healthz", "", "", ""); !strings.Contains(r.body, `"agent":"web-7"`) {
		t.Errorf("healthz without a token configured: %s", r.body)
	}
}

func TestSidecarJSONBodies(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	api := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{}))
	defer api.Close()
	big := strings.Repeat("a", 300<<10)
	for _, tc := range []struct {
		path, ctype, body string
		status            int
		code              string
	}{
		{"/v1/calls", "application/json", `{"call_id":"x"} {"y":1}`, 400, "invalid_json"},
		{"/v1/calls", "application/json", `{"call_id":"x"}]`, 400, "invalid_json"},
		{"/v1/client_secrets", "application/json", `{"user":"u"}{"user":"v"}`, 400, "invalid_json"},
		// Refused before OpenAI is asked: the caller's mistake, not OpenAI's.
		{"/v1/client_secrets", "application/json", `{"user":"u","ttl_seconds":5}`, 400, "invalid_request"},
		{"/v1/client_secrets", "application/json", `{"user":"u","session":{"type":"transcription"}}`, 400, "invalid_request"},
		{"/v1/calls", "application/json", `{"call_id":"` + big + `"}`, 413, "request_too_large"},
		{"/v1/calls", "application/json", `{"call_id":"rtc_1"}` + strings.Repeat(" ", 300<<10), 413, "request_too_large"},
		{"/v1/client_secrets", "application/json", `{"user":"` + big + `"}`, 413, "request_too_large"},
		{"/v1/relay?user=u", "application/sdp", "v=0\r\n" + big, 413, "request_too_large"},
	} {
		r := doAPI(t, "POST", api.URL+tc.path, "", tc.ctype, tc.body)
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("POST %s %.40q…: %d %.200s, want %d %s", tc.path, tc.body, r.status, r.body, tc.status, tc.code)
		}
	}
	if got := e.agent.Calls(); len(got) != 0 {
		t.Fatalf("refused bodies started tracking %v", got)
	}
	// Whitespace after the object is not a second value.
	id := e.openai.NewCall(realtimetest.Script{Turns: 1, TurnGap: 5 * time.Millisecond})
	if r := doAPI(t, "POST", api.URL+"/v1/calls", "", "application/json", `{"call_id":"`+id+`","user":"u"}`+" \r\n\t"); r.status != http.StatusAccepted {
		t.Fatalf("POST /v1/calls with trailing whitespace: %d %s", r.status, r.body)
	}
}

// TestSidecarRefusesBeforeReadingTheBody: a client that announces a body
// and trickles it gets its 401 (or 404) at once, not when it has sent it
// all.
func TestSidecarRefusesBeforeReadingTheBody(t *testing.T) {
	e := newEnv(t, realtimetest.Options{}, agent.Config{})
	api := httptest.NewServer(e.agent.Handler(agent.SidecarConfig{Token: "s3cret"}))
	defer api.Close()
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/v1/calls", "", 401},
		{"/v1/relay?user=u", "Bearer wrong", 401},
		{"/v1/client_secrets", "", 401},
		{"/v1/nowhere", "", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			conn, err := net.Dial("tcp", api.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: calltop\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n", tc.path)
			if tc.auth != "" {
				head += "Authorization: " + tc.auth + "\r\n"
			}
			if _, err := io.WriteString(conn, head+"\r\n{"); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte every 50 ms: 100 KB would take 80 minutes
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte(" ")); err != nil {
							return
						}
					}
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			status, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				t.Fatalf("no answer while the body trickles: %v", err)
			}
			if want := fmt.Sprintf("HTTP/1.1 %d ", tc.want); !strings.HasPrefix(status, want) {
				t.Fatalf("answer %q, want %s", status, want)
			}
		})
	}
}
