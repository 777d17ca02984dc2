package tui

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/calltop/calltop/feed"
)

// GPT-Live sessions beside Realtime calls: the fixture of the tests below
// and of TestGoldenLive.
//
// lena's session has run for 65 s, of which OpenAI bills 61.25 s, with a
// delegated backend; nico's was created 5 s ago and has not run (OpenAI
// bills 15 s until it does); sip is a SIP call answered on the Live API,
// whose rtc_ id does not say so (its agent does); olga's was closed by
// OpenAI for its content.
func liveLena(now time.Time) call {
	return call{id: "live_u1_Lx4mQ9aZpR2sT7vW1yB3cD5eF8gH0jK", user: "lena@example.com", model: "gpt-live-1", agent: "api-eu-1",
		api: feed.APILive, started: now.Add(-65 * time.Second),
		full: &feed.Usage{LiveSeconds: 61.25, StandbySeconds: 3.5, Seconds: 65, CostUSD: 0.053,
			BackendTokens: feed.Tokens{Total: 1500, Input: 1200, InputCached: 1024, Output: 300, InputText: 1200, CachedText: 1024, OutputText: 300},
			BackendUSD:    0.0021}}
}

func liveNico(now time.Time) call {
	return call{id: "live_u1_Nc0new0session0not0yet0run000000", user: "nico@example.com", model: "gpt-live-1", agent: "api-eu-1",
		api: feed.APILive, started: now.Add(-5 * time.Second), full: &feed.Usage{CostUSD: 0.0125}}
}

func liveSIP(now time.Time) call {
	return call{id: "rtc_u1_SIPonLive0000000000000000000000000", user: "+15550100@sip.example", model: "gpt-live-1", agent: "api-eu-1",
		api: feed.APILive, started: now.Add(-3 * time.Minute), full: &feed.Usage{LiveSeconds: 170, Seconds: 180, CostUSD: 0.15}}
}

func liveOlga(now time.Time) call {
	return call{id: "live_u1_0lga0closed0for0its0content00000", user: "olga@example.net", model: "gpt-live-1", agent: "api-eu-1",
		api: feed.APILive, started: now.Add(-2 * time.Minute), full: &feed.Usage{LiveSeconds: 48, Seconds: 50, CostUSD: 0.04}}
}

// liveEvents are a Live session's events: its session expires two hours
// after its start, and its usage grew in two steps (so the timeline shows
// what the second added).
func liveEvents(c call) []feed.Event {
	evs := callEvents(c)
	evs[1].Session.ExpiresAt = c.started.Add(feed.MaxCallLife)
	if u := c.full; u.LiveSeconds > 0 {
		first := *u
		first.LiveSeconds, first.CostUSD = u.LiveSeconds-12, u.CostUSD-0.01
		evs[2].Usage = &first
		evs = append(evs, feed.Event{V: feed.Version, Kind: feed.KindUsage, CallID: c.id, Seq: 4, At: c.started.Add(time.Minute),
			Agent: c.agent, Usage: c.usage()})
	}
	return evs
}

// liveFixture is Realtime calls and Live sessions side by side.
func liveFixture(now time.Time) []feed.Event {
	var evs []feed.Event
	for _, c := range []call{alice.at(now.Add(-90 * time.Second)), bob.at(now.Add(-40 * time.Second)), carol.at(now.Add(-20 * time.Second))} {
		c.agent = "api-eu-1"
		evs = append(evs, callEvents(c)...)
	}
	for _, c := range []call{liveLena(now), liveNico(now), liveSIP(now), liveOlga(now)} {
		evs = append(evs, liveEvents(c)...)
	}
	olga := liveOlga(now)
	evs = append(evs, endedEvent(olga, feed.ReasonContent, "", "session.closed content", now.Add(-30*time.Second)),
		agentBeat("api-eu-1", now.Add(-time.Second), 6, 0, 0, time.Time{}))
	return evs
}

// TestLiveRowsInTheTable: a Live row says "live" in API, shows a dash in
// every token column (not 0), and its cost and $/MIN like any call; a SIP
// session on Live is Live by its agent's word. Sorting by tokens puts the
// Live rows after every Realtime count, even 0, and before them reversed.
func TestLiveRowsInTheTable(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	m, _ := newUnitModel(t, clk, 200, 30)
	m.Update(eventsMsg{events: liveFixture(now)})
	s := plain(m)
	for id, want := range map[string]string{
		alice.id:           "alice@acme.io rt gpt-realtime live 1m30s 12,345 6,789 19,134 $0.42 $0.28",
		liveLena(now).id:   "lena@example.com live gpt-live-1 live 1m05s - - - $0.05 $0.05",
		liveNico(now).id:   "nico@example.com live gpt-live-1 live 5s - - - $0.01 -",
		liveSIP(now).id:    "+15550100@sip.example live gpt-live-1 live 3m00s - - - $0.15 $0.05",
		liveOlga(now).id:   "olga@example.net live gpt-live-1 ended content 1m30s - - - $0.04 $0.03 OpenAI safety filter",
		carol.id:           "carol rt gpt-4o-realtime-preview live 20s 10 20 30 ? ?",
		"rtc_u0_E6mH7YwmY": "bob@example.com rt gpt-realtime-mini live 40s 250k 1.5M 1.7M $3.50 $5.25",
	} {
		if got := squash(strings.NewReplacer("↑", "", "↓", "").Replace(rowOf(s, id[:min(20, len(id))]))); !strings.Contains(got, want) {
			t.Errorf("row of %s:\n got %q\nwant %q", id, got, want)
		}
	}
	if !strings.Contains(s, "API") {
		t.Errorf("no API column at 200:\n%s", s)
	}

	order := func() []string {
		var out []string
		for i := range m.rows.Len() {
			out = append(out, m.rows.At(i).call.ID)
		}
		return out
	}
	isLive := func(id string) bool { x, _ := m.rows.row(id); return liveAPI(&x.call) }
	check := func(name string, liveFirst bool) {
		t.Helper()
		ids := order()
		seenOther := false
		for _, id := range ids {
			x, _ := m.rows.row(id)
			if !x.live {
				continue // ended rows stay below, whatever the sort
			}
			if isLive(id) != liveFirst {
				seenOther = true
			} else if seenOther {
				t.Errorf("%s: a %v row after the others: %v", name, liveFirst, ids)
				return
			}
		}
	}
	// A Realtime call that has not spoken yet: 0 tokens, still a count.
	dora := call{id: "rtc_u1_D0ra0000000000000000000000000000000", user: "dora@example.com", model: "gpt-realtime", agent: "api-eu-1",
		started: now.Add(-time.Second)}
	m.Update(events(now, dora))
	press(m, "T")
	if !strings.Contains(plain(m), "TOKENS↓") {
		t.Fatalf("T does not sort by tokens:\n%s", plain(m))
	}
	check("tokens, largest first: Live after Realtime", false)
	press(m, "T")
	check("tokens, smallest first: Live before Realtime", true)
}

// TestTokensPerSecondCountsRealtimeOnly: tokens/s adds Realtime tokens;
// a Live session's are none, even should its agent send some.
func TestTokensPerSecondCountsRealtimeOnly(t *testing.T) {
	now := newClock().Now()
	mt := newMeter()
	odd := feed.Call{ID: "live_u1_x", API: feed.APILive, User: "u", State: feed.StateLive, StartedAt: now.Add(-time.Second),
		Usage: feed.Usage{Tokens: feed.Tokens{Total: 5000}, CostUSD: 0.01}}
	mt.observe(&feed.Call{}, false, &odd, now)
	later := odd
	later.Usage.Tokens.Total = 9000
	mt.observe(&odd, true, &later, now)
	if got := mt.tokensPerSecond(now); got != 0 {
		t.Errorf("a Live session adds %v tok/s", got)
	}
	rt := feed.Call{ID: "rtc_u1_x", User: "u", State: feed.StateLive, StartedAt: now.Add(-time.Second), Usage: feed.Usage{Tokens: feed.Tokens{Total: 500}}}
	mt.observe(&feed.Call{}, false, &rt, now)
	if got := mt.tokensPerSecond(now); got <= 0 {
		t.Errorf("a Realtime call adds %v tok/s", got)
	}
}

// TestFilterByAPI: api:live keeps the Live sessions, api:rt (or
// api:realtime) the Realtime calls, !api:live the others; a filter may
// follow it; a name is taken as it is typed; an unknown one says so.
// "live" alone is still the state.
func TestFilterByAPI(t *testing.T) {
	rt := feed.Call{ID: "rtc_u1_ABC", User: "alice@acme.io", Model: "gpt-realtime", State: feed.StateLive}
	lv := feed.Call{ID: "live_u1_DEF", User: "alice@acme.io", Model: "gpt-live-1", API: feed.APILive, State: feed.StateEnded,
		End: feed.End{Reason: feed.ReasonContent}}
	for _, tc := range []struct {
		f      string
		rt, lv bool
	}{
		{"api:live", false, true},
		{"API:Live", false, true},
		{"api:l", false, true}, // as it is typed
		{"api:gpt-live", false, true},
		{"api:rt", true, false},
		{"api:realtime", true, false},
		{"api:r", true, false},
		{"!api:live", true, false},
		{"api:live alice", false, true},
		{"api:live !ended", false, false},
		{"api:rt !ended", true, false},
		{"!api:rt ended content", false, true},
		{"api:live re:^live_u1_", false, true},
		{"api:live re:", false, true},
		{"api:", true, true},
	} {
		f, err := parseFilter(tc.f)
		if err != nil {
			t.Errorf("%q: %v", tc.f, err)
			continue
		}
		if got := f.matches(haystack(&rt), rt.Kind()); got != tc.rt {
			t.Errorf("%q on a Realtime call = %v", tc.f, got)
		}
		if got := f.matches(haystack(&lv), lv.Kind()); got != tc.lv {
			t.Errorf("%q on a Live session = %v", tc.f, got)
		}
	}
	// "live" alone is the state (and words of the ID, user, model): not
	// the API, or it would match every ended Live session.
	sip := feed.Call{ID: "rtc_u1_SIP", User: "+15550100", API: feed.APILive, State: feed.StateEnded}
	if f, _ := parseFilter("live"); f.matches(haystack(&sip), sip.Kind()) {
		t.Error(`"live" matches an ended Live session by its API`)
	}
	if _, err := parseFilter("api:sip"); err == nil || !strings.Contains(err.Error(), `no API "sip"`) {
		t.Errorf("api:sip: %v", err)
	}

	clk := newClock()
	m, _ := newUnitModel(t, clk, 160, 30)
	m.Update(eventsMsg{events: liveFixture(clk.Now())})
	press(m, "/")
	typeText(m, "api:live")
	press(m, "enter")
	s := plain(m)
	if !strings.Contains(s, "4/7 shown") || strings.Contains(s, alice.id) || !strings.Contains(s, liveSIP(clk.Now()).id[:20]) {
		t.Errorf("api:live:\n%s", s)
	}
}

// TestLiveDetail: a Live session's detail gives OpenAI's billed seconds
// (not the wall clock's), standby, the backend's tokens and cost, and its
// two-hour cap; one that has not run says OpenAI bills 15 s meanwhile;
// one closed for its content says so. The timeline counts seconds.
func TestLiveDetail(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	m, _ := newUnitModel(t, clk, 100, 40)
	m.Update(eventsMsg{events: liveFixture(now)})
	open := func(id string) string {
		t.Helper()
		m.detail, m.view = detailState{id: id, from: viewCalls}, viewDetail
		return plain(m)
	}
	s := open(liveLena(now).id)
	for _, want := range []string{
		"user lena@example.com · model gpt-live-1 · api live · agent api-eu-1",
		"Usage  GPT-Live, billed by the second",
		"billed   61.2 s (1m01s)  OpenAI's count",
		"standby  3.5 s",
		"backend  1,500 tok: in 1,200 (cached 1,024) · out 300 · <$0.01",
		"cost $0.05 so far, 1m05s, $0.05/min",
		"wall 1m05s",
		"expires in 1h58m (at 13:58:55)",
		"usage     +$0.01 +12.0 s billed",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lena's detail lacks %q:\n%s", want, s)
		}
	}
	for _, not := range []string{"uncached", "60-min cap", "tok\n"} {
		if strings.Contains(s, not) {
			t.Errorf("lena's detail shows %q:\n%s", not, s)
		}
	}
	if s := open(liveNico(now).id); !strings.Contains(s, "billed   not yet run (15 s minimum billed)") || !strings.Contains(s, "backend  none") {
		t.Errorf("nico's detail:\n%s", s)
	}
	if s := open(liveOlga(now).id); !strings.Contains(s, "ended: content (OpenAI safety filter) · session.closed content") ||
		!strings.Contains(s, "billed   48.0 s") || strings.Contains(s, "not yet run") ||
		!strings.Contains(s, "ended     no new seconds · content (OpenAI safety filter): session.closed content") {
		t.Errorf("olga's detail:\n%s", s)
	}
	// A Realtime call's detail is as it was.
	if s := open(alice.id); !strings.Contains(s, "uncached") || strings.Contains(s, "api ") || !strings.Contains(s, "60-min cap") {
		t.Errorf("alice's detail:\n%s", s)
	}
}

// TestLiveHistory: the History says which API, gives a Live session no
// token count, and explains "content".
func TestLiveHistory(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	m, _ := newUnitModel(t, clk, 160, 30)
	m.Update(eventsMsg{events: liveFixture(now)})
	m.Update(eventsMsg{events: []feed.Event{endedEvent(alice.at(now.Add(-90*time.Second)), feed.ReasonHangup, "", "", now)}})
	press(m, "h")
	s := plain(m)
	if got := squash(rowOf(s, "live_u1_0lga")); !strings.Contains(got, "olga@example.net live content OpenAI safety filter: session.closed co… 1m30s - $0.04") {
		t.Errorf("olga's history row: %q\n%s", got, s)
	}
	if got := squash(rowOf(s, alice.id)); !strings.Contains(got, "alice@acme.io rt hangup 1m30s 19,134 $0.42") {
		t.Errorf("alice's history row: %q", got)
	}
	if got := alreadyEnded(*mustCall(t, m, liveOlga(now).id)); got != "live_u1_0lga0closed… has already ended (content: OpenAI safety filter)" {
		t.Errorf("alreadyEnded = %q", got)
	}
}

func mustCall(t *testing.T, m *Model, id string) *feed.Call {
	t.Helper()
	c, ok := m.rows.Get(id)
	if !ok {
		t.Fatalf("no call %s", id)
	}
	return &c
}

// TestTimelineRecordStaysSmall: the Live flag took padding, not a word.
func TestTimelineRecordStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(momentRec{}); n != 40 {
		t.Errorf("momentRec is %d bytes, want 40", n)
	}
}

// TestLiveCells: a Live row's API and token cells fill their widths (a
// dash right-aligned, TOKENS keeping its mark's cell) without allocating,
// like a Realtime row's API cell: they are drawn for every visible row of
// every frame.
func TestLiveCells(t *testing.T) {
	lv := &row{call: feed.Call{ID: "live_u1_x", API: feed.APILive, State: feed.StateLive,
		Usage: feed.Usage{Tokens: feed.Tokens{Total: 99}}}} // tokens a Live agent should not send: not shown
	rt := &row{call: feed.Call{ID: "rtc_u1_x", State: feed.StateLive}}
	rc := rowCtx{now: t0}
	for _, tc := range []struct {
		x     *row
		id    colID
		width int
		want  string
	}{
		{lv, colAPI, 4, "live"}, {rt, colAPI, 4, "rt  "},
		{lv, colTokensIn, 6, "     -"}, {lv, colTokensOut, 6, "     -"}, {lv, colTokens, 7, "     - "},
		{lv, colTokens, 40, strings.Repeat(" ", 38) + "- "}, // wider than the constant
	} {
		if got, _ := cellText(tc.id, tc.x, rc, tc.width); got != tc.want {
			t.Errorf("%s cell %d = %q, want %q", tc.x.call.ID, tc.id, got, tc.want)
		}
		if tc.width > 32 {
			continue
		}
		if n := testing.AllocsPerRun(50, func() { cellText(tc.id, tc.x, rc, tc.width) }); n != 0 {
			t.Errorf("%s cell %d allocates %v times", tc.x.call.ID, tc.id, n)
		}
	}
}
