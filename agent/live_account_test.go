package agent

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

func liveAccount(webrtc bool) *account {
	a := newAccount(DefaultPrices())
	a.live, a.webrtc = true, webrtc
	return a
}

// TestLiveUsageIsCumulative: usage.seconds is the total so far, never
// summed; a lower or repeated figure changes nothing; session.closed's
// figure is final.
func TestLiveUsageIsCumulative(t *testing.T) {
	a := liveAccount(true)
	now := time.Now()
	frames := []string{
		`{"type":"session.started","event_id":"ev_1","session":{"id":"live_u1_x","object":"live.session","model":"gpt-live-1","expires_at":1800000000}}`,
		`{"type":"session.usage.updated","event_id":"ev_2","usage":{"seconds":1.5}}`,
		`{"type":"session.usage.updated","event_id":"ev_3","usage":{"seconds":3.25},"context_window":{"used":10}}`,
		`{"type":"session.usage.updated","event_id":"ev_4","usage":{"seconds":2}}`,
		`{"type":"session.usage.updated","event_id":"ev_5","usage":{"seconds":3.25}}`,
	}
	var all change
	for _, f := range frames {
		ch, err := a.apply([]byte(f), now)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all |= ch
	}
	if a.usage.LiveSeconds != 3.25 {
		t.Errorf("live seconds %v, want 3.25 (the latest, not a sum)", a.usage.LiveSeconds)
	}
	if a.session.SessionID != "live_u1_x" || a.session.Model != "gpt-live-1" || a.session.ExpiresAt.Unix() != 1800000000 {
		t.Errorf("session %+v", a.session)
	}
	if all&changedSession == 0 || all&changedMeter == 0 || all&sawClosed != 0 {
		t.Errorf("changes %b", all)
	}
	ch, err := a.apply([]byte(`{"type":"session.closed","event_id":"ev_9","reason":"remote_hangup","session":{"id":"live_u1_x","model":"gpt-live-1"},"usage":{"seconds":3.1}}`), now)
	if err != nil || ch&sawClosed == 0 || a.closed != "remote_hangup" || a.usage.LiveSeconds != 3.1 {
		t.Errorf("closed: %b %v %q %v", ch, err, a.closed, a.usage.LiveSeconds)
	}
}

// TestLiveReflectedAudioIsSkipped: reflected audio changes nothing and
// counts as neither unknown nor skipped; unknown types count, bad frames
// are skipped with an error.
func TestLiveReflectedAudioIsSkipped(t *testing.T) {
	a := liveAccount(true)
	pcm := base64.StdEncoding.EncodeToString(make([]byte, 960))
	for _, f := range []string{
		`{"type":"session.input_audio.append","audio":"` + pcm + `"}`,
		`{"audio":"` + pcm + `","type":"session.input_audio.append"}`,
		`{"type":"session.output_transcript.delta","event_id":"e","delta":"hi"}`,
		`{"type":"transport.ringing","event_id":"e"}`,
		`{"type":"info","event_id":"e","message":"x"}`,
	} {
		ch, err := a.apply([]byte(f), time.Now())
		if err != nil || ch != 0 {
			t.Errorf("%.60s: %b %v", f, ch, err)
		}
	}
	if a.usage.Unknown != 0 || a.usage.Skipped != 0 {
		t.Errorf("unknown %d skipped %d", a.usage.Unknown, a.usage.Skipped)
	}
	if ch, _ := a.apply([]byte(`{"type":"brand.new.thing"}`), time.Now()); ch != changedCounters || a.usage.Unknown != 1 {
		t.Errorf("unknown type: %b %d", ch, a.usage.Unknown)
	}
	for _, f := range []string{`{"type":"session.usage.updated","usage":{"seconds":"ten"}}`, `{"type":"session.closed","reason":7}`, `[1]`, `{"type":"response.event","event":{"response":{"usage":{"input_tokens":-}}}}`} {
		if _, err := a.apply([]byte(f), time.Now()); err == nil {
			t.Errorf("%s: no error", f)
		}
	}
	if a.usage.Skipped != 4 || a.usage.LiveSeconds != 0 || a.closed != "" {
		t.Errorf("after bad frames: %+v closed %q", a.usage, a.closed)
	}
}

// TestLiveBackendUsage: the delegated Responses backend's usage is
// counted once per response, apart from the session's seconds, and
// priced by the backend model when the table has it.
func TestLiveBackendUsage(t *testing.T) {
	a := liveAccount(true)
	a.prices.Models["gpt-5.2"] = Price{TextIn: 2, TextCached: 0.2, TextOut: 8}
	done := func(id, model string, in, cached, out int) string {
		return fmt.Sprintf(`{"type":"response.event","event_id":"e","delegation_id":null,"event":{"type":"response.completed","sequence_number":9,"response":{"id":%q,"object":"response","model":%q,"status":"completed","usage":{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":%d}}}}`, id, model, in, cached, out, in+out)
	}
	for _, f := range []string{
		`{"type":"response.event","event_id":"e","event":{"type":"response.output_text.delta","delta":"x"}}`,
		done("resp_1", "gpt-5.2", 1000, 400, 100),
		done("resp_1", "gpt-5.2", 1000, 400, 100), // repeated: once
		done("resp_2", "gpt-5.2", 500, 0, 50),
		done("resp_3", "mystery-1", 10, 0, 10),
	} {
		if _, err := a.apply([]byte(f), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	bt := a.usage.BackendTokens
	if bt.Input != 1510 || bt.Output != 160 || bt.InputCached != 400 || bt.Total != 1670 || bt.InputText != 1510 {
		t.Errorf("backend tokens %+v", bt)
	}
	want := (1100*2 + 400*0.2 + 150*8) / 1e6
	if d := a.usage.BackendUSD - want; d > 1e-12 || d < -1e-12 {
		t.Errorf("backend usd %v, want %v", a.usage.BackendUSD, want)
	}
	if a.backendUnpriced != "mystery-1" {
		t.Errorf("unpriced %q", a.backendUnpriced)
	}
	if a.usage.Tokens != (feed.Tokens{}) {
		t.Errorf("backend tokens leaked into the session's tokens: %+v", a.usage.Tokens)
	}
}

// TestLiveCost: seconds at the active rate, standby at the standby rate
// over WebRTC, the 15 s creation minimum until the session has run, none
// of that over SIP.
func TestLiveCost(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name    string
		webrtc  bool
		billed  float64
		wall    time.Duration
		cost    float64
		standby float64
	}{
		{"not yet run, webrtc", true, 0, 2 * time.Second, 15.0 / 60 * 0.05, 0},
		{"not yet run, sip", false, 0, 2 * time.Second, 0, 0},
		{"a minute billed, 90 s open", true, 60, 90 * time.Second, 0.05 + 30.0/60*0.02, 30},
		{"sip, no standby", false, 60, 90 * time.Second, 0.05, 0},
	}
	for _, tc := range cases {
		a := liveAccount(tc.webrtc)
		a.usage.LiveSeconds = tc.billed
		u := a.snapshot(start.Add(tc.wall), start, "gpt-live-1")
		if u.CostUSD != feed.RoundUSD(tc.cost) || u.StandbySeconds != tc.standby || u.CostUnknown {
			t.Errorf("%s: cost %v standby %v unknown %v, want %v %v", tc.name, u.CostUSD, u.StandbySeconds, u.CostUnknown, feed.RoundUSD(tc.cost), tc.standby)
		}
	}
	a := liveAccount(true)
	if u := a.snapshot(start.Add(time.Second), start, "gpt-realtime"); !u.CostUnknown {
		t.Error("a Realtime model priced a Live session")
	}
}

// TestLiveEndReasons: every session.closed reason maps to an end reason;
// close_requested is ours when we asked.
func TestLiveEndReasons(t *testing.T) {
	now := time.Now()
	own := &feed.End{Reason: feed.ReasonPolicy, Detail: "policy:max_cost_usd", By: "policy"}
	for _, tc := range []struct {
		reason string
		own    *feed.End
		want   feed.Reason
	}{
		{"close_requested", own, feed.ReasonPolicy},
		{"close_requested", nil, feed.ReasonHangup},
		{"expired", nil, feed.ReasonExpired},
		{"content", nil, feed.ReasonContent},
		{"content", own, feed.ReasonContent},
		{"remote_hangup", nil, feed.ReasonHangup},
		{"connection_lost", nil, feed.ReasonGone},
		{"weird\x1b[2J", nil, feed.ReasonHangup},
	} {
		e := liveEnd(tc.reason, tc.own, now)
		if e.Reason != tc.want || e.EndedAt.IsZero() && tc.own == nil {
			t.Errorf("%q (own %v): %+v", tc.reason, tc.own != nil, e)
		}
		if strings.ContainsRune(e.Detail, 0x1b) {
			t.Errorf("control character in detail %q", e.Detail)
		}
	}
}

func TestAPIMismatch(t *testing.T) {
	for _, tc := range []struct {
		api   feed.API
		model string
		flag  bool
	}{
		{feed.APILive, "gpt-live-1", false},
		{feed.APILive, "gpt-realtime", true},
		{feed.APIRealtime, "gpt-live-1", true},
		{feed.APIRealtime, "gpt-realtime-2", false},
		{feed.APIRealtime, "", false},
	} {
		if f := apiMismatch(tc.api, tc.model, "x"); (f != nil) != tc.flag {
			t.Errorf("%s %s: %+v", tc.api, tc.model, f)
		}
	}
}
