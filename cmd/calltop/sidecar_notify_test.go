package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

const testNotifySecret = "whsec_dmVyeS1zZWNyZXQtdmVyeS1zZWNyZXQtdmVyeS1zZWNyZXQ=" // "very-secret" ×3

// TestSidecarRefusesBadNotify: a bad webhook setting is one line naming
// the flag, before NATS is dialled, and never quotes the secret.
func TestSidecarRefusesBadNotify(t *testing.T) {
	dead := "nats://" + freeAddr(t)
	t.Setenv("OPENAI_API_KEY", "sk-test")
	for _, tc := range []struct {
		env  string
		args []string
		want []string
	}{
		{"", []string{"--notify-url", "https://app.example.com/h"}, []string{"--notify-secret (or CALLTOP_NOTIFY_SECRET)", "not set"}},
		{"whsec_dmVyeQ==", []string{"--notify-url", "https://app.example.com/h"}, []string{"CALLTOP_NOTIFY_SECRET", "4 bytes, want at least 24"}},
		{"", []string{"--notify-url", "https://app.example.com/h", "--notify-secret", "sk-very-secret"}, []string{"--notify-secret", "whsec_"}},
		{testNotifySecret, []string{"--notify-url", "app.example.com/h"}, []string{"--notify-url", "absolute http"}},
		{testNotifySecret, []string{"--notify-url", "https://u:very-secret@app.example.com/h?k=very-secret", "--notify-url", "ftp://x"}, []string{`--notify-url "ftp://x"`}},
		{testNotifySecret, []string{"--notify-url", "https://app.example.com/h", "--notify-events", "call.ended,call.flaged"}, []string{"--notify-events", `"call.flaged"`}},
		{"", []string{"--notify-events", "call.flagged"}, []string{"--notify-events without --notify-url"}},
		{"", []string{"--notify-secret", testNotifySecret}, []string{"--notify-secret without --notify-url"}},
	} {
		t.Setenv("CALLTOP_NOTIFY_SECRET", tc.env)
		code, out, errs := calltop(t, append([]string{"agent", "--nats", dead}, tc.args...)...)
		ok := code == 1 && strings.Count(errs, "\n") == 1 && !strings.Contains(out+errs, "very") && !strings.Contains(out+errs, "dmVye")
		for _, w := range tc.want {
			ok = ok && strings.Contains(errs, w)
		}
		if !ok {
			t.Errorf("agent %q (env secret %t): exit %d, %q; want exit 1 and one line with %q, no secret", tc.args, tc.env != "", code, errs, tc.want)
		}
	}
}

func TestSidecarHelpHidesNotifySecret(t *testing.T) {
	t.Setenv("CALLTOP_NOTIFY_SECRET", testNotifySecret)
	code, out, errs := calltop(t, "agent", "-h")
	if code != 0 || strings.Contains(out+errs, "dmVye") || !strings.Contains(out, "--notify-secret") || !strings.Contains(out, "--notify-url") {
		t.Fatalf("agent -h: exit %d, printed the secret or no notify flags:\n%s%s", code, out, errs)
	}
}

// TestSidecarPostsWebhooks: `calltop agent --notify-url` with the secret
// from the environment posts a call's final record, signed so that
// openai-go's verifier accepts it.
func TestSidecarPostsWebhooks(t *testing.T) {
	oai := openai.NewClient(option.WithAPIKey("unused"), option.WithWebhookSecret(testNotifySecret))
	var mu sync.Mutex
	var got []feed.Summary
	var verr error
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Type string       `json:"type"`
			Data feed.Summary `json:"data"`
		}
		mu.Lock()
		defer mu.Unlock()
		if err := oai.Webhooks.VerifySignature(body, r.Header); err != nil {
			verr = err
		} else if json.Unmarshal(body, &env) == nil && env.Type == "call.ended" && r.Header.Get("webhook-id") == "ended_"+env.Data.CallID {
			got = append(got, env.Data)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer app.Close()
	natsURL, rt := fleetWorld(t)
	t.Setenv("CALLTOP_NOTIFY_SECRET", testNotifySecret)
	a := startAgent(t, "hooked", natsURL, rt, "--notify-url", app.URL+"/webhooks/calltop")
	id := rt.NewCall(realtimetest.Script{Turns: 1, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	a.track(t, id, "grace")
	waitUntil(t, 15*time.Second, "a signed call.ended", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if verr != nil {
			t.Fatalf("openai-go refused the signature: %v", verr)
		}
		return len(got) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if s := got[0]; s.CallID != id || s.User != "grace" || s.State != feed.StateEnded || s.Agent != "hooked" {
		t.Fatalf("call.ended data = %+v", s)
	}
}
