package feed

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func started(id string, seq uint64, user string) Event {
	return Event{V: Version, Kind: KindStarted, CallID: id, Seq: seq, At: t0, Agent: "a1", Start: &Start{User: user, StartedAt: t0}}
}

func usage(id string, seq uint64, total int64, cost float64) Event {
	return Event{V: Version, Kind: KindUsage, CallID: id, Seq: seq, At: t0.Add(time.Duration(seq) * time.Second),
		Usage: &Usage{Tokens: Tokens{Total: total, Input: total / 2, Output: total - total/2}, Responses: int(seq), CostUSD: cost}}
}

func ended(id string, seq uint64, reason Reason, total int64, cost float64) Event {
	e := usage(id, seq, total, cost)
	e.Kind = KindEnded
	e.End = &End{Reason: reason, By: "op@host", EndedAt: t0.Add(time.Minute)}
	return e
}

func TestBoardFoldsInOrder(t *testing.T) {
	b := NewBoard(0)
	b.Apply(started("rtc_a", 1, "alice"))
	b.Apply(Event{V: Version, Kind: KindSession, CallID: "rtc_a", Seq: 2, Session: &Session{SessionID: "sess_a", Model: "gpt-realtime", ExpiresAt: t0.Add(time.Hour)}})
	b.Apply(usage("rtc_a", 3, 100, 0.01))
	b.Apply(usage("rtc_a", 4, 250, 0.03))
	c, ok := b.Get("rtc_a")
	if !ok || c.User != "alice" || c.Model != "gpt-realtime" || c.SessionID != "sess_a" || c.Usage.Tokens.Total != 250 || c.Usage.CostUSD != 0.03 || !c.Live() {
		t.Fatalf("call = %+v", c)
	}
	if !c.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("expires = %v", c.ExpiresAt)
	}
}

func TestBoardReorderAndDuplicates(t *testing.T) {
	b := NewBoard(0)
	// Newest first, then stale usage and a duplicate: totals must stay newest.
	b.Apply(usage("rtc_a", 5, 500, 0.05))
	if b.Apply(usage("rtc_a", 3, 300, 0.03)) {
		t.Error("stale usage reported a change")
	}
	if b.Apply(usage("rtc_a", 5, 500, 0.05)) {
		t.Error("duplicate reported a change")
	}
	b.Apply(started("rtc_a", 1, "bob"))
	c, _ := b.Get("rtc_a")
	if c.Usage.Tokens.Total != 500 || c.User != "bob" || c.UsageSeq != 5 || c.Seq != 5 {
		t.Fatalf("call = %+v", c)
	}
}

func TestBoardEndedIsTerminal(t *testing.T) {
	b := NewBoard(time.Minute)
	b.Apply(started("rtc_a", 1, "alice"))
	b.Apply(ended("rtc_a", 6, ReasonOperator, 900, 0.09))
	// A usage event delayed past the end must not revive the call or lower its totals.
	b.Apply(usage("rtc_a", 5, 800, 0.08))
	b.Apply(started("rtc_a", 1, "alice"))
	c, _ := b.Get("rtc_a")
	if c.Live() || c.End.Reason != ReasonOperator || c.End.By != "op@host" || c.Usage.Tokens.Total != 900 {
		t.Fatalf("call = %+v", c)
	}
	if got := c.Seconds(t0.Add(time.Hour)); got != 60 {
		t.Fatalf("ended call seconds = %v, want 60 (frozen at its end)", got)
	}
	if n := b.Prune(t0.Add(90 * time.Second)); n != 0 {
		t.Fatalf("pruned %d before retention", n)
	}
	if n := b.Prune(t0.Add(3 * time.Minute)); n != 1 || b.Len() != 0 {
		t.Fatalf("pruned %d, len %d", n, b.Len())
	}
}

func TestBoardLostStartedUsesEventTime(t *testing.T) {
	b := NewBoard(0)
	b.Apply(usage("rtc_a", 3, 10, 0))
	c, _ := b.Get("rtc_a")
	if c.StartedAt.IsZero() || !c.Live() {
		t.Fatalf("call = %+v", c)
	}
}

func TestBoardIgnoresOtherVersions(t *testing.T) {
	b := NewBoard(0)
	e := usage("rtc_a", 1, 1, 0)
	e.V = VersionCompact + 1
	if b.Apply(e) || b.Len() != 0 {
		t.Fatal("applied an event of another schema version")
	}
}

func TestBoardTotalsAndOrder(t *testing.T) {
	b := NewBoard(0)
	b.Apply(started("rtc_b", 1, "bob"))
	b.Apply(usage("rtc_b", 2, 100, 1.20))
	b.Apply(started("rtc_a", 1, "alice"))
	b.Apply(ended("rtc_a", 2, ReasonHangup, 50, 0.30))
	now := t0.Add(2 * time.Minute)
	tot := b.Totals(now)
	if tot.Live != 1 || tot.Ended != 1 || tot.Tokens != 150 || tot.CostUSD < 1.4999 || tot.CostUSD > 1.5001 {
		t.Fatalf("totals = %+v", tot)
	}
	if tot.PerMinute < 0.5999 || tot.PerMinute > 0.6001 { // $1.20 over 2 minutes
		t.Fatalf("per minute = %v", tot.PerMinute)
	}
	calls := b.Calls()
	if len(calls) != 2 || calls[0].ID != "rtc_b" || calls[1].ID != "rtc_a" {
		t.Fatalf("order = %v, %v: live first", calls[0].ID, calls[1].ID)
	}
	s := calls[1].Summarize(now)
	if s.State != StateEnded || s.EndReason != ReasonHangup || s.EndedAt == nil || s.Seconds != 60 || s.Tokens.Total != 50 {
		t.Fatalf("summary = %+v", s)
	}
}

func TestBoardPrunedCallStaysGone(t *testing.T) {
	b := NewBoard(time.Minute)
	b.Apply(started("rtc_a", 1, "alice"))
	b.Apply(ended("rtc_a", 2, ReasonHangup, 10, 0))
	b.Prune(t0.Add(10 * time.Minute))
	if b.Apply(usage("rtc_a", 1, 5, 0)) || b.Apply(started("rtc_a", 1, "alice")) || b.Len() != 0 {
		t.Fatal("a straggler revived a pruned call")
	}
}

func TestBoardSignalsAgentsWarningsFlags(t *testing.T) {
	b := NewBoard(0)
	pol := &EffectivePolicy{MaxSeconds: 600, WarnAt: 0.8}
	st := started("rtc_a", 1, "alice")
	st.Policy = pol
	b.Apply(st)
	w := Event{V: Version, Kind: KindWarning, CallID: "rtc_a", Seq: 2, Warning: &Warning{Limit: LimitSeconds, Used: 480, Max: 600}}
	b.Apply(w)
	w.Seq, w.Warning = 3, &Warning{Limit: LimitSeconds, Used: 500, Max: 600}
	b.Apply(w)
	f := Event{V: Version, Kind: KindFlag, CallID: "rtc_a", Seq: 4, Flag: &Flag{Kind: FlagBurnRate, Evidence: map[string]string{"usd_per_min": "2"}}}
	b.Apply(f)
	f.Seq = 5
	if b.Apply(f) && len(b.calls["rtc_a"].Flags) != 1 {
		t.Fatal("a repeated flag kind was added twice")
	}
	c, _ := b.Get("rtc_a")
	if c.Policy == nil || c.Policy.MaxSeconds != 600 || len(c.Warnings) != 1 || c.Warnings[0].Used != 500 || len(c.Flags) != 1 {
		t.Fatalf("call = %+v", c)
	}

	hb := Event{V: Version, Kind: KindHeartbeat, Agent: "web-1", At: t0, Heartbeat: &Heartbeat{Calls: 3, StartedAt: t0}}
	b.Apply(hb)
	hb.At, hb.Heartbeat = t0.Add(5*time.Second), &Heartbeat{Calls: 4, StartedAt: t0}
	b.Apply(hb)
	stale := hb
	stale.At, stale.Heartbeat = t0, &Heartbeat{Calls: 1}
	b.Apply(stale)
	a, ok := b.Agent("web-1")
	if !ok || a.Calls != 4 || a.Silent(t0.Add(10*time.Second)) || !a.Silent(t0.Add(time.Minute)) {
		t.Fatalf("agent = %+v", a)
	}

	ref := Event{V: Version, Kind: KindRefused, User: "carol", At: t0, Refusal: &Refusal{Mode: "relay", Status: 402, Reason: "credits"}}
	if !b.Apply(ref) || b.Apply(ref) {
		t.Fatal("refusal: first apply must change, a replay must not")
	}
	if got := b.Signals(); len(got) != 1 || got[0].User != "carol" || b.Len() != 1 {
		t.Fatalf("signals = %+v, calls = %d", got, b.Len())
	}
}

func TestSubjectsOf(t *testing.T) {
	s := Subjects{}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: KindUsage, CallID: "rtc_1"}, "calltop.v1.call.rtc_1.usage"},
		{Event{Kind: KindFlag, CallID: "rtc_1"}, "calltop.v1.call.rtc_1.flag"},
		{Event{Kind: KindFlag, User: "a.b@c.d"}, "calltop.v1.user." + UserKey("a.b@c.d") + ".flag"},
		{Event{Kind: KindHeartbeat, Agent: "web-1.eu"}, "calltop.v1.agent.web-1_eu.heartbeat"},
	} {
		if got := s.Of(&tc.e); got != tc.want {
			t.Errorf("Of(%+v) = %s, want %s", tc.e, got, tc.want)
		}
	}
	if len(UserKey("x")) != 16 || UserKey("x") == UserKey("y") {
		t.Fatal("UserKey")
	}
}

// TestUserEventsNameNoCall: events about a user or an agent carry no
// call_id and no seq, as EVENTS.md says.
func TestUserEventsNameNoCall(t *testing.T) {
	c := &Client{Subjects: Subjects{}}
	for _, e := range []Event{
		{Kind: KindRefused, User: "u", Agent: "a", At: t0, Refusal: &Refusal{Mode: "relay", Status: 402, Reason: "credits"}},
		{Kind: KindFlag, User: "u", Agent: "a", At: t0, Flag: &Flag{Kind: FlagKeyUnclaimed}},
		{Kind: KindHeartbeat, Agent: "a", At: t0, Heartbeat: &Heartbeat{Calls: 1}},
	} {
		msg, err := c.Message(e)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(msg.Data); strings.Contains(s, `"call_id"`) || strings.Contains(s, `"seq"`) || strings.Contains(s, `"term"`) {
			t.Fatalf("%s event names a call: %s", e.Kind, s)
		}
	}
}
