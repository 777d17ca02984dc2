package agent

import (
	"regexp"

	"github.com/calltop/calltop/feed"
)

// Price is one model's USD price per 1M tokens, per modality; cached input
// has its own rate per modality.
type Price struct {
	TextIn      float64 `json:"text_in"`
	TextCached  float64 `json:"text_cached"`
	TextOut     float64 `json:"text_out"`
	AudioIn     float64 `json:"audio_in"`
	AudioCached float64 `json:"audio_cached"`
	AudioOut    float64 `json:"audio_out"`
	ImageIn     float64 `json:"image_in"`
	ImageCached float64 `json:"image_cached"`
}

// Prices is a price table with the date and origin of its numbers, since
// prices change and an estimate is only as good as its source.
type Prices struct {
	Source string           `json:"source"`
	Models map[string]Price `json:"models"`
	// Transcription prices input-transcription models, billed apart from
	// responses: per token (gpt-4o-transcribe) or per minute (whisper).
	Transcription map[string]TranscriptionPrice `json:"transcription"`
	// Live prices GPT-Live models by the second (see LivePrice).
	Live map[string]LivePrice `json:"live"`
}

// LivePrice is one GPT-Live model's price: USD per minute of billed audio
// (OpenAI's usage.seconds, counted per second, not rounded to minutes)
// and per minute of standby, the rest of the time a WebRTC session is
// open. A WebRTC session bills MinimumSeconds at creation, credited once
// it runs. Source says where the figures come from and when, since these
// are young prices.
type LivePrice struct {
	PerMinute        float64 `json:"per_minute"`
	StandbyPerMinute float64 `json:"standby_per_minute,omitempty"`
	MinimumSeconds   float64 `json:"minimum_seconds,omitempty"`
	Source           string  `json:"source,omitempty"`
}

// TranscriptionPrice is one transcription model's price: USD per 1M
// tokens for token-billed models, USD per minute for duration-billed ones.
type TranscriptionPrice struct {
	AudioIn   float64 `json:"audio_in,omitempty"`
	TextIn    float64 `json:"text_in,omitempty"`
	TextOut   float64 `json:"text_out,omitempty"`
	PerMinute float64 `json:"per_minute,omitempty"`
}

// DefaultPrices is the built-in table (openai-realtime.md §7, official
// model pages as crawled in late 2026).
func DefaultPrices() *Prices {
	gptRealtime := Price{TextIn: 4, TextCached: 0.40, TextOut: 16, AudioIn: 32, AudioCached: 0.40, AudioOut: 64, ImageIn: 5, ImageCached: 0.50}
	gpt2 := gptRealtime
	gpt2.TextOut = 24
	// openai-realtime.md §8: $0.05/min active, $0.02/min standby (WebRTC
	// only), 15 s billed at WebRTC creation; a third-party summary, not
	// an OpenAI page: replace it with a price file when you have yours.
	gptLive := LivePrice{PerMinute: 0.05, StandbyPerMinute: 0.02, MinimumSeconds: 15,
		Source: "apidog summary of OpenAI's voice cost guide, 2026-11-20"}
	mini := Price{TextIn: 0.60, TextCached: 0.06, TextOut: 2.40, AudioIn: 10, AudioCached: 0.30, AudioOut: 20, ImageIn: 0.80, ImageCached: 0.08}
	return &Prices{
		Source: "OpenAI model pages and pricing, as of 2026-11 (USD per 1M tokens)",
		Models: map[string]Price{
			"gpt-realtime":                 gptRealtime,
			"gpt-realtime-1.5":             gptRealtime,
			"gpt-realtime-2":               gpt2,
			"gpt-realtime-2.1":             gpt2,
			"gpt-realtime-mini":            mini,
			"gpt-realtime-2.1-mini":        mini,
			"gpt-4o-realtime-preview":      {TextIn: 5, TextCached: 2.50, TextOut: 20, AudioIn: 40, AudioCached: 2.50, AudioOut: 80},
			"gpt-4o-mini-realtime-preview": {TextIn: 0.60, TextCached: 0.30, TextOut: 2.40, AudioIn: 10, AudioCached: 0.30, AudioOut: 20},
		},
		Transcription: map[string]TranscriptionPrice{
			"gpt-realtime-whisper":   {PerMinute: 0.017},
			"whisper-1":              {PerMinute: 0.006},
			"gpt-4o-transcribe":      {AudioIn: 6, TextIn: 2.50, TextOut: 10},
			"gpt-4o-mini-transcribe": {AudioIn: 3, TextIn: 1.25, TextOut: 5},
		},
		Live: map[string]LivePrice{
			"gpt-live-1":   gptLive,
			"gpt-live-1.1": gptLive,
		},
	}
}

// snapshotSuffix matches a dated model snapshot ("gpt-realtime-2025-08-28").
var snapshotSuffix = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}$`)

// Lookup finds a model's price, falling back from a dated snapshot to its
// alias.
func (p *Prices) Lookup(model string) (Price, bool) {
	if pr, ok := p.Models[model]; ok {
		return pr, true
	}
	pr, ok := p.Models[snapshotSuffix.ReplaceAllString(model, "")]
	return pr, ok
}

// Cost estimates the USD cost of a call's responses from its cumulative
// usage: uncached input per modality (the modality's tokens minus its
// cached subset), cached input per modality, output per modality.
// Transcription is priced per event (see TranscriptionCost). ok is false
// when the model has no price.
func (p *Prices) Cost(model string, u *feed.Usage) (usd float64, ok bool) {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	t := u.Tokens
	sum := float64(t.InputText-t.CachedText)*pr.TextIn +
		float64(t.CachedText)*pr.TextCached +
		float64(t.InputAudio-t.CachedAudio)*pr.AudioIn +
		float64(t.CachedAudio)*pr.AudioCached +
		float64(t.InputImage-t.CachedImage)*pr.ImageIn +
		float64(t.CachedImage)*pr.ImageCached +
		float64(t.OutputText)*pr.TextOut +
		float64(t.OutputAudio)*pr.AudioOut
	return sum / 1e6, true
}

// TranscriptionCost prices one input transcription's usage by its model:
// per token (audio and text in, text out) or per minute of audio. ok is
// false when the model has no price.
func (p *Prices) TranscriptionCost(model string, audioIn, textIn, textOut int64, seconds float64) (usd float64, ok bool) {
	pr, ok := p.Transcription[model]
	if !ok {
		pr, ok = p.Transcription[snapshotSuffix.ReplaceAllString(model, "")]
	}
	if !ok {
		return 0, false
	}
	return (float64(audioIn)*pr.AudioIn+float64(textIn)*pr.TextIn+float64(textOut)*pr.TextOut)/1e6 + seconds/60*pr.PerMinute, true
}

// LookupLive finds a GPT-Live model's price, falling back from a dated
// snapshot to its alias.
func (p *Prices) LookupLive(model string) (LivePrice, bool) {
	if pr, ok := p.Live[model]; ok {
		return pr, true
	}
	pr, ok := p.Live[snapshotSuffix.ReplaceAllString(model, "")]
	return pr, ok
}

// LiveCost estimates a GPT-Live session's USD cost: its billed seconds at
// the active rate and its standby seconds at the standby rate; while the
// session has billed nothing yet, a WebRTC session's creation minimum. ok
// is false when the model has no price.
func (p *Prices) LiveCost(model string, billed, standby float64, webrtc bool) (usd float64, ok bool) {
	pr, ok := p.LookupLive(model)
	if !ok {
		return 0, false
	}
	if billed == 0 && webrtc {
		billed = pr.MinimumSeconds
	}
	if !webrtc {
		standby = 0
	}
	return billed/60*pr.PerMinute + standby/60*pr.StandbyPerMinute, true
}

// BackendCost prices a Live session's delegated Responses backend tokens
// (text) by the backend model's entry in Models. ok is false when it has
// none.
func (p *Prices) BackendCost(model string, t feed.Tokens) (usd float64, ok bool) {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	return (float64(t.Input-t.InputCached)*pr.TextIn + float64(t.InputCached)*pr.TextCached + float64(t.Output)*pr.TextOut) / 1e6, true
}

// Audio tokenization (openai-realtime.md §6): user audio is 1 token per
// 100 ms, assistant audio 1 token per 50 ms.
const (
	userAudioTokensPerMin  = 600
	agentAudioTokensPerMin = 1200
)

// AudioMinuteUSD is the price of one minute of continuous two-way audio:
// the user speaking all the time (600 audio tokens in) while the model
// speaks all the time (1200 audio tokens out). Real calls take turns and
// cost less in audio, but re-read their context on every response, so
// this is a yardstick, not an estimate; the budget engine derives its
// default burn-rate threshold from it (policy.Policy.BurnThreshold).
func AudioMinuteUSD(pr Price) float64 {
	return (userAudioTokensPerMin*pr.AudioIn + agentAudioTokensPerMin*pr.AudioOut) / 1e6
}

// audioMinuteOf is AudioMinuteUSD of model's price; 0 when model has no
// price (or prices is nil).
func audioMinuteOf(prices *Prices, model string) float64 {
	if prices == nil {
		return 0
	}
	pr, ok := prices.Lookup(model)
	if !ok {
		return 0
	}
	return AudioMinuteUSD(pr)
}
