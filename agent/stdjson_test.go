package agent

import (
	"encoding/json"

	"github.com/calltop/calltop/feed"
)

// The encoding/json reference: what the agent reads from each kind of
// frame, read with one plain json.Unmarshal into a minimal struct with the
// type and exactly those fields (the type alone for ignored frames). It is
// the baseline of BenchmarkDecode and the oracle of FuzzExtract, so the
// lean decoders are measured against, and checked against, the same
// information read the obvious way.
//
// Knowing the struct before decoding is the baseline's best case: code
// that does not know the type first must decode a union of them (or
// decode twice), which costs more, so the ratios against lean are
// conservative.

type stdType struct {
	Type string `json:"type"`
}

type stdResponseDone struct {
	Type     string `json:"type"`
	Response struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		// Raw, as the agent tolerates any status_details (openai-go types
		// it as a string; the wire has an object).
		StatusDetails json.RawMessage `json:"status_details"`
		Usage         *struct {
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
		} `json:"usage"`
	} `json:"response"`
}

func stdResponse(frame []byte) (responseInfo, error) {
	var d stdResponseDone
	if err := json.Unmarshal(frame, &d); err != nil {
		return responseInfo{}, err
	}
	r := responseInfo{id: d.Response.ID, status: d.Response.Status}
	if sd := d.Response.StatusDetails; r.status != "completed" && len(sd) > 0 && sd[0] == '{' {
		var x struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(sd, &x) == nil {
			r.reason = x.Reason
		}
	}
	if u := d.Response.Usage; u != nil {
		in, out := &u.InputTokenDetails, &u.OutputTokenDetails
		r.usage = &feed.Tokens{
			Total: u.TotalTokens, Input: u.InputTokens, Output: u.OutputTokens,
			InputText: in.TextTokens, InputAudio: in.AudioTokens, InputImage: in.ImageTokens,
			InputCached: in.CachedTokens,
			CachedText:  in.CachedTokensDetails.TextTokens, CachedAudio: in.CachedTokensDetails.AudioTokens, CachedImage: in.CachedTokensDetails.ImageTokens,
			OutputText: out.TextTokens, OutputAudio: out.AudioTokens,
		}
	}
	return r, nil
}

type stdSessionUpdated struct {
	Type    string `json:"type"`
	Session struct {
		ID        string `json:"id"`
		Model     string `json:"model"`
		ExpiresAt int64  `json:"expires_at"`
		Audio     struct {
			Input struct {
				Transcription *struct {
					Model string `json:"model"`
				} `json:"transcription"`
			} `json:"input"`
		} `json:"audio"`
	} `json:"session"`
}

func stdSession(frame []byte) (sessionInfo, error) {
	var d stdSessionUpdated
	if err := json.Unmarshal(frame, &d); err != nil {
		return sessionInfo{}, err
	}
	s := sessionInfo{id: d.Session.ID, model: d.Session.Model, expiresAt: d.Session.ExpiresAt}
	if t := d.Session.Audio.Input.Transcription; t != nil {
		s.transcriptionModel, s.hasTranscription = t.Model, true
	}
	return s, nil
}

type stdTranscriptionCompleted struct {
	Type         string `json:"type"`
	ItemID       string `json:"item_id"`
	ContentIndex int64  `json:"content_index"`
	Usage        *struct {
		Type              string  `json:"type"`
		TotalTokens       int64   `json:"total_tokens"`
		OutputTokens      int64   `json:"output_tokens"`
		Seconds           float64 `json:"seconds"`
		InputTokenDetails struct {
			TextTokens  int64 `json:"text_tokens"`
			AudioTokens int64 `json:"audio_tokens"`
		} `json:"input_token_details"`
	} `json:"usage"`
}

func stdTranscription(frame []byte) (transcriptionInfo, error) {
	var d stdTranscriptionCompleted
	if err := json.Unmarshal(frame, &d); err != nil {
		return transcriptionInfo{}, err
	}
	t := transcriptionInfo{itemID: d.ItemID, contentIndex: d.ContentIndex}
	if u := d.Usage; u != nil {
		t.usage = &transcriptionUsage{kind: u.Type, total: u.TotalTokens, output: u.OutputTokens, seconds: u.Seconds,
			audioIn: u.InputTokenDetails.AudioTokens, textIn: u.InputTokenDetails.TextTokens}
	}
	return t, nil
}

type stdSpeechMark struct {
	Type         string `json:"type"`
	AudioStartMs int64  `json:"audio_start_ms"`
	AudioEndMs   int64  `json:"audio_end_ms"`
}

type stdError struct {
	Type  string `json:"type"`
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// stdDecoder returns the reference decoder for frames of type typ.
func stdDecoder(typ string) func(frame []byte) error {
	switch typ {
	case "response.done":
		return func(f []byte) error { _, err := stdResponse(f); return err }
	case "session.updated", "session.created":
		return func(f []byte) error { _, err := stdSession(f); return err }
	case "conversation.item.input_audio_transcription.completed":
		return func(f []byte) error { _, err := stdTranscription(f); return err }
	case "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped":
		return func(f []byte) error { return json.Unmarshal(f, new(stdSpeechMark)) }
	case "error":
		return func(f []byte) error { return json.Unmarshal(f, new(stdError)) }
	}
	return func(f []byte) error { return json.Unmarshal(f, new(stdType)) }
}
