package agent

import (
	"github.com/calltop/calltop/feed"
)

// The decoders below take the few values the accountant needs from the
// frames it reads (see extract.go for how, and why not encoding/json).
// Each returns an error, and nothing, for a frame it cannot read.

// responseInfo is what a response.done tells the accountant.
type responseInfo struct {
	id, status string
	// reason is status_details.reason for responses not completed.
	reason string
	usage  *feed.Tokens // nil: the response has no usage block
}

func decodeResponseDone(frame []byte) (responseInfo, error) {
	var r responseInfo
	var details []byte
	err := eachMemberField(frame, "response", func(k, v []byte) (err error) {
		switch string(k) {
		case "id":
			r.id, err = jsonString(v)
		case "status":
			r.status, err = jsonString(v)
		case "status_details":
			details = v
		case "usage":
			r.usage, err = decodeUsage(v, r.usage)
		}
		return err
	})
	if err != nil {
		return responseInfo{}, err
	}
	// status_details is an object ({type, reason, error}) on the wire,
	// although openai-go types it as a string; anything else, or a
	// reason that does not read, only leaves the reason unknown.
	if r.status != "completed" && len(details) > 0 && details[0] == '{' {
		_ = eachField(details, func(k, v []byte) error {
			if string(k) == "reason" {
				if s, err := jsonString(v); err == nil {
					r.reason = s
				}
			}
			return nil
		})
	}
	return r, nil
}

// decodeUsage reads a response's usage block into t (a new one if nil),
// as encoding/json fills a pointer field; null is nil.
func decodeUsage(v []byte, t *feed.Tokens) (*feed.Tokens, error) {
	if isNull(v) {
		return nil, nil
	}
	if t == nil {
		t = new(feed.Tokens)
	}
	err := eachField(v, func(k, v []byte) (err error) {
		switch string(k) {
		case "total_tokens":
			t.Total, err = jsonInt(v)
		case "input_tokens":
			t.Input, err = jsonInt(v)
		case "output_tokens":
			t.Output, err = jsonInt(v)
		case "input_token_details":
			err = eachField(v, func(k, v []byte) (err error) {
				switch string(k) {
				case "text_tokens":
					t.InputText, err = jsonInt(v)
				case "audio_tokens":
					t.InputAudio, err = jsonInt(v)
				case "image_tokens":
					t.InputImage, err = jsonInt(v)
				case "cached_tokens":
					t.InputCached, err = jsonInt(v)
				case "cached_tokens_details":
					err = intFields(v, modalities[:], &t.CachedText, &t.CachedAudio, &t.CachedImage)
				}
				return err
			})
		case "output_token_details":
			err = intFields(v, modalities[:2], &t.OutputText, &t.OutputAudio)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

var modalities = [...]string{"text_tokens", "audio_tokens", "image_tokens"}

// sessionInfo is what a session.updated (or session.created) tells the
// accountant.
type sessionInfo struct {
	id, model string
	expiresAt int64
	// transcriptionModel is audio.input.transcription.model; hasTranscription
	// is false when the session says nothing about transcription (null or
	// absent), which leaves the model known so far in place.
	transcriptionModel string
	hasTranscription   bool
}

func decodeSession(frame []byte) (sessionInfo, error) {
	var s sessionInfo
	var audio []byte
	err := eachMemberField(frame, "session", func(k, v []byte) (err error) {
		switch string(k) {
		case "id":
			s.id, err = jsonString(v)
		case "model":
			s.model, err = jsonString(v)
		case "expires_at":
			s.expiresAt, err = jsonInt(v)
		case "audio":
			audio = v
		}
		return err
	})
	if err != nil || audio == nil {
		return s, err
	}
	// audio.input.transcription.model: a few hundred bytes, walked level
	// by level.
	input, err := field(audio, "input")
	if err != nil || input == nil {
		return s, err
	}
	tr, err := field(input, "transcription")
	if err != nil || tr == nil || isNull(tr) {
		return s, err
	}
	model, err := field(tr, "model")
	if err != nil {
		return s, err
	}
	if model != nil {
		if s.transcriptionModel, err = jsonString(model); err != nil {
			return s, err
		}
	}
	s.hasTranscription = true
	return s, nil
}

// transcriptionInfo is what an input transcription's completion tells
// the accountant.
type transcriptionInfo struct {
	itemID       string
	contentIndex int64
	usage        *transcriptionUsage // nil: no usage (nothing to count)
}

type transcriptionUsage struct {
	kind                           string // "tokens" or "duration"
	total, output, audioIn, textIn int64
	seconds                        float64
}

func decodeTranscription(frame []byte) (transcriptionInfo, error) {
	var t transcriptionInfo
	err := eachField(frame, func(k, v []byte) (err error) {
		switch string(k) {
		case "item_id":
			t.itemID, err = jsonString(v)
		case "content_index":
			t.contentIndex, err = jsonInt(v)
		case "usage":
			t.usage, err = decodeTranscriptionUsage(v)
		}
		return err
	})
	if err != nil {
		return transcriptionInfo{}, err
	}
	return t, nil
}

func decodeTranscriptionUsage(v []byte) (*transcriptionUsage, error) {
	if isNull(v) {
		return nil, nil
	}
	var u transcriptionUsage
	err := eachField(v, func(k, v []byte) (err error) {
		switch string(k) {
		case "type":
			u.kind, err = jsonString(v)
		case "total_tokens":
			u.total, err = jsonInt(v)
		case "output_tokens":
			u.output, err = jsonInt(v)
		case "seconds":
			u.seconds, err = jsonFloat(v)
		case "input_token_details":
			err = intFields(v, modalities[:2], &u.textIn, &u.audioIn)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// decodeSpeechMark reads audio_start_ms or audio_end_ms (name) of an
// input_audio_buffer.speech_started/stopped.
func decodeSpeechMark(frame []byte, name string) (int64, error) {
	v, err := field(frame, name)
	if err != nil || v == nil {
		return 0, err
	}
	return jsonInt(v)
}

// decodeErrorCode reads error.code of an error event.
func decodeErrorCode(frame []byte) (string, error) {
	e, err := field(frame, "error")
	if err != nil || e == nil {
		return "", err
	}
	code, err := field(e, "code")
	if err != nil || code == nil {
		return "", err
	}
	return jsonString(code)
}

// field returns the value of key name in object v (the last one, as
// encoding/json would use), nil when absent or when v is null.
func field(v []byte, name string) ([]byte, error) {
	var out []byte
	err := eachField(v, func(k, val []byte) error {
		if string(k) == name {
			out = val
		}
		return nil
	})
	return out, err
}
