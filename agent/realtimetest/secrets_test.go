package realtimetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSecretsRecordTTLModelAndCalls(t *testing.T) {
	s := newTestServer(t, Options{})
	session := `{"type":"realtime","model":"gpt-realtime-mini","instructions":"Be brief."}`
	before := time.Now()
	resp, body := postJSON(t, s, "/realtime/client_secrets", s.APIKey(), `{"expires_after":{"anchor":"created_at","seconds":30},"session":`+session+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("mint: %d %s", resp.StatusCode, body)
	}
	var minted struct {
		Value     string `json:"value"`
		ExpiresAt int64  `json:"expires_at"`
		Session   struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	_ = json.Unmarshal(body, &minted)
	other := mintSecret(t, s, `{"type":"realtime"}`)

	create := func(key string) (int, string) {
		resp, _ := do(t, s, "POST", "/realtime/calls", key, "application/sdp", strings.NewReader(testOffer))
		return resp.StatusCode, strings.TrimPrefix(resp.Header.Get("Location"), "/v1/realtime/calls/")
	}
	st1, c1 := create(minted.Value)
	st2, c2 := create(minted.Value) // a secret can start several calls
	if st1 != 201 || st2 != 201 {
		t.Fatalf("create: %d %d", st1, st2)
	}
	if got := string(s.CallSession(c1)); got != session {
		t.Errorf("CallSession of an ek call = %s", got)
	}

	secs := s.Secrets()
	if len(secs) != 2 || secs[1].Value != other || len(secs[1].Calls) != 0 || secs[1].ExpiresAfter != 600*time.Second {
		t.Fatalf("Secrets %+v", secs)
	}
	si := secs[0]
	if si.Value != minted.Value || si.SessionID != minted.Session.ID || si.Model != "gpt-realtime-mini" ||
		si.ExpiresAfter != 30*time.Second || si.ExpiresAt.Unix() != minted.ExpiresAt || si.CreatedAt.Before(before) ||
		!si.ExpiresAt.Equal(si.CreatedAt.Add(30*time.Second)) || string(si.Session) != session ||
		len(si.Calls) != 2 || si.Calls[0] != c1 || si.Calls[1] != c2 || si.Expired(time.Now()) || !si.Expired(si.ExpiresAt) {
		t.Errorf("SecretInfo %+v", si)
	}

	// Expired: 401, nothing recorded; running calls are unaffected and the
	// secret stays listed.
	s.mu.Lock()
	s.secrets[minted.Value].expiresAt = time.Now().Add(-time.Millisecond)
	s.mu.Unlock()
	if st, _ := create(minted.Value); st != 401 {
		t.Errorf("expired: %d", st)
	}
	if secs := s.Secrets(); len(secs) != 2 || len(secs[0].Calls) != 2 {
		t.Errorf("after expiry %+v", secs)
	}
	if live := s.Live(); len(live) != 2 {
		t.Errorf("live %v", live)
	}
}

func TestCallSessionMultipart(t *testing.T) {
	s := newTestServer(t, Options{})
	session := `{"type":"realtime","model":"gpt-realtime-2","tools":[{"type":"function","name":"lookup"}]}`
	ct, body := multipartBody(t, testOffer, session)
	resp, _ := do(t, s, "POST", "/realtime/calls", s.APIKey(), ct, body)
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/v1/realtime/calls/")
	if got := string(s.CallSession(id)); got != session {
		t.Errorf("CallSession = %s", got)
	}
	// A multipart form with an ephemeral key: the form's session wins.
	ek := mintSecret(t, s, `{"type":"realtime","model":"gpt-realtime-mini"}`)
	ct, body = multipartBody(t, testOffer, session)
	resp, _ = do(t, s, "POST", "/realtime/calls", ek, ct, body)
	id2 := strings.TrimPrefix(resp.Header.Get("Location"), "/v1/realtime/calls/")
	if resp.StatusCode != 201 || string(s.CallSession(id2)) != session || s.Secrets()[0].Calls[0] != id2 {
		t.Errorf("ek multipart: %d %s", resp.StatusCode, s.CallSession(id2))
	}
	for _, none := range []string{s.NewCall(Script{}), "rtc_unknown"} {
		if s.CallSession(none) != nil {
			t.Errorf("CallSession(%s) = %s", none, s.CallSession(none))
		}
	}
	resp, _ = do(t, s, "POST", "/realtime/calls", s.APIKey(), "application/sdp", strings.NewReader(testOffer))
	if id := strings.TrimPrefix(resp.Header.Get("Location"), "/v1/realtime/calls/"); s.CallSession(id) != nil {
		t.Errorf("raw SDP with the standard key has a session")
	}
}
