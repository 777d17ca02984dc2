package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/openai/openai-go/v3/live"
	"github.com/openai/openai-go/v3/option"

	"github.com/calltop/calltop/feed"
)

// defaultLiveSession is the GPT-Live session config when neither the app
// nor the agent gives one.
var defaultLiveSession = json.RawMessage(`{"model":"gpt-live-1"}`)

// maxLiveAnswer bounds the JSON answer of POST /v1/live/sessions: an SDP
// answer and the resolved session, a few KB.
const maxLiveAnswer = 256 << 10

// liveSessionConfig checks a GPT-Live session config (the "session"
// object of POST /v1/live/sessions) and returns it with its model. A
// Realtime config ("type":"realtime") is refused: OpenAI would refuse it
// with less to go on.
func (a *Agent) liveSessionConfig(raw json.RawMessage) (json.RawMessage, string, error) {
	if len(raw) == 0 {
		raw = a.cfg.DefaultLiveSession
	}
	if len(raw) == 0 {
		raw = defaultLiveSession
	}
	var probe struct {
		Type  *string `json:"type"`
		Model string  `json:"model"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, "", fmt.Errorf("live session config: %w", err)
	}
	if probe.Type != nil && *probe.Type != "live" {
		return nil, "", fmt.Errorf(`live session config: "type" %q is not a GPT-Live session's (a Live config has a "model", e.g. gpt-live-1, and "type" "live" or none)`, *probe.Type)
	}
	if probe.Model == "" {
		return nil, "", errors.New(`live session config: "model" is required (e.g. "gpt-live-1")`)
	}
	return raw, probe.Model, nil
}

// createLiveSession creates a GPT-Live session over WebRTC: POST
// /live/sessions with the session config and the offer, answered 201 with
// JSON holding the session's id and the SDP answer (openai-realtime.md
// §8). It returns what createCall does, so the relay treats both alike.
func (a *Agent) createLiveSession(ctx context.Context, offer []byte, session json.RawMessage) (id string, answer []byte, status int, err error) {
	body, err := json.Marshal(map[string]any{
		"session":   session,
		"transport": map[string]string{"type": "webrtc", "sdp": string(offer)},
	})
	if err != nil {
		return "", nil, http.StatusInternalServerError, fmt.Errorf("create live session: %w", err)
	}
	data, _, status, err := a.create(ctx, "create live session", "/live/sessions", "application/json", bytes.NewReader(body), maxLiveAnswer)
	if err != nil {
		return "", nil, status, err
	}
	var out struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
		Transport struct {
			SDP string `json:"sdp"`
		} `json:"transport"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", nil, http.StatusBadGateway, fmt.Errorf("create live session: answer: %w", err)
	}
	if err := feed.ValidateCallID(out.Session.ID); err != nil {
		return "", nil, http.StatusBadGateway, fmt.Errorf("create live session: session.id: %w", err)
	}
	if out.Transport.SDP == "" {
		return "", nil, http.StatusBadGateway, fmt.Errorf("create live session %s: answer has no SDP", out.Session.ID)
	}
	return out.Session.ID, []byte(out.Transport.SDP), 0, nil
}

// acceptLiveSIP answers a SIP call on the GPT-Live API (POST
// /live/sessions/{id}/accept with {"session": config}) and tracks it as a
// Live session, which keeps its "rtc_" id.
func (a *Agent) acceptLiveSIP(ctx context.Context, call SIPCall, d SIPDecision, release func(), meta Meta) error {
	session, model, err := a.liveSessionConfig(d.Session)
	if err != nil {
		release()
		return fmt.Errorf("accept %s on the Live API: %w", call.CallID, err)
	}
	body, err := json.Marshal(map[string]json.RawMessage{"session": session})
	if err != nil {
		release()
		return fmt.Errorf("accept %s on the Live API: %w", call.CallID, err)
	}
	if err := a.oai.Live.Sessions.Accept(ctx, call.CallID, live.SessionAcceptParams{}, option.WithRequestBody("application/json", body)); err != nil {
		release()
		return fmt.Errorf("accept %s on the Live API: %w", call.CallID, err)
	}
	meta.Model = model
	return a.Track(context.WithoutCancel(ctx), call.CallID, meta, Async())
}
