package agent

import (
	"encoding/json"
	"errors"
	"fmt"
)

// defaultSession is the session config when neither the app nor the agent
// gives one.
var defaultSession = json.RawMessage(`{"type":"realtime","model":"gpt-realtime"}`)

// sessionConfig checks a realtime session config (a JSON object whose
// "type" is "realtime", as OpenAI requires) and returns it with its model.
// An empty raw falls back to the agent's default.
func (a *Agent) sessionConfig(raw json.RawMessage) (json.RawMessage, string, error) {
	if len(raw) == 0 {
		raw = a.cfg.DefaultSession
	}
	if len(raw) == 0 {
		raw = defaultSession
	}
	var probe struct {
		Type  *string `json:"type"`
		Model string  `json:"model"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, "", fmt.Errorf("session config: %w", err)
	}
	if probe.Type == nil || *probe.Type != "realtime" {
		return nil, "", errors.New(`session config: "type" must be "realtime"`)
	}
	return raw, probe.Model, nil
}
