package realtimetest

import (
	"encoding/json"
	"time"
)

// backendResponseObj is the Responses API response nested in a Live
// response.event: lifecycle snapshots carry no input, instructions, tools
// or output (openai-go's ResponseEvent doc), but do carry model and usage.
type backendResponseObj struct {
	ID        string          `json:"id"`
	Object    string          `json:"object"`
	CreatedAt int64           `json:"created_at"`
	Status    string          `json:"status"`
	Model     string          `json:"model"`
	Output    []any           `json:"output"`
	Usage     *responsesUsage `json:"usage"`
}

// responsesUsage is a Responses API usage object, field names as the
// Responses API has them (not Realtime's input_token_details).
type responsesUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

// backendResponse plays one delegated Responses completion:
// session.delegation.created, then response.event frames wrapping
// response.created, one response.output_text.delta and response.completed
// with usage. Only the completion's usage is counted (LiveBackendUsage),
// and only if a sideband received it.
func (r *liveRunner) backendResponse(seconds float64) {
	r.backendSent++
	model := r.backendModel()
	delegID := "deleg_" + randFrom(alnum, opaqueLen)
	resp := backendResponseObj{ID: newResponseID(), Object: "response", CreatedAt: time.Now().Unix(),
		Status: "in_progress", Model: model, Output: []any{}}

	r.emit("session.delegation.created", kv{"delegation", struct {
		ID         string `json:"id"`
		Target     string `json:"target"`
		Type       string `json:"type"`
		ResponseID string `json:"response_id"`
	}{delegID, "responses", "delegation", resp.ID}}, kv{"offset_ms", int64(seconds * 1000)})

	nested := func(seq int, typ string, fields ...kv) []byte {
		return encodeNested(typ, seq, fields...)
	}
	r.emitResponseEvent(delegID, nested(0, "response.created", kv{"response", resp}), nil)
	line := assistantLines[r.rng.IntN(len(assistantLines))]
	r.emitResponseEvent(delegID, nested(1, "response.output_text.delta",
		kv{"item_id", newItemID()}, kv{"output_index", 0}, kv{"content_index", 0}, kv{"delta", line}), nil)

	u := r.backendTokens(line)
	resp.Status, resp.Usage = "completed", u
	r.emitResponseEvent(delegID, nested(2, "response.completed", kv{"response", resp}), u)
}

// backendModel is the delegation's Responses model (session config or a
// later session.update), "gpt-5.2" if none is set.
func (r *liveRunner) backendModel() string {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if m := r.st.cfg.backendModel(); m != "" {
		return m
	}
	return defaultBackendModel
}

// backendTokens makes realistic usage: the backend re-reads a growing
// conversation, most of it cached from the previous completion, and
// reasons a little before answering.
func (r *liveRunner) backendTokens(answer string) *responsesUsage {
	u := &responsesUsage{}
	u.InputTokens = 1400 + int64(r.backendSent)*350 + int64(r.rng.IntN(300))
	if r.prevInput > 0 {
		u.InputTokensDetails.CachedTokens = min(r.prevInput, u.InputTokens) / 64 * 64
	}
	r.prevInput = u.InputTokens
	reasoning := int64(r.rng.IntN(400))
	u.OutputTokensDetails.ReasoningTokens = reasoning
	u.OutputTokens = textTokens(answer) + reasoning
	u.TotalTokens = u.InputTokens + u.OutputTokens
	return u
}

// emitResponseEvent sends one response.event wrapping a nested Responses
// event; u, if set, is counted as delivered backend usage.
func (r *liveRunner) emitResponseEvent(delegID string, event []byte, u *responsesUsage) {
	frame := encodeEvent(newEventID(), "response.event", kv{"delegation_id", delegID}, kv{"event", json.RawMessage(event)})
	var count func(sign int)
	if u != nil {
		count = func(sign int) {
			b := &r.st.backend
			s := int64(sign)
			b.responses += sign
			b.input += s * u.InputTokens
			b.output += s * u.OutputTokens
			b.total += s * u.TotalTokens
			b.cachedInput += s * u.InputTokensDetails.CachedTokens
			b.reasoning += s * u.OutputTokensDetails.ReasoningTokens
		}
	}
	r.s.broadcastCounted(r.c, "response.event", frame, count)
}

// encodeNested builds a Responses streaming event: {"type":…,
// "sequence_number":…,<fields>}.
func encodeNested(typ string, seq int, fields ...kv) []byte {
	return encodeObject(append([]kv{{"type", typ}, {"sequence_number", seq}}, fields...))
}
