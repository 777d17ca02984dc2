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
	for _, e := range []feed.Event{
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
	} {
		if err := cl.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	var out string
	waitFor(t, "four calls in ls", func() bool {
		code, o, errs := calltop(t, "ls", "--nats", url)
		if code != 0 {
			t.Fatalf("ls: exit %d: %s", code, errs)
		}
		out = o
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
