package agent

import (
	"encoding/json"
	"fmt"
	"os"
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
	// TranscriptionPerMinute prices duration-billed input transcription
	// (gpt-realtime-whisper) in USD per minute.
	TranscriptionPerMinute float64 `json:"transcription_per_minute"`
}

// DefaultPrices is the built-in table (openai-realtime.md §7, official
// model pages as crawled in late 2026).
func DefaultPrices() *Prices {
	gptRealtime := Price{TextIn: 4, TextCached: 0.40, TextOut: 16, AudioIn: 32, AudioCached: 0.40, AudioOut: 64, ImageIn: 5, ImageCached: 0.50}
	gpt2 := gptRealtime
	gpt2.TextOut = 24
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
		TranscriptionPerMinute: 0.017,
	}
}

// LoadPrices reads a JSON price table from path and lays it over the
// built-in one: models in the file replace or add to the defaults.
func LoadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	var over Prices
	if err := json.Unmarshal(data, &over); err != nil {
		return nil, fmt.Errorf("price table %s: %w", path, err)
	}
	p := DefaultPrices()
	for m, pr := range over.Models {
		p.Models[m] = pr
	}
	if over.Source != "" {
		p.Source = over.Source
	}
	if over.TranscriptionPerMinute > 0 {
		p.TranscriptionPerMinute = over.TranscriptionPerMinute
	}
	return p, nil
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

// Cost estimates a call's USD cost from its cumulative usage: uncached
// input per modality (the modality's tokens minus its cached subset),
// cached input per modality, output per modality, plus duration-billed
// transcription. ok is false when the model has no price.
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
	return sum/1e6 + u.TranscriptionSeconds/60*p.TranscriptionPerMinute, true
}
