package feed

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestSummaryAPI: ls --json says which API a call runs on, from its
// started event, else from its id, and gives a Live session's seconds.
func TestSummaryAPI(t *testing.T) {
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	b := NewBoard(time.Hour)
	for _, e := range []Event{
		{Kind: KindStarted, CallID: "rtc_a", Seq: 1, Term: 1, At: at, Agent: "a", Start: &Start{User: "u", StartedAt: at}},
		{Kind: KindStarted, CallID: "rtc_sip", Seq: 1, Term: 1, At: at, Agent: "a", Start: &Start{User: "u", StartedAt: at, API: APILive}},
		{Kind: KindUsage, CallID: "live_u1_x", Seq: 2, Term: 1, At: at, Usage: &Usage{LiveSeconds: 12.5, CostUSD: 0.01}},
	} {
		b.Apply(e)
	}
	want := map[string]API{"rtc_a": APIRealtime, "rtc_sip": APILive, "live_u1_x": APILive}
	for _, c := range b.Calls() {
		s := c.Summarize(at.Add(time.Minute))
		if s.API != want[c.ID] {
			t.Errorf("%s: api %q, want %q", c.ID, s.API, want[c.ID])
		}
		j, _ := json.Marshal(s)
		if !strings.Contains(string(j), `"api":"`+string(want[c.ID])+`"`) {
			t.Errorf("%s: %s", c.ID, j)
		}
		if c.ID == "live_u1_x" && s.LiveSeconds != 12.5 {
			t.Errorf("live seconds %v", s.LiveSeconds)
		}
	}
}

func TestParseAPI(t *testing.T) {
	for in, want := range map[string]API{"realtime": APIRealtime, "RT": APIRealtime, " live ": APILive, "gpt-live": APILive} {
		if got, ok := ParseAPI(in); !ok || got != want {
			t.Errorf("ParseAPI(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := ParseAPI("sip"); ok {
		t.Error("ParseAPI(sip) ok")
	}
	if APIOf("live_u1_abc") != APILive || APIOf("rtc_u1_abc") != APIRealtime {
		t.Error("APIOf")
	}
}
