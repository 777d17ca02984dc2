package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// reportRows runs `calltop report --json` with args and returns its rows
// by key.
func reportRows(t *testing.T, natsURL string, args ...string) map[string]feed.ReportRow {
	t.Helper()
	code, out, errs := calltop(t, append([]string{"report", "--json", "--nats", natsURL}, args...)...)
	if code != 0 {
		t.Fatalf("report --json %v: exit %d: %s", args, code, errs)
	}
	rows := map[string]feed.ReportRow{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r feed.ReportRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report --json line %q: %v", sc.Text(), err)
		}
		rows[r.Key] = r
	}
	return rows
}

// sums adds up calls as the report should: per key, their ls --json
// records' fields.
type sums struct {
	calls, tenths, micro, policy, operator int64
	tokens                                 feed.Tokens
}

func (s *sums) add(c feed.Summary) {
	s.calls++
	s.tenths += int64(c.Seconds*10 + 0.5)
	s.micro += feed.Micro(c.CostUSD)
	s.tokens = s.tokens.Add(c.Tokens)
	if strings.HasPrefix(string(c.EndReason), string(feed.ReasonPolicy)) {
		s.policy++
	}
	if c.EndReason == feed.ReasonOperator {
		s.operator++
	}
}

func (s sums) matches(r feed.ReportRow) bool {
	return r.Calls == s.calls && int64(r.Seconds*10+0.5) == s.tenths && feed.Micro(r.CostUSD) == s.micro && r.Tokens == s.tokens &&
		r.EndedByPolicy == s.policy && r.EndedByOperator == s.operator
}

// TestReportMatchesLs: calls on two real agents against the stand-in end
// every way (a hangup, an operator's kill, a policy's cut, a GPT-Live
// session closed), one agent dies with SIGKILL while it owns calls, which
// the other adopts, and NATS is stopped and started again on its store in
// the middle. Then `calltop report` by user, model, agent and day adds up
// to exactly what `calltop ls --json` says of each call.
func TestReportMatchesLs(t *testing.T) {
	store, addr := t.TempDir(), freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	srv, err := natsserver.Run(natsserver.Options{Port: p, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	natsURL := srv.ClientURL()
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"users":[{"match":"capped@example.com","max_seconds":"2s"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fast := []string{"--heartbeat", "250ms", "--adopt-after", "1s", "--policy", policy}
	a := startAgent(t, "agent-a", natsURL, rt, fast...)
	b := startAgent(t, "agent-b", natsURL, rt, fast...)

	call := func(c *child, user string) string {
		id := rt.NewCall(realtimetest.Script{TurnGap: 50 * time.Millisecond})
		c.track(t, id, user)
		return id
	}
	hungUp, killed, capped := call(a, "alice@example.com"), call(a, "bob@example.com"), call(a, "capped@example.com")
	adopted1, adopted2 := call(a, "alice@example.com"), call(a, "carol@example.com")
	other := call(b, "bob@example.com")
	live := rt.NewLiveSession(realtimetest.LiveScript{})
	postCall(t, b, fmt.Sprintf(`{"call_id":%q,"user":"dave@example.com","api":"live"}`, live))
	all := []string{hungUp, killed, capped, adopted1, adopted2, other, live}
	waitUntil(t, 20*time.Second, "usage on every Realtime call", func() bool {
		ls := lsJSON(t, natsURL)
		for _, id := range all[:6] {
			if ls[id].Tokens.Total == 0 {
				return false
			}
		}
		return true
	})

	// Before anything goes wrong: a hangup, a kill, a policy's cut.
	rt.EndCall(hungUp)
	if code, _, errs := calltop(t, "kill", killed, "--nats", natsURL, "--reason", "report test"); code != 0 {
		t.Fatalf("kill: exit %d: %s", code, errs)
	}
	waitUntil(t, 20*time.Second, "three calls ended", func() bool {
		ls := lsJSON(t, natsURL)
		return ls[hungUp].State == feed.StateEnded && ls[killed].State == feed.StateEnded && ls[capped].EndReason == "policy:max_seconds"
	})

	// The board replayed at a moment now: three calls ended, four live.
	var mid time.Time
	var then map[string]feed.Summary
	waitUntil(t, 10*time.Second, "the history to hold the three ends", func() bool {
		mid = time.Now()
		then = lsAtJSON(t, natsURL, mid.Format(time.RFC3339Nano))
		return then[hungUp].State == feed.StateEnded && then[killed].State == feed.StateEnded && then[capped].State == feed.StateEnded
	})

	// agent-a dies with two calls; agent-b adopts them.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	waitUntil(t, 20*time.Second, "agent-b to adopt agent-a's calls", func() bool {
		ls := lsJSON(t, natsURL)
		return ls[adopted1].Agent == "agent-b" && ls[adopted2].Agent == "agent-b" && ls[adopted1].State == feed.StateLive
	})

	// NATS stops and starts again on the same store.
	srv.Shutdown()
	srv, err = natsserver.Run(natsserver.Options{Port: p, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "agent-b back on NATS with its calls", func() bool {
		code, out, _ := calltop(t, "ls", "--json", "--nats", natsURL)
		return code == 0 && strings.Contains(out, adopted1) && strings.Contains(out, hungUp)
	})
	rt.EndCall(adopted1) // its final record waits in agent-b's outbox if NATS is not back for it yet
	waitUntil(t, 20*time.Second, "a kill through agent-b once it is back", func() bool {
		code, _, errs := calltop(t, "kill", adopted2, "--nats", natsURL)
		if code != 0 && !strings.Contains(errs, "no agent owns this call") {
			t.Fatalf("kill after the restart: exit %d: %s", code, errs)
		}
		return code == 0
	})
	rt.EndCall(other)
	waitUntil(t, 10*time.Second, "the Live session to have billed seconds", func() bool { return lsJSON(t, natsURL)[live].LiveSeconds > 0 })
	rt.CloseLiveSession(live, "")
	var ls map[string]feed.Summary
	waitUntil(t, 20*time.Second, "every call ended", func() bool {
		ls = lsJSON(t, natsURL)
		for _, id := range all {
			if ls[id].State != feed.StateEnded {
				return false
			}
		}
		return true
	})

	// The history outlived agent-a and the NATS restart: the moment
	// replays as it did then, agent-a's calls live on agent-a.
	again := lsAtJSON(t, natsURL, mid.Format(time.RFC3339Nano))
	for _, id := range all {
		if again[id].State != then[id].State || again[id].Tokens != then[id].Tokens || again[id].Agent != then[id].Agent {
			t.Errorf("ls --at %s after the restart: %s %+v, before %+v", mid, id, again[id], then[id])
		}
	}
	if then[adopted1].State != feed.StateLive || then[adopted1].Agent != "agent-a" || then[adopted1].Tokens.Total == 0 ||
		then[adopted1].Tokens.Total > ls[adopted1].Tokens.Total {
		t.Errorf("ls --at %s: %s %+v; at the end %+v", mid, adopted1, then[adopted1], ls[adopted1])
	}

	keys := map[string]func(feed.Summary) string{
		"user":  func(s feed.Summary) string { return s.User },
		"model": func(s feed.Summary) string { return s.Model },
		"agent": func(s feed.Summary) string { return s.Agent },
		"day":   func(s feed.Summary) string { return s.EndedAt.UTC().Format(time.DateOnly) },
	}
	for by, key := range keys {
		want := map[string]*sums{}
		for _, id := range all {
			k := key(ls[id])
			if want[k] == nil {
				want[k] = &sums{}
			}
			want[k].add(ls[id])
		}
		got := reportRows(t, natsURL, "--by", by)
		if len(got) != len(want) {
			t.Errorf("report by %s: %d rows, want %d: %+v", by, len(got), len(want), got)
		}
		for k, w := range want {
			if !w.matches(got[k]) {
				t.Errorf("report by %s, %q: %+v\nwant the sum of the calls' ls --json: %+v", by, k, got[k], *w)
			}
		}
	}
	users := reportRows(t, natsURL, "--by", "user", "--since", "1h")
	if users["alice@example.com"].Calls != 2 || users["bob@example.com"].EndedByOperator != 1 || users["capped@example.com"].EndedByPolicy != 1 ||
		users["carol@example.com"].EndedByOperator != 1 {
		t.Errorf("report by user: %+v", users)
	}
	d := users["dave@example.com"]
	if d.LiveSessions != 1 || d.LiveSeconds != ls[live].LiveSeconds || d.Tokens != (feed.Tokens{}) || d.CostUSD != ls[live].CostUSD {
		t.Errorf("report of the Live session: %+v; ls: %+v", d, ls[live])
	}
	if len(reportRows(t, natsURL, "--from", "-1h", "--to", "-30m")) != 0 {
		t.Error("a report of the hour before the calls is not empty")
	}
}

// postCall registers a call with an agent's API.
func postCall(t *testing.T, c *child, body string) {
	t.Helper()
	resp, err := http.Post(c.api+"/v1/calls", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/calls %s to %s: %d", body, c.name, resp.StatusCode)
	}
}

// TestReportFormats: the table has a row per group and a total, keys
// without control characters; --csv a header and a line per group; no
// records is an empty report with a note, not an error.
func TestReportFormats(t *testing.T) {
	url, cl := runNATS(t)
	code, out, errs := calltop(t, "report", "--nats", url)
	if code != 0 || !strings.Contains(errs, "no final records") || !strings.Contains(out, "TOTAL") {
		t.Fatalf("report without records: exit %d, %q, %q", code, out, errs)
	}
	if _, err := cl.EnsureFinalStream(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, user := range []string{"alice", "bob", "bob", "eve\x1b[2J"} {
		e := feed.Event{Kind: feed.KindEnded, CallID: fmt.Sprintf("rtc_%d", i), Term: 1, Seq: 5, At: now, Agent: "api-1",
			Start: &feed.Start{User: user, Model: "gpt-realtime", StartedAt: now.Add(-time.Minute)},
			Usage: &feed.Usage{Tokens: feed.Tokens{Total: 150, Input: 100, Output: 50, InputAudio: 100, OutputAudio: 50}, Seconds: 60, CostUSD: 0.25},
			End:   &feed.End{Reason: feed.ReasonHangup, EndedAt: now}}
		msg, err := cl.FinalMessage(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.NC.RequestMsg(msg, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs = calltop(t, "report", "--nats", url, "--since", "1h")
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	assertPrintable(t, "report", out)
	for _, want := range []string{`^calls that ended since .*, by user\n`, `(?m)^USER +CALLS +SECONDS +TOKENS IN +TOKENS OUT +COST +BY POLICY +BY OPERATOR *$`,
		`(?m)^bob +2 +120 +200 +100 +\$0\.5000 +0 +0 *$`, `(?m)^TOTAL +4 +240 +400 +200 +\$1\.0000 +0 +0 *$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report table does not match %s:\n%s", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); !strings.HasPrefix(lines[2], "bob ") || !strings.HasPrefix(lines[5], "TOTAL") {
		t.Errorf("report table: bob, the most expensive, not first, or no total last:\n%s", out)
	}
	code, out, _ = calltop(t, "report", "--nats", url, "--csv", "--by", "model")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 2 || recs[0][0] != "model" || recs[0][1] != "calls" || recs[1][0] != "gpt-realtime" || recs[1][1] != "4" {
		t.Errorf("report --csv: exit %d, %v: %q", code, err, recs)
	}
	if rows := reportRows(t, url, "--by", "user"); rows["eve\x1b[2J"].Calls != 1 {
		t.Errorf("report --json keeps keys as they are: %+v", rows)
	}
}

// TestReportBadFlags: a bad flag or time says what is wrong in one line
// and exits 2.
func TestReportBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--by", "week"}, `--by "week": want user, model, agent or day`},
		{[]string{"--since", "0s"}, "above zero"},
		{[]string{"--since", "yesterday"}, "bad duration"},
		{[]string{"--from", "yesterday"}, `--from "yesterday": want RFC 3339`},
		{[]string{"--from", "2026-13-01"}, "want RFC 3339"},
		{[]string{"--to", "-5x"}, `bad duration "5x"`},
		{[]string{"--from", "-1h", "--to", "-2h"}, "the period ends before it starts"},
		{[]string{"--since", "1h", "--from", "-2h"}, "--since or --from/--to, not both"},
		{[]string{"--json", "--csv"}, "--json or --csv, not both"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		code, _, errs := calltop(t, append([]string{"report"}, tc.args...)...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != 2 || !strings.Contains(first, tc.want) {
			t.Errorf("report %v: exit %d, %q; want exit 2 and %q on the first line", tc.args, code, errs, tc.want)
		}
	}
}

// TestParseWhen: the forms a time flag takes.
func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       now,
		"-15m":                      now.Add(-15 * time.Minute),
		"-1d12h":                    now.Add(-36 * time.Hour),
		"-7d":                       now.Add(-7 * 24 * time.Hour),
		"2026-12-01":                time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		"2026-12-02T14:04:05Z":      time.Date(2026, 12, 2, 14, 4, 5, 0, time.UTC),
		"2026-12-02T14:04:05+01:00": time.Date(2026, 12, 2, 13, 4, 5, 0, time.UTC),
		"2026-12-02T14:04:05.250Z":  time.Date(2026, 12, 2, 14, 4, 5, 250e6, time.UTC),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-", "-0s", "-d", "15m", "yesterday", "2026-12-02 14:04", "-1h-1h"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q): no error", bad)
		}
	}
}
