package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// auditJSON runs `calltop audit --json` and decodes its lines.
func auditJSON(t *testing.T, natsURL string, args ...string) []feed.AuditRecord {
	t.Helper()
	code, out, errs := calltop(t, append([]string{"audit", "--json", "--nats", natsURL}, args...)...)
	if code != 0 {
		t.Fatalf("audit --json: exit %d: %s", code, errs)
	}
	var recs []feed.AuditRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r feed.AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit --json line %q: %v", sc.Text(), err)
		}
		for _, field := range []string{`"at":`, `"who":`, `"action":`, `"call_id":`, `"user":`, `"reason":`, `"outcome":`, `"cost_usd":`} {
			if !strings.Contains(sc.Text(), field) {
				t.Fatalf("audit --json line without %s: %s", field, sc.Text())
			}
		}
		recs = append(recs, r)
	}
	return recs
}

// TestAuditKillAndCredits: `calltop kill` against a sidecar agent is in
// `calltop audit` with who, reason, outcome and the call's cost, a second
// kill as already ended, and credits changes with their balance.
func TestAuditKillAndCredits(t *testing.T) {
	natsURL := embeddedNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	rt := realtimetest.NewServer(realtimetest.Options{})
	defer rt.Close()
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	apiAddr := freeAddr(t)
	var agentErr syncBuffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code := run(ctx, []string{"agent", "--name", "api-7", "--nats", natsURL, "--openai-base-url", rt.BaseURL(), "--listen", apiAddr}, &agentErr, &agentErr); code != 0 {
			t.Errorf("agent exited %d: %s", code, agentErr.String())
		}
	}()
	waitFor(t, "agent API", func() bool { return strings.Contains(agentErr.String(), "agent ready") })

	id := rt.NewCall(realtimetest.Script{Model: "gpt-realtime", Turns: 2, TurnGap: 5 * time.Millisecond})
	resp, err := http.Post("http://"+apiAddr+"/v1/calls", "application/json", strings.NewReader(fmt.Sprintf(`{"call_id":%q,"user":"alice"}`, id)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "usage", func() bool { return lsJSON(t, natsURL)[id].Responses == 2 })
	evil := "spam \x1b]0;owned\x07 calls"
	if code, _, errs := calltop(t, "kill", id, "--reason", evil, "--nats", natsURL); code != 0 {
		t.Fatalf("kill: %d %s", code, errs)
	}
	if code, _, errs := calltop(t, "kill", id, "--reason", "again", "--nats", natsURL); code != 1 || !strings.Contains(errs, "no agent owns") {
		t.Fatalf("second kill: %d %s", code, errs)
	}
	for _, args := range [][]string{{"set", "bob", "5"}, {"add", "bob", "-1.25"}} {
		if code, _, errs := calltop(t, append([]string{"credits", "--nats", natsURL}, args...)...); code != 0 {
			t.Fatalf("credits %v: %d %s", args, code, errs)
		}
	}
	s := lsJSON(t, natsURL)[id]
	var recs []feed.AuditRecord
	waitFor(t, "four records", func() bool { recs = auditJSON(t, natsURL); return len(recs) == 4 })
	me := operator()
	if r := recs[0]; r.Who != me || r.Action != feed.AuditTerminate || r.CallID != id || r.User != "alice" || r.Reason != evil ||
		r.Outcome != feed.OutcomeDone || r.CostUSD <= 0 || r.CostUSD != s.CostUSD || r.By != "agent api-7" {
		t.Fatalf("kill record %+v; ls says $%v", r, s.CostUSD)
	}
	if r := recs[1]; r.Who != me || r.Reason != "again" || r.Outcome != feed.OutcomeAlreadyEnded || r.CostUSD != s.CostUSD || r.By != "calltop-kill" {
		t.Fatalf("second kill record %+v", r)
	}
	if r := recs[2]; r.Action != feed.AuditCredits || r.Who != me || r.User != "bob" || r.Reason != "set $5.00" || r.BalanceUSD == nil || *r.BalanceUSD != 5 || r.CallID != "" {
		t.Fatalf("credits set record %+v", r)
	}
	if r := recs[3]; r.Reason != "add -$1.25" || *r.BalanceUSD != 3.75 || r.By != "calltop credits" {
		t.Fatalf("credits add record %+v", r)
	}

	code, out, errs := calltop(t, "audit", "--nats", natsURL)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "AT") || strings.ContainsAny(out, "\x1b\x07") ||
		!strings.Contains(lines[1], "spam ?]0;owned? calls") || !strings.Contains(lines[1], "done") ||
		!strings.Contains(lines[2], "already ended") || !strings.Contains(lines[3], "set $5.00 (balance $5.00)") {
		t.Fatalf("audit: exit %d, err %q\n%s", code, errs, out)
	}
	if recs := auditJSON(t, natsURL, "--since", time.Now().Add(time.Hour).Format(time.RFC3339)); len(recs) != 0 {
		t.Fatalf("records from the future: %+v", recs)
	}
	if recs := auditJSON(t, natsURL, "--since", "1h"); len(recs) != 4 {
		t.Fatalf("--since 1h: %d records", len(recs))
	}
}

func TestAuditBadInput(t *testing.T) {
	url := embeddedNATS(t)
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"audit", "--since", "yesterday", "--nats", url}, 2, "--since: \"yesterday\": want a duration"},
		{[]string{"audit", "--since", "-5m", "--nats", url}, 2, "positive"},
		{[]string{"audit", "--since", "\x1b[2J", "--nats", url}, 2, "\"?[2J\": want"},
		{[]string{"audit", "extra", "--nats", url}, 2, "unexpected argument"},
		{[]string{"audit", "--nats", "nats://" + freeAddr(t)}, 1, "connect to NATS"},
		{[]string{"audit", "--nats", url}, 0, "no records since"},
	} {
		code, _, errs := calltop(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.err) {
			t.Errorf("calltop %v: exit %d, %q; want %d, %q", tc.args, code, errs, tc.code, tc.err)
		}
	}
}

func TestParseAuditSince(t *testing.T) {
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90m":                  now.Add(-90 * time.Minute),
		"2026-12-01T10:00:00Z": time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		"2026-12-01":           time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local),
		"2026-12-01 14:30":     time.Date(2026, 12, 1, 14, 30, 0, 0, time.Local),
	} {
		if got, err := parseAuditSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
}
