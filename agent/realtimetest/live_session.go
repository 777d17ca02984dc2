package realtimetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// liveConfig is the effective configuration of a GPT-Live session. Parts a
// client may shape freely are kept as raw JSON and echoed back unchanged.
type liveConfig struct {
	model        string
	instructions *string         // nil: server defaults (null)
	voice        json.RawMessage // a built-in name or {"id":…}
	delegation   json.RawMessage // null: the application handles delegated work
	store        bool
	triggers     json.RawMessage // []
}

// defaultLiveConfig is a session created without configuration.
func defaultLiveConfig(model string) liveConfig {
	if model == "" {
		model = defaultLiveModel
	}
	return liveConfig{
		model:      model,
		voice:      json.RawMessage(`"marin"`),
		delegation: json.RawMessage(`null`),
		triggers:   json.RawMessage(`[]`),
	}
}

// liveSessionObject is the session of session.started, session.updated
// and session.closed: openai-go's SessionResource (status is always
// "active", even in session.closed) plus the object tag the project's
// notes record.
type liveSessionObject struct {
	ID           string          `json:"id"`
	Object       string          `json:"object"`
	Model        string          `json:"model"`
	Status       string          `json:"status"`
	ExpiresAt    int64           `json:"expires_at"`
	Instructions *string         `json:"instructions"`
	Audio        liveAudioConfig `json:"audio"`
	Delegation   json.RawMessage `json:"delegation"`
	Store        bool            `json:"store"`
	Triggers     json.RawMessage `json:"triggers"`
}

type liveAudioConfig struct {
	Output struct {
		Voice json.RawMessage `json:"voice"`
	} `json:"output"`
}

// object renders cfg as a full session object.
func (cfg *liveConfig) object(id string, expiresAt int64) liveSessionObject {
	o := liveSessionObject{
		ID:           id,
		Object:       "live.session",
		Model:        cfg.model,
		Status:       "active",
		ExpiresAt:    expiresAt,
		Instructions: cfg.instructions,
		Delegation:   cfg.delegation,
		Store:        cfg.store,
		Triggers:     cfg.triggers,
	}
	o.Audio.Output.Voice = cfg.voice
	return o
}

// backendModel returns delegation.responses.model, "" when the session
// does not delegate to Responses.
func (cfg *liveConfig) backendModel() string {
	var d struct {
		Type      string `json:"type"`
		Responses struct {
			Model string `json:"model"`
		} `json:"responses"`
	}
	if json.Unmarshal(cfg.delegation, &d) != nil || d.Type != "responses" {
		return ""
	}
	return d.Responses.Model
}

// delegatesToResponses reports whether the session hands tasks to a
// Responses backend (and so reports backend token usage).
func (cfg *liveConfig) delegatesToResponses() bool {
	var d struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(cfg.delegation, &d) == nil && d.Type == "responses"
}

// liveParams is the startup configuration of a Live session, as sent to
// POST /v1/live/sessions ("session") and to …/accept.
type liveParams struct {
	Type         *string         `json:"type"`
	Model        *string         `json:"model"`
	Instructions *string         `json:"instructions"`
	Store        *bool           `json:"store"`
	Delegation   json.RawMessage `json:"delegation"`
	Triggers     json.RawMessage `json:"triggers"`
	Audio        *struct {
		Output *struct {
			Voice json.RawMessage `json:"voice"`
		} `json:"output"`
	} `json:"audio"`
}

// parseLiveParams validates a Live startup configuration. prefix is how
// its parameters are named in errors ("session." for the create body).
func parseLiveParams(raw json.RawMessage, prefix string) (*liveParams, *apiError) {
	fail := func(code, param, msg string) (*liveParams, *apiError) {
		e := errParam(code, param, msg)
		return nil, &e
	}
	name := strings.TrimSuffix(prefix, ".")
	if len(raw) == 0 || string(raw) == "null" {
		return fail("missing_required_parameter", name, "Missing required parameter: '"+name+"'.")
	}
	var p liveParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return fail("invalid_type", name, "Invalid type for '"+name+"': "+err.Error())
	}
	if p.Type != nil && *p.Type != "live" {
		return fail("invalid_value", prefix+"type", "Invalid value: '"+*p.Type+"'. Supported values are: 'live'.")
	}
	switch m := deref(p.Model); {
	case m == "":
		return fail("missing_required_parameter", prefix+"model", "Missing required parameter: '"+prefix+"model'.")
	case !isLiveModel(m):
		return fail("invalid_model", prefix+"model",
			"The model '"+m+"' is not a GPT-Live model (for example 'gpt-live-1'). Realtime models are used with /v1/realtime.")
	}
	if aerr := checkDelegation(p.Delegation, prefix+"delegation"); aerr != nil {
		return nil, aerr
	}
	if len(p.Triggers) > 0 && string(p.Triggers) != "null" && !isJSONArray(p.Triggers) {
		return fail("invalid_type", prefix+"triggers", "Invalid type for '"+prefix+"triggers': expected an array.")
	}
	return &p, nil
}

// checkDelegation accepts null or an object whose type is client,
// responses or decisions.
func checkDelegation(raw json.RawMessage, param string) *apiError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var d struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &d) != nil {
		e := errParam("invalid_type", param, "Invalid type for '"+param+"': expected an object.")
		return &e
	}
	switch d.Type {
	case "client", "responses", "decisions":
		return nil
	}
	e := errParam("invalid_value", param+".type", "Invalid value: '"+d.Type+"'. Supported values are: 'client', 'responses' and 'decisions'.")
	return &e
}

// config builds the configuration a session starts with.
func (p *liveParams) config() liveConfig {
	cfg := defaultLiveConfig(deref(p.Model))
	if p.Instructions != nil && strings.TrimSpace(*p.Instructions) != "" {
		v := *p.Instructions
		cfg.instructions = &v
	}
	if p.Store != nil {
		cfg.store = *p.Store
	}
	if len(p.Delegation) > 0 {
		cfg.delegation = append(json.RawMessage(nil), p.Delegation...)
	}
	if len(p.Triggers) > 0 && string(p.Triggers) != "null" {
		cfg.triggers = append(json.RawMessage(nil), p.Triggers...)
	}
	if p.Audio != nil && p.Audio.Output != nil && len(p.Audio.Output.Voice) > 0 && string(p.Audio.Output.Voice) != "null" {
		cfg.voice = append(json.RawMessage(nil), p.Audio.Output.Voice...)
	}
	return cfg
}

// liveUpdatable are the session fields a sideband's session.update may
// change (openai-go's SessionUpdateConfigParam): delegation settings and
// transcript triggers. Model, voice and instructions are immutable.
var liveUpdatable = []string{"delegation", "triggers"}

// applyUpdate applies a session.update's session object to cfg, or
// returns the error event's code, param and message without changing it.
func (cfg *liveConfig) applyUpdate(raw json.RawMessage) (code, param, msg string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return "invalid_type", "session", "Invalid type for 'session': expected an object."
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(liveUpdatable, k) {
			return "unknown_parameter", "session." + k,
				"Unknown parameter: 'session." + k + "'. A Live session.update may change only 'delegation' and 'triggers'."
		}
	}
	next := cfg.delegation
	if d, ok := fields["delegation"]; ok && string(d) != "null" {
		// An update may omit the type ("omitted settings retain their
		// values"); a type it names must be a known one.
		var typed struct {
			Type *string `json:"type"`
		}
		if json.Unmarshal(d, &typed) != nil {
			return "invalid_type", "session.delegation", "Invalid type for 'session.delegation': expected an object."
		}
		if typed.Type != nil {
			if aerr := checkDelegation(d, "session.delegation"); aerr != nil {
				return fmt.Sprint(aerr.Code), fmt.Sprint(aerr.Param), aerr.Message
			}
		}
		merged, err := mergeDelegation(cfg.delegation, d)
		if err != "" {
			return "invalid_value", "session.delegation.type", err
		}
		next = merged
	}
	if t, ok := fields["triggers"]; ok && !isJSONArray(t) {
		return "invalid_type", "session.triggers", "Invalid type for 'session.triggers': expected an array."
	}
	cfg.delegation = next
	if t, ok := fields["triggers"]; ok {
		cfg.triggers = append(json.RawMessage(nil), t...)
	}
	return "", "", ""
}

// mergeDelegation applies an update to the current delegation: its type
// must stay the same; settings it names replace the current ones (one
// level deep, so responses.model alone keeps responses.tools).
func mergeDelegation(cur, upd json.RawMessage) (json.RawMessage, string) {
	var c, u map[string]json.RawMessage
	_ = json.Unmarshal(cur, &c)
	_ = json.Unmarshal(upd, &u)
	if c == nil {
		c = map[string]json.RawMessage{}
	}
	var ct, ut string
	_ = json.Unmarshal(c["type"], &ct)
	_ = json.Unmarshal(u["type"], &ut)
	if ct == "" {
		ct = "client"
	}
	if ut != "" && ut != ct {
		return nil, "The delegation type cannot change from '" + ct + "' to '" + ut + "' during a session."
	}
	for k, v := range u {
		var cm, um map[string]json.RawMessage
		if json.Unmarshal(c[k], &cm) == nil && cm != nil && json.Unmarshal(v, &um) == nil && um != nil {
			for kk, vv := range um {
				cm[kk] = vv
			}
			v, _ = json.Marshal(cm)
		}
		c[k] = v
	}
	out, _ := json.Marshal(c)
	return out, ""
}

func isJSONArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && a != nil
}
