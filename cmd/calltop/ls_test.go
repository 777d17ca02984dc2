package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

// TestLsShowsDetachedCallsAndTheirAgents: the text table says how long a
// call has been detached and whether its agent still runs; --json keeps
// its fields as they are.
func TestLsShowsDetachedCallsAndTheirAgents(t *testing.T) {
	url, cl := runNATS(t)
	now := time.Now().UTC()
	started := func(id, agent string) feed.Event {
		return feed.Event{Kind: feed.KindStarted, CallID: id, Term: 1, Seq: 1, At: now.Add(-time.Minute), Agent: agent,
			Start: &feed.Start{User: "user of " + agent, StartedAt: now.Add(-time.Minute)}}
	}
	hb := func(agent string, at time.Time) feed.Event {
		return feed.Event{Kind: feed.KindHeartbeat, At: at, Agent: agent, Heartbeat: &feed.Heartbeat{Calls: 1, StartedAt: at.Add(-time.Hour)}}
	}
	publish(t, cl, []feed.Event{
		started("rtc_detached", "api-1"),
		{Kind: feed.KindSideband, CallID: "rtc_detached", Term: 1, Seq: 2, At: now.Add(-12 * time.Second), Agent: "api-1",
			Sideband: &feed.Sideband{State: feed.SidebandDetached, Since: now.Add(-12 * time.Second), Detail: "attach: HTTP 503"}},
		started("rtc_silent", "api-2"),
		started("rtc_left", "api-3"),
		started("rtc_old", "api-old"), // an agent that sends no heartbeats
		hb("api-1", now),
		hb("api-2", now.Add(-time.Minute)),
		hb("api-3", now.Add(-10*time.Second)),
		{Kind: feed.KindGoodbye, At: now.Add(-5 * time.Second), Agent: "api-3", Goodbye: &feed.Goodbye{Instance: "i3", Calls: 1}},
	})
	out := lsUntil(t, url, "four calls in ls", func(out string) bool {
		return strings.Count(out, "rtc_") == 4 && strings.Contains(out, "(left)")
	})
	if !strings.HasPrefix(out, "CALL ") || !regexp.MustCompile(`STATE +AGENT +SECONDS`).MatchString(out) {
		t.Errorf("no AGENT column after STATE:\n%s", out)
	}
	for id, want := range map[string]string{
		"rtc_detached": `detached (1[2-9]|[2-5]\d)s +api-1 +\d`, // ls runs within seconds
		"rtc_silent":   `live +api-2 \(silent\) +\d`,
		"rtc_left":     `live +api-3 \(left\) +\d`,
		"rtc_old":      `live +api-old +\d`,
	} {
		if line := lineOf(out, id); !regexp.MustCompile(want).MatchString(line) {
			t.Errorf("ls row of %s = %q, want it to match %q", id, line, want)
		}
	}
	s := lsJSON(t, url)["rtc_detached"]
	if s.State != feed.StateDetached || s.DetachedSince == nil || s.DetachDetail != "attach: HTTP 503" || s.Agent != "api-1" {
		t.Errorf("ls --json of the detached call = %+v", s)
	}
}

func lineOf(out, sub string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestLsShowsTheAPI: the text table says which API each call runs on (a
// SIP call answered on Live keeps its rtc_ id: its agent says), gives a
// Live session "-" for tokens, since it is billed by the second, and
// explains the content end reason; --json gives the API and the Live
// session's billed seconds and backend tokens.
func TestLsShowsTheAPI(t *testing.T) {
	url, cl := runNATS(t)
	now := time.Now().UTC()
	started := now.Add(-time.Minute)
	start := func(id string, api feed.API) feed.Event {
		return feed.Event{Kind: feed.KindStarted, CallID: id, Term: 1, Seq: 1, At: started, Agent: "api-1",
			Start: &feed.Start{User: "user of " + id, Model: "gpt-live-1", StartedAt: started, API: api}}
	}
	backend := feed.Tokens{Total: 1500, Input: 1200, InputCached: 1024, Output: 300, InputText: 1200, CachedText: 1024, OutputText: 300}
	publish(t, cl, []feed.Event{
		start("rtc_rt", ""),
		{Kind: feed.KindUsage, CallID: "rtc_rt", Term: 1, Seq: 2, At: now, Agent: "api-1",
			Usage: &feed.Usage{Tokens: feed.Tokens{Total: 1700, Input: 1234, Output: 466}, CostUSD: 0.02}},
		start("live_u1_a", feed.APILive),
		{Kind: feed.KindUsage, CallID: "live_u1_a", Term: 1, Seq: 2, At: now, Agent: "api-1",
			Usage: &feed.Usage{LiveSeconds: 57.5, StandbySeconds: 2.5, BackendTokens: backend, BackendUSD: 0.002, CostUSD: 0.05}},
		start("rtc_sip_on_live", feed.APILive),
		start("live_u1_closed", feed.APILive),
		{Kind: feed.KindEnded, CallID: "live_u1_closed", Term: 1, Seq: 2, At: now, Agent: "api-1", Usage: &feed.Usage{LiveSeconds: 40, CostUSD: 0.03},
			End: &feed.End{Reason: feed.ReasonContent, Detail: "session.closed content", EndedAt: now}},
	})
	out := lsUntil(t, url, "four calls in ls", func(out string) bool {
		return strings.Count(out, "\n") == 5 && strings.Contains(out, "content")
	})
	if !regexp.MustCompile(`^CALL +USER +API +MODEL +STATE`).MatchString(out) {
		t.Errorf("no API column after USER:\n%s", out)
	}
	for id, want := range map[string]string{
		"rtc_rt":          `^rtc_rt +user of rtc_rt +rt +gpt-live-1 +live +api-1 +\d+ +1234 +466 +\$0\.0200 *$`,
		"live_u1_a":       `^live_u1_a +user of live_u1_a +live +gpt-live-1 +live +api-1 +\d+ +- +- +\$0\.0500 *$`,
		"rtc_sip_on_live": `^rtc_sip_on_live +user of rtc_sip_on_live +live +`,
		"live_u1_closed":  `^live_u1_closed +user of live_u1_closed +live +gpt-live-1 +ended +api-1 +\d+ +- +- +\$0\.0300 +content \(OpenAI safety filter\) *$`,
	} {
		if line := lineOf(out, id+" "); !regexp.MustCompile(want).MatchString(line) {
			t.Errorf("ls row of %s = %q, want it to match %q", id, line, want)
		}
	}
	js := lsJSON(t, url)
	for id, want := range map[string]feed.API{"rtc_rt": feed.APIRealtime, "live_u1_a": feed.APILive, "rtc_sip_on_live": feed.APILive, "live_u1_closed": feed.APILive} {
		if got := js[id].API; got != want {
			t.Errorf("ls --json %s: api %q, want %q", id, got, want)
		}
	}
	if s := js["live_u1_a"]; s.LiveSeconds != 57.5 || s.StandbySeconds != 2.5 || s.BackendTokens == nil || *s.BackendTokens != backend || s.Tokens != (feed.Tokens{}) {
		t.Errorf("ls --json of the Live session = %+v", s)
	}
	if s := js["live_u1_closed"]; s.EndReason != feed.ReasonContent || s.LiveSeconds != 40 {
		t.Errorf("ls --json of the closed session = %+v", s)
	}
	if s := js["rtc_rt"]; s.LiveSeconds != 0 || s.BackendTokens != nil || s.Tokens.Total != 1700 {
		t.Errorf("ls --json of the Realtime call = %+v", s)
	}
	code, raw, _ := calltop(t, "ls", "--json", "--nats", url)
	if code != 0 || !strings.Contains(raw, `"api":"live"`) || !strings.Contains(raw, `"api":"realtime"`) || !strings.Contains(raw, `"live_seconds":57.5`) {
		t.Errorf("ls --json does not spell the api and live_seconds fields:\n%s", raw)
	}
}

// publish sends events as agents do and waits until NATS has them.
func publish(t *testing.T, cl *feed.Client, events []feed.Event) {
	t.Helper()
	for _, e := range events {
		if err := cl.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.NC.Flush(); err != nil {
		t.Fatal(err)
	}
}

// lsUntil runs `calltop ls` until its output satisfies done, and returns
// that output.
func lsUntil(t *testing.T, url, what string, done func(out string) bool) string {
	t.Helper()
	var out string
	waitFor(t, what, func() bool {
		code, o, errs := calltop(t, "ls", "--nats", url)
		if code != 0 {
			t.Fatalf("ls: exit %d: %s", code, errs)
		}
		out = o
		return done(out)
	})
	return out
}
