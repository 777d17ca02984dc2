package realtimetest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// runner plays one call's Script: realistic user→assistant turns whose
// events and usage follow openai-realtime.md §5. All waits scale with
// TurnGap (TurnGap/300ms; 1 = real time), so tests run turns in
// milliseconds and the demo in real time.
type runner struct {
	s      *Server
	c      *call
	rng    *rand.Rand
	scale  float64
	timer  *time.Timer
	expiry *time.Timer

	convID     string
	audioMs    int64       // the session's audio clock (ms of input audio written)
	lastItem   string      // id of the newest conversation item
	history    []ctxTokens // what each response re-reads, oldest first
	prevInput  int64       // input tokens of the previous response (the cacheable prefix)
	prevPrompt int64       // prompt tokens then (a new prompt invalidates the cache)
	imageTurn  int         // turn that also sends an image, or -1
}

// ctxTokens is one conversation item's weight in later responses' input.
type ctxTokens struct{ text, audio, image int64 }

// turnConfig is the part of the session a turn needs, read once per turn
// (a session.update may change it mid-call).
type turnConfig struct {
	model           string
	prompt          int64
	voice           string
	outputMods      []string
	outputFormat    json.RawMessage
	maxOutputTokens json.RawMessage
	transcription   string
}

// statusDetails is response.status_details for non-completed responses.
type statusDetails struct {
	Type   string          `json:"type"`
	Reason string          `json:"reason,omitempty"`
	Error  *responseFailed `json:"error,omitempty"`
}

type responseFailed struct {
	Type string `json:"type"`
	Code string `json:"code"`
}

// contentPart is the part of response.content_part.added/done.
type contentPart struct {
	Type       string `json:"type"`
	Transcript string `json:"transcript"`
}

const (
	userAudioPerSec      = 10 // user audio: 1 token per 100 ms
	assistantAudioPerSec = 20 // assistant audio: 1 token per 50 ms
	imageTokens          = 765
	rateLimitTokens      = 15000000
)

func newRunner(s *Server, c *call, expiry *time.Timer) *runner {
	r := &runner{
		s:         s,
		c:         c,
		rng:       c.rng,
		scale:     float64(c.script.TurnGap) / float64(defaultTurnGap),
		expiry:    expiry,
		convID:    newConversationID(),
		timer:     time.NewTimer(time.Hour),
		imageTurn: -1,
	}
	r.timer.Stop()
	if r.rng.IntN(8) == 0 {
		r.imageTurn = 1 + r.rng.IntN(3)
	}
	return r
}

// play runs the turns; it reports false if the call ended or expired.
func (r *runner) play() bool {
	turns := r.c.script.Turns
	for n := 0; turns == 0 || n < turns; n++ {
		if !r.sleep(r.c.script.TurnGap) || !r.turn(n) {
			return false
		}
	}
	return true
}

// sleep waits d; it reports false if the call ended meanwhile, and ends the
// call itself if the duration cap struck.
func (r *runner) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-r.c.done:
			return false
		case <-r.expiry.C:
			r.s.endCall(r.c, endExpired)
			return false
		default:
			return true
		}
	}
	r.timer.Reset(d)
	select {
	case <-r.timer.C:
		return true
	case <-r.c.done:
		r.timer.Stop()
		return false
	case <-r.expiry.C:
		r.timer.Stop()
		r.s.endCall(r.c, endExpired)
		return false
	}
}

// scaled converts real-world seconds into this call's time.
func (r *runner) scaled(sec float64) time.Duration {
	return time.Duration(sec * r.scale * float64(time.Second))
}

// emit broadcasts one event and reports whether a sideband got it.
func (r *runner) emit(typ string, d *Usage, fields ...kv) bool {
	return r.s.broadcast(r.c, typ, encodeEvent(newEventID(), typ, fields...), d)
}

// emitBuffer sends an output_audio_buffer.* event, whose event ids have
// their own hex style on the sideband.
func (r *runner) emitBuffer(typ, respID string) {
	r.s.broadcast(r.c, typ, encodeEvent(newAudioBufferEventID(), typ, kv{"response_id", respID}), nil)
}

func (r *runner) snapshot() turnConfig {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	cfg := &r.c.sess
	return turnConfig{
		model:           cfg.model,
		prompt:          cfg.promptTokens(),
		voice:           cfg.voice,
		outputMods:      cfg.outputMods,
		outputFormat:    cfg.outputFormat,
		maxOutputTokens: cfg.maxOutputTokens,
		transcription:   cfg.transcriptionMode(),
	}
}

// turn plays one user utterance and the assistant's answer.
func (r *runner) turn(n int) bool {
	cfg := r.snapshot()
	userText := userLines[r.rng.IntN(len(userLines))]
	userSec := 0.5 + float64(len(strings.Fields(userText)))/2.8 + r.rng.Float64()*0.8
	start := r.audioMs + int64(250+r.rng.IntN(2500))
	end := start + int64(userSec*1000)
	r.audioMs = end
	userItem := newItemID()

	startSent := r.emit("input_audio_buffer.speech_started", nil, kv{"audio_start_ms", start}, kv{"item_id", userItem})
	if !r.sleep(r.scaled(userSec + 0.2)) {
		return false
	}
	// A segment counts as user speech only if a client could measure it:
	// its start was sent too (not lost while no sideband was attached).
	var speech *Usage
	if startSent {
		speech = &Usage{UserSpeechMs: end - start}
	}
	r.emit("input_audio_buffer.speech_stopped", speech, kv{"audio_end_ms", end}, kv{"item_id", userItem})
	prev := nullable(r.lastItem)
	r.emit("input_audio_buffer.committed", nil, kv{"previous_item_id", prev}, kv{"item_id", userItem})
	u := item{ID: userItem, Type: "message", Status: "completed", Role: "user",
		Content: []any{audioContent{Type: "input_audio"}}}
	r.emit("conversation.item.added", nil, kv{"previous_item_id", prev}, kv{"item", u})
	r.emit("conversation.item.done", nil, kv{"previous_item_id", prev}, kv{"item", u})
	r.lastItem = userItem
	r.history = append(r.history, ctxTokens{text: 4, audio: int64(math.Round(userSec*userAudioPerSec)) + 1})

	if n == r.imageTurn {
		img := item{ID: newItemID(), Type: "message", Status: "completed", Role: "user",
			Content: []any{imageContent{Type: "input_image", ImageURL: "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD…"}}}
		r.emit("conversation.item.added", nil, kv{"previous_item_id", userItem}, kv{"item", img})
		r.emit("conversation.item.done", nil, kv{"previous_item_id", userItem}, kv{"item", img})
		r.lastItem = img.ID
		r.history = append(r.history, ctxTokens{text: 4, image: imageTokens})
	}
	return r.respond(cfg, userItem, userText, userSec)
}

// respond plays one response: created, transcription of the user turn,
// the assistant's audio transcript, done, rate limits and playback.
func (r *runner) respond(cfg turnConfig, userItem, userText string, userSec float64) bool {
	respID := newResponseID()
	status, details := r.pickStatus()
	r.emit("response.created", nil, kv{"response", r.response(respID, "in_progress", nil, []item{}, nil, cfg)})

	if cfg.transcription != "" && !r.transcribe(cfg.transcription, userItem, userText, userSec) {
		return false
	}

	if status == "failed" {
		if !r.sleep(r.scaled(0.3)) {
			return false
		}
		u := r.usage(cfg, 0, 0)
		r.emit("response.done", responseUsage(status, u),
			kv{"response", r.response(respID, status, details, []item{}, u, cfg)})
		return r.sleep(r.scaled(0.04)) && r.afterDone(u, respID)
	}

	words := strings.Fields(assistantLines[r.rng.IntN(len(assistantLines))])
	if status != "completed" && len(words) > 1 {
		words = words[:1+r.rng.IntN(len(words)-1)]
	}
	transcript := strings.Join(words, " ")
	speechSec := 0.4 + float64(len(words))/2.6
	itemID := newItemID()
	prev := nullable(r.lastItem)
	ids := []kv{{"response_id", respID}, {"item_id", itemID}, {"output_index", 0}, {"content_index", 0}}

	added := item{ID: itemID, Type: "message", Status: "in_progress", Role: "assistant", Content: []any{}}
	r.emit("response.output_item.added", nil, kv{"response_id", respID}, kv{"output_index", 0}, kv{"item", added})
	r.emit("conversation.item.added", nil, kv{"previous_item_id", prev}, kv{"item", added})
	r.emit("response.content_part.added", nil, append(ids, kv{"part", contentPart{Type: "audio"}})...)

	chunks := chunkWords(words, r.rng)
	step := r.scaled(speechSec * 0.3 / float64(len(chunks)))
	var playStart time.Time
	for i, ch := range chunks {
		if !r.sleep(step) {
			return false
		}
		if i > 0 {
			ch = " " + ch
		}
		r.emit("response.output_audio_transcript.delta", nil, append(ids, kv{"delta", ch})...)
		if i == 0 {
			r.emitBuffer("output_audio_buffer.started", respID)
			playStart = time.Now()
		}
	}
	r.emit("response.output_audio.done", nil, ids...)
	r.emit("response.output_audio_transcript.done", nil, append(ids, kv{"transcript", transcript})...)
	r.emit("response.content_part.done", nil, append(ids, kv{"part", contentPart{Type: "audio", Transcript: transcript}})...)
	itemStatus := "completed"
	if status != "completed" {
		itemStatus = "incomplete"
	}
	done := item{ID: itemID, Type: "message", Status: itemStatus, Role: "assistant",
		Content: []any{audioContent{Type: "output_audio", Transcript: &transcript}}}
	r.emit("response.output_item.done", nil, kv{"response_id", respID}, kv{"output_index", 0}, kv{"item", done})
	r.emit("conversation.item.done", nil, kv{"previous_item_id", prev}, kv{"item", done})
	r.lastItem = itemID

	outAudio := int64(math.Round(speechSec * assistantAudioPerSec))
	u := r.usage(cfg, textTokens(transcript)+2, outAudio)
	r.history = append(r.history, ctxTokens{text: 4, audio: outAudio})
	r.emit("response.done", responseUsage(status, u),
		kv{"response", r.response(respID, status, details, []item{done}, u, cfg)})

	// rate_limits.updated arrives ~40 ms after response.done (observed 2026).
	if !r.sleep(r.scaled(0.04)) || !r.afterDone(u, respID) {
		return false
	}
	r.audioMs += int64(speechSec * 1000)
	if status == "cancelled" {
		// The user barged in: playback is cut short.
		r.emitBuffer("output_audio_buffer.cleared", respID)
		return true
	}
	// Playback outlasts generation: stopped comes after response.done.
	if !r.sleep(r.scaled(speechSec) - time.Since(playStart)) {
		return false
	}
	r.emitBuffer("output_audio_buffer.stopped", respID)
	return true
}

// afterDone sends rate_limits.updated and, in Chaos mode, sometimes a
// non-fatal error event.
func (r *runner) afterDone(u *usageObj, respID string) bool {
	remaining := rateLimitTokens - u.TotalTokens - int64(r.rng.IntN(4000))
	r.emit("rate_limits.updated", nil, kv{"rate_limits", []rateLimit{{
		Name:         "tokens",
		Limit:        rateLimitTokens,
		Remaining:    remaining,
		ResetSeconds: math.Max(0.001, math.Round(float64(u.TotalTokens)*60000/rateLimitTokens)/1000),
	}}})
	if r.c.script.Chaos && r.rng.Float64() < 0.12 {
		e := chaosErrors[r.rng.IntN(len(chaosErrors))]
		msg := e.msg
		if strings.Contains(msg, "%s") {
			msg = fmt.Sprintf(msg, respID)
		}
		r.emit("error", nil, kv{"error", eventError{Type: invalidRequest, Code: e.code, Message: msg}})
	}
	return true
}

// transcribe sends the user turn's transcription deltas and completion.
func (r *runner) transcribe(mode, itemID, text string, sec float64) bool {
	for i, ch := range chunkWords(strings.Fields(text), r.rng) {
		if i > 0 {
			ch = " " + ch
		}
		r.emit("conversation.item.input_audio_transcription.delta", nil,
			kv{"item_id", itemID}, kv{"content_index", 0}, kv{"delta", ch}, kv{"obfuscation", randFrom(alnum, 1+r.rng.IntN(8))})
		if !r.sleep(r.scaled(0.05)) {
			return false
		}
	}
	var usage any
	var d Usage
	if mode == "duration" {
		seconds := math.Round(sec*10) / 10
		usage = durationTranscriptionUsage{Type: "duration", Seconds: seconds}
		d.TranscriptionSeconds = seconds
	} else {
		t := tokensTranscriptionUsage{Type: "tokens", InputTokens: int64(math.Round(sec*userAudioPerSec)) + 1, OutputTokens: textTokens(text)}
		t.InputTokenDetails.AudioTokens = t.InputTokens
		t.TotalTokens = t.InputTokens + t.OutputTokens
		usage = t
		d.TranscriptionTokens = t.TotalTokens
	}
	r.emit("conversation.item.input_audio_transcription.completed", &d,
		kv{"item_id", itemID}, kv{"content_index", 0}, kv{"transcript", text}, kv{"usage", usage})
	return true
}

// pickStatus decides a response's final status; only Chaos calls end other
// than completed.
func (r *runner) pickStatus() (string, any) {
	if !r.c.script.Chaos {
		return "completed", nil
	}
	switch p := r.rng.Float64(); {
	case p < 0.12:
		return "cancelled", statusDetails{Type: "cancelled", Reason: "turn_detected"}
	case p < 0.20:
		return "incomplete", statusDetails{Type: "incomplete", Reason: "max_output_tokens"}
	case p < 0.25:
		return "failed", statusDetails{Type: "failed", Error: &responseFailed{Type: "server_error", Code: "server_error"}}
	}
	return "completed", nil
}

// usage computes a response's usage. Each response re-reads the prompt and
// the whole conversation (input grows turn by turn, truncated at the
// model's context limit); the prefix the previous response read is usually
// cached in 64-token blocks, and the cached tokens are split by modality in
// prefix order so every cached detail is a subset of its input detail.
func (r *runner) usage(cfg turnConfig, outText, outAudio int64) *usageObj {
	limit := contextLimit(cfg.model)
	truncated := false
	for len(r.history) > 1 && cfg.prompt+weight(r.history) > limit {
		r.history = r.history[1:]
		truncated = true
	}
	text, audio, image := cfg.prompt, int64(0), int64(0)
	for _, h := range r.history {
		text += h.text
		audio += h.audio
		image += h.image
	}
	input := text + audio + image

	var cached int64
	if !truncated && cfg.prompt == r.prevPrompt && r.prevInput > 0 && r.rng.Float64() < 0.9 {
		cached = min(r.prevInput, input) / 64 * 64
	}
	r.prevInput, r.prevPrompt = input, cfg.prompt

	rem := cached
	take := func(avail int64) int64 {
		t := min(rem, avail)
		rem -= t
		return t
	}
	var cd cachedDetails
	cd.TextTokens = take(cfg.prompt)
	for _, h := range r.history {
		cd.TextTokens += take(h.text)
		cd.AudioTokens += take(h.audio)
		cd.ImageTokens += take(h.image)
	}
	return &usageObj{
		TotalTokens:  input + outText + outAudio,
		InputTokens:  input,
		OutputTokens: outText + outAudio,
		InputTokenDetails: inputDetails{
			TextTokens: text, AudioTokens: audio, ImageTokens: image,
			CachedTokens: cached, CachedTokensDetails: cd,
		},
		OutputTokenDetails: outputDetails{TextTokens: outText, AudioTokens: outAudio},
	}
}

// response renders a RealtimeResponse.
func (r *runner) response(id, status string, details any, output []item, u *usageObj, cfg turnConfig) responseObj {
	ro := responseObj{
		Object:           "realtime.response",
		ID:               id,
		Status:           status,
		StatusDetails:    details,
		Output:           output,
		ConversationID:   r.convID,
		OutputModalities: cfg.outputMods,
		MaxOutputTokens:  cfg.maxOutputTokens,
		Usage:            u,
	}
	ro.Audio.Output.Format = cfg.outputFormat
	ro.Audio.Output.Voice = cfg.voice
	return ro
}

// contextLimit is the input budget before truncation: 128k models keep
// ~120k, 32k models 28,224 (guide-costs).
func contextLimit(model string) int64 {
	if strings.Contains(model, "realtime-2") {
		return 120000
	}
	return 28224
}

func weight(h []ctxTokens) int64 {
	var n int64
	for _, t := range h {
		n += t.text + t.audio + t.image
	}
	return n
}

// chunkWords groups words into delta-sized pieces of one to four words.
func chunkWords(words []string, rng *rand.Rand) []string {
	var out []string
	for i := 0; i < len(words); {
		n := min(len(words)-i, 1+rng.IntN(4))
		out = append(out, strings.Join(words[i:i+n], " "))
		i += n
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}
