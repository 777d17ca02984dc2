package realtimetest

import (
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var eventIDRe = regexp.MustCompile(`^event_([A-Za-z0-9]{21}|[0-9a-f]{16})$`)

// wireUsage mirrors the spec's response.usage independently of the
// server's own types.
type wireUsage struct {
	TotalTokens       int64 `json:"total_tokens"`
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	InputTokenDetails struct {
		TextTokens          int64 `json:"text_tokens"`
		AudioTokens         int64 `json:"audio_tokens"`
		ImageTokens         int64 `json:"image_tokens"`
		CachedTokens        int64 `json:"cached_tokens"`
		CachedTokensDetails struct {
			TextTokens  int64 `json:"text_tokens"`
			AudioTokens int64 `json:"audio_tokens"`
			ImageTokens int64 `json:"image_tokens"`
		} `json:"cached_tokens_details"`
	} `json:"input_token_details"`
	OutputTokenDetails struct {
		TextTokens  int64 `json:"text_tokens"`
		AudioTokens int64 `json:"audio_tokens"`
	} `json:"output_token_details"`
}

type wireResponse struct {
	ID            string          `json:"id"`
	Object        string          `json:"object"`
	Status        string          `json:"status"`
	StatusDetails json.RawMessage `json:"status_details"`
	Usage         *wireUsage      `json:"usage"`
}

// tally sums what a client saw, the way an agent would, and checks each
// event's invariants on the way.
func tally(t *testing.T, evs []event) (Usage, []wireUsage) {
	t.Helper()
	got := Usage{ByStatus: map[string]int{}}
	var usages []wireUsage
	starts := map[string]int64{}
	respIDs := map[string]bool{}
	for _, ev := range evs {
		if !eventIDRe.MatchString(ev.ID) {
			t.Errorf("%s: event_id %q", ev.Type, ev.ID)
		}
		switch ev.Type {
		case "input_audio_buffer.speech_started":
			var x struct {
				AudioStartMs int64  `json:"audio_start_ms"`
				ItemID       string `json:"item_id"`
			}
			_ = json.Unmarshal(ev.raw, &x)
			starts[x.ItemID] = x.AudioStartMs
		case "input_audio_buffer.speech_stopped":
			var x struct {
				AudioEndMs int64  `json:"audio_end_ms"`
				ItemID     string `json:"item_id"`
			}
			_ = json.Unmarshal(ev.raw, &x)
			start, ok := starts[x.ItemID]
			if !ok || x.AudioEndMs <= start {
				t.Errorf("speech_stopped without a matching start: %s", ev.raw)
			}
			got.UserSpeechMs += x.AudioEndMs - start
		case "conversation.item.input_audio_transcription.completed":
			var x struct {
				Usage struct {
					Type        string  `json:"type"`
					TotalTokens int64   `json:"total_tokens"`
					Seconds     float64 `json:"seconds"`
				} `json:"usage"`
			}
			_ = json.Unmarshal(ev.raw, &x)
			switch x.Usage.Type {
			case "tokens":
				got.TranscriptionTokens += x.Usage.TotalTokens
			case "duration":
				got.TranscriptionSeconds += x.Usage.Seconds
			default:
				t.Errorf("transcription usage type %q", x.Usage.Type)
			}
		case "response.created":
			var r wireResponse
			_ = ev.field("response", &r)
			if r.Status != "in_progress" || r.Usage != nil || !strings.Contains(string(ev.raw), `"usage":null`) {
				t.Errorf("response.created: %s", ev.raw)
			}
		case "response.done":
			var r wireResponse
			if err := ev.field("response", &r); err != nil || r.Usage == nil {
				t.Fatalf("response.done: %s", ev.raw)
			}
			if !strings.HasPrefix(r.ID, "resp_") || respIDs[r.ID] || r.Object != "realtime.response" {
				t.Errorf("response id %q (dup=%v) object %q", r.ID, respIDs[r.ID], r.Object)
			}
			respIDs[r.ID] = true
			u := r.Usage
			d := u.InputTokenDetails
			c := d.CachedTokensDetails
			if u.TotalTokens != u.InputTokens+u.OutputTokens ||
				u.InputTokens != d.TextTokens+d.AudioTokens+d.ImageTokens ||
				u.OutputTokens != u.OutputTokenDetails.TextTokens+u.OutputTokenDetails.AudioTokens ||
				d.CachedTokens != c.TextTokens+c.AudioTokens+c.ImageTokens ||
				c.TextTokens > d.TextTokens || c.AudioTokens > d.AudioTokens || c.ImageTokens > d.ImageTokens {
				t.Errorf("usage invariants broken: %+v", u)
			}
			if (r.Status == "completed") != (string(r.StatusDetails) == "null") {
				t.Errorf("status %s with details %s", r.Status, r.StatusDetails)
			}
			usages = append(usages, *u)
			got.Responses++
			got.ByStatus[r.Status]++
			got.Total += u.TotalTokens
			got.Input += u.InputTokens
			got.Output += u.OutputTokens
			got.InputText += d.TextTokens
			got.InputAudio += d.AudioTokens
			got.InputImage += d.ImageTokens
			got.InputCached += d.CachedTokens
			got.CachedText += c.TextTokens
			got.CachedAudio += c.AudioTokens
			got.CachedImage += c.ImageTokens
			got.OutputText += u.OutputTokenDetails.TextTokens
			got.OutputAudio += u.OutputTokenDetails.AudioTokens
		}
	}
	return got, usages
}

func sameUsage(t *testing.T, got, want Usage) {
	t.Helper()
	gs, ws := got.TranscriptionSeconds, want.TranscriptionSeconds
	got.TranscriptionSeconds, want.TranscriptionSeconds = 0, 0
	if !reflect.DeepEqual(got, want) || math.Abs(gs-ws) > 1e-9 {
		t.Fatalf("client saw\n %+v (%.2fs)\nserver emitted\n %+v (%.2fs)", got, gs, want, ws)
	}
}

func TestScriptedCallUsageMatchesEmitted(t *testing.T) {
	s := newTestServer(t, Options{Seed: 7})
	id := s.NewCall(Script{Turns: 3, TurnGap: 2 * time.Millisecond, Transcription: "tokens", EndAfterTurns: true})
	c := attach(t, s, id)
	configure(t, c)
	evs, err := readAll(t, c)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("want close 1000 after the turns, got %v", err)
	}
	got, usages := tally(t, evs)
	if got.Responses != 3 || got.ByStatus["completed"] != 3 {
		t.Fatalf("responses %d %v", got.Responses, got.ByStatus)
	}
	sameUsage(t, got, s.Emitted(id))
	if got.TranscriptionTokens == 0 || got.UserSpeechMs == 0 || got.OutputAudio == 0 || got.OutputText == 0 {
		t.Errorf("expected non-zero usage: %+v", got)
	}
	for i := 1; i < len(usages); i++ {
		if usages[i].InputTokens <= usages[i-1].InputTokens {
			t.Errorf("input should grow turn by turn: %d then %d", usages[i-1].InputTokens, usages[i].InputTokens)
		}
		if usages[i].InputTokenDetails.CachedTokens > usages[i-1].InputTokens {
			t.Errorf("cached %d exceeds the previous input %d", usages[i].InputTokenDetails.CachedTokens, usages[i-1].InputTokens)
		}
	}

	// Order: rate_limits.updated after each response.done and before the
	// next turn; output_audio_buffer.stopped after response.done.
	var doneSeen, rateSeen int
	stopped := map[string]bool{}
	doneIDs := map[string]bool{}
	for _, ev := range evs {
		switch ev.Type {
		case "response.done":
			doneSeen++
			var r wireResponse
			_ = ev.field("response", &r)
			doneIDs[r.ID] = true
		case "rate_limits.updated":
			rateSeen++
			if rateSeen != doneSeen {
				t.Errorf("rate_limits.updated #%d before response.done #%d", rateSeen, doneSeen)
			}
			var rl []rateLimit
			if err := ev.field("rate_limits", &rl); err != nil || len(rl) != 1 || rl[0].Name != "tokens" || rl[0].Remaining <= 0 {
				t.Errorf("rate limits %s", ev.raw)
			}
		case "input_audio_buffer.speech_started":
			if rateSeen != doneSeen {
				t.Errorf("next turn began before rate_limits.updated")
			}
		case "output_audio_buffer.stopped":
			var x struct {
				ResponseID string `json:"response_id"`
			}
			_ = json.Unmarshal(ev.raw, &x)
			if !doneIDs[x.ResponseID] {
				t.Errorf("output_audio_buffer.stopped before response.done for %s", x.ResponseID)
			}
			stopped[x.ResponseID] = true
		case "session.created":
			t.Errorf("session.created on a sideband")
		}
	}
	if rateSeen != 3 || len(stopped) != 3 {
		t.Errorf("rate_limits %d, stopped %d", rateSeen, len(stopped))
	}
	if live := s.Live(); len(live) != 0 {
		t.Errorf("call should have ended, live %v", live)
	}
	if _, resp, err := dial(s, id, authHeader(s.APIKey())); err == nil || resp.StatusCode != 404 {
		t.Errorf("re-attach after end should 404")
	}
}

func TestChaosAndDurationTranscription(t *testing.T) {
	s := newTestServer(t, Options{Seed: 42})
	id := s.NewCall(Script{Turns: 30, TurnGap: time.Millisecond, Transcription: "duration", Chaos: true, EndAfterTurns: true})
	c := attach(t, s, id)
	configure(t, c)
	evs, err := readAll(t, c)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("close: %v", err)
	}
	got, _ := tally(t, evs)
	sameUsage(t, got, s.Emitted(id))
	if got.Responses != 30 || got.TranscriptionSeconds == 0 || got.TranscriptionTokens != 0 {
		t.Errorf("usage %+v", got)
	}
	if got.ByStatus["completed"] == 30 {
		t.Errorf("chaos produced only completed responses: %v", got.ByStatus)
	}
	errorsSeen := 0
	for _, ev := range evs {
		if ev.Type == "error" {
			errorsSeen++
		}
	}
	t.Logf("statuses %v, %d error events", got.ByStatus, errorsSeen)
}

func TestExpiry(t *testing.T) {
	s := newTestServer(t, Options{MaxDuration: 200 * time.Millisecond})
	id := s.NewCall(Script{TurnGap: 2 * time.Millisecond})
	idle := s.NewCall(Script{})
	c := attach(t, s, id)
	configure(t, c)
	ev := readUntil(t, c, "error")
	var e struct {
		Error eventError `json:"error"`
	}
	_ = json.Unmarshal(ev.raw, &e)
	if e.Error.Code != "session_expired" || e.Error.Type != "invalid_request_error" ||
		!strings.HasPrefix(e.Error.Message, "Your session hit the maximum duration of ") {
		t.Fatalf("want session_expired, got %s", ev.raw)
	}
	_, err := readAll(t, c)
	var ce websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != e.Error.Message {
		t.Fatalf("want close 1001 with the message, got %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(s.Live()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if live := s.Live(); len(live) != 0 {
		t.Fatalf("calls should have expired (even %s without a sideband): %v", idle, live)
	}
	if expiryMessage(60*time.Minute) != "Your session hit the maximum duration of 60 minutes." {
		t.Errorf("real cap message: %q", expiryMessage(60*time.Minute))
	}
}

func TestDropSidebandThenReattachContinues(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{TurnGap: 5 * time.Millisecond})
	c := attach(t, s, id)
	configure(t, c)
	var first struct{ ID string }
	_ = readUntil(t, c, "response.done").field("response", &first)
	var lastStart int64
	s.DropSideband(id)
	for {
		ev, err := readEvent(c, 5*time.Second)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				t.Fatalf("drop must not send a close frame, got %v", err)
			}
			break
		}
		if ev.Type == "input_audio_buffer.speech_started" {
			var x struct {
				AudioStartMs int64 `json:"audio_start_ms"`
			}
			_ = json.Unmarshal(ev.raw, &x)
			lastStart = x.AudioStartMs
		}
	}
	if live := s.Live(); len(live) != 1 || live[0] != id {
		t.Fatalf("call should stay live after a drop: %v", live)
	}
	c2 := attach(t, s, id) // no session.update: the script is already running
	ev := readUntil(t, c2, "input_audio_buffer.speech_started")
	var x struct {
		AudioStartMs int64 `json:"audio_start_ms"`
	}
	_ = json.Unmarshal(ev.raw, &x)
	if x.AudioStartMs <= lastStart {
		t.Errorf("script restarted: audio_start_ms %d after %d", x.AudioStartMs, lastStart)
	}
	var next struct{ ID string }
	_ = readUntil(t, c2, "response.done").field("response", &next)
	if next.ID == first.ID {
		t.Errorf("same response twice")
	}
	if n := s.Emitted(id).Responses; n < 2 {
		t.Errorf("Emitted.Responses = %d", n)
	}
}

func TestOutageCutsEverythingAndCallsGoOn(t *testing.T) {
	s := newTestServer(t, Options{})
	id := s.NewCall(Script{TurnGap: 5 * time.Millisecond})
	c := attach(t, s, id)
	configure(t, c)
	readUntil(t, c, "response.done")
	if resp, _ := postJSON(t, s, "/realtime/calls/rtc_nope/hangup", s.APIKey(), ""); resp.StatusCode != 404 {
		t.Fatalf("hangup of an unknown call: %d", resp.StatusCode)
	}
	s.SetReachable(false)
	if _, err := readAll(t, c); err == nil || websocket.CloseStatus(err) != -1 {
		t.Fatalf("sideband during an outage: %v, want a dropped connection", err)
	}
	if _, _, err := dial(s, id, authHeader(s.APIKey())); err == nil {
		t.Fatal("attached during an outage")
	}
	if _, _, err := tryDo(s, "POST", "/realtime/calls/"+id+"/hangup", s.APIKey(), "", nil); err == nil {
		t.Fatal("REST answered during an outage")
	}
	if s.Refused() < 2 || s.Hangups(id) != 0 {
		t.Fatalf("refused %d connections, %d hangups reached the call", s.Refused(), s.Hangups(id))
	}
	s.SetReachable(true)
	c2 := attach(t, s, id)
	readUntil(t, c2, "response.done")
	if live := s.Live(); len(live) != 1 || live[0] != id {
		t.Fatalf("live after the outage: %v", live)
	}
}
