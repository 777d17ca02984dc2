package realtimetest

import (
	"bytes"
	"encoding/json"
)

// kv is one field of a server event, kept in order so frames read like real
// ones ("type" first, then "event_id", then the payload).
type kv struct {
	k string
	v any
}

// encodeEvent builds {"type":…,"event_id":…,<fields>} as one JSON frame.
func encodeEvent(eventID, typ string, fields ...kv) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	writeJSON(&b, typ)
	b.WriteString(`,"event_id":`)
	writeJSON(&b, eventID)
	for _, f := range fields {
		b.WriteByte(',')
		writeJSON(&b, f.k)
		b.WriteByte(':')
		writeJSON(&b, f.v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte("null")
	}
	b.Write(data)
}

// nullable returns nil (JSON null) for an empty string.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// item is a conversation item as it appears in conversation.item.* and
// response.output_item.* events.
type item struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Role    string `json:"role"`
	Content []any  `json:"content"`
}

// audioContent is an input_audio or output_audio content part; the
// transcript is null for user audio until transcription completes.
type audioContent struct {
	Type       string  `json:"type"`
	Transcript *string `json:"transcript"`
}

// imageContent is an input_image content part (the data URL is shortened).
type imageContent struct {
	Type     string `json:"type"`
	ImageURL string `json:"image_url"`
}

// responseObj is RealtimeResponse as carried by response.created/done.
type responseObj struct {
	Object           string          `json:"object"`
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	StatusDetails    any             `json:"status_details"`
	Output           []item          `json:"output"`
	ConversationID   string          `json:"conversation_id"`
	OutputModalities []string        `json:"output_modalities"`
	MaxOutputTokens  json.RawMessage `json:"max_output_tokens"`
	Audio            responseAudio   `json:"audio"`
	Usage            *usageObj       `json:"usage"`
	Metadata         any             `json:"metadata"`
}

type responseAudio struct {
	Output struct {
		Format json.RawMessage `json:"format"`
		Voice  string          `json:"voice"`
	} `json:"output"`
}

// usageObj is response.usage exactly as the spec names it.
type usageObj struct {
	TotalTokens        int64         `json:"total_tokens"`
	InputTokens        int64         `json:"input_tokens"`
	OutputTokens       int64         `json:"output_tokens"`
	InputTokenDetails  inputDetails  `json:"input_token_details"`
	OutputTokenDetails outputDetails `json:"output_token_details"`
}

type inputDetails struct {
	TextTokens          int64         `json:"text_tokens"`
	AudioTokens         int64         `json:"audio_tokens"`
	ImageTokens         int64         `json:"image_tokens"`
	CachedTokens        int64         `json:"cached_tokens"`
	CachedTokensDetails cachedDetails `json:"cached_tokens_details"`
}

type cachedDetails struct {
	TextTokens  int64 `json:"text_tokens"`
	AudioTokens int64 `json:"audio_tokens"`
	ImageTokens int64 `json:"image_tokens"`
}

type outputDetails struct {
	TextTokens  int64 `json:"text_tokens"`
	AudioTokens int64 `json:"audio_tokens"`
}

// tokensTranscriptionUsage is the gpt-4o-mini-transcribe style usage.
type tokensTranscriptionUsage struct {
	Type              string `json:"type"`
	TotalTokens       int64  `json:"total_tokens"`
	InputTokens       int64  `json:"input_tokens"`
	InputTokenDetails struct {
		TextTokens  int64 `json:"text_tokens"`
		AudioTokens int64 `json:"audio_tokens"`
	} `json:"input_token_details"`
	OutputTokens int64 `json:"output_tokens"`
}

// durationTranscriptionUsage is the whisper style usage.
type durationTranscriptionUsage struct {
	Type    string  `json:"type"`
	Seconds float64 `json:"seconds"`
}

// rateLimit is one entry of rate_limits.updated.
type rateLimit struct {
	Name         string  `json:"name"`
	Limit        int64   `json:"limit"`
	Remaining    int64   `json:"remaining"`
	ResetSeconds float64 `json:"reset_seconds"`
}

// encodeObject builds a JSON object with the fields in order.
func encodeObject(fields []kv) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, f.k)
		b.WriteByte(':')
		writeJSON(&b, f.v)
	}
	b.WriteByte('}')
	return b.Bytes()
}
