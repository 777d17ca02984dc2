package agent

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The lean decoders must read what encoding/json reads (stdjson_test.go),
// value for value, and fail where it fails.

func TestDecodersAgreeWithEncodingJSON(t *testing.T) {
	frames := []string{
		frameResponseDone, frameResponseCancelled, frameTranscriptionTokens, frameTranscriptionDuration,
		frameSpeechStarted, frameSpeechStopped, frameError, frameExpired, bigSessionUpdated(),
		// null everywhere a value is read
		`{"type":"response.done","response":null}`,
		`{"type":"response.done","response":{"id":null,"status":null,"status_details":null,"usage":null}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":null,"input_token_details":null,"output_token_details":{"text_tokens":null}}}}`,
		`{"type":"session.updated","session":{"id":null,"model":null,"expires_at":null,"audio":null}}`,
		`{"type":"session.updated","session":{"audio":{"input":{"transcription":null}}}}`,
		`{"type":"session.updated","session":{"audio":{"input":{"transcription":{}}}}}`,
		`{"type":"conversation.item.input_audio_transcription.completed","usage":null}`,
		// strings with escapes, non-ASCII and invalid UTF-8 go through encoding/json
		`{"type":"response.done","response":{"id":"resp_\u00e9\"x\\","status":"incomplete","status_details":{"reason":"max_output_tokens"}}}`,
		"{\"type\":\"session.updated\",\"session\":{\"id\":\"s\xff\xfe\",\"model\":\"gpt-réaltime\"}}",
		// status_details that is not an object, or whose reason does not read
		`{"type":"response.done","response":{"status":"failed","status_details":"oops"}}`,
		`{"type":"response.done","response":{"status":"failed","status_details":{"reason":7}}}`,
		`{"type":"response.done","response":{"status":"completed","status_details":{"reason":"x"}}}`,
		// numbers: big, negative, zero, fractions and exponents (errors for int64)
		`{"type":"response.done","response":{"usage":{"total_tokens":999999999999999999,"input_tokens":-5,"output_tokens":0}}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":9223372036854775807}}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":9223372036854775808}}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":1.5}}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":1e3}}}`,
		`{"type":"conversation.item.input_audio_transcription.completed","usage":{"type":"duration","seconds":2.5e0}}`,
		`{"type":"input_audio_buffer.speech_started","audio_start_ms":-1}`,
		// the wrong kind of value where one is read
		`{"type":"response.done","response":[]}`,
		`{"type":"response.done","response":{"id":5}}`,
		`{"type":"response.done","response":{"usage":"oops"}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":"5"}}}`,
		`{"type":"response.done","response":{"usage":{"input_token_details":{"cached_tokens_details":[]}}}}`,
		`{"type":"session.updated","session":[]}`,
		`{"type":"session.updated","session":{"expires_at":true}}`,
		`{"type":"session.updated","session":{"audio":{"input":{"transcription":"whisper"}}}}`,
		`{"type":"session.updated","session":{"audio":{"input":{"transcription":{"model":1}}}}}`,
		`{"type":"conversation.item.input_audio_transcription.completed","content_index":"0"}`,
		`{"type":"conversation.item.input_audio_transcription.completed","usage":{"seconds":"3"}}`,
		`{"type":"error","error":{"code":false}}`,
		`{"type":"error","error":"boom"}`,
		// what is skipped is not read
		`{"type":"response.done","response":{"output":[{"usage":"x","id":5}],"id":"r"},"usage":7}`,
	}
	for _, f := range frames {
		checkAgainstEncodingJSON(t, []byte(f))
	}
	// Malformed where a decoder reads is an error for that decoder.
	// (Malformed inside what it skips may pass: skipping checks structure,
	// not number or literal syntax.)
	for _, f := range []string{
		`{"type":"response.done","response":{"id":"r"}} trailing`,
		`{"type":"response.done","response":{"id":"r"`,
		`{"type":"response.done","response":{"id" "r"}}`,
		`{"type":"response.done","response":{"usage":{"total_tokens":12x}}}`,
		`{"type":"response.done","response":{"status":"complet`,
		`{"type":"session.updated","session":{"id":"s","model":tru}}`,
		`{"type":"session.updated","session":{"id":"s",}}`,
		`{"type":"session.updated","session":{"audio":{"input":{"transcription":{"model":"x"]}}}}`,
	} {
		var err error
		if strings.Contains(f, "response.done") {
			_, err = decodeResponseDone([]byte(f))
		} else {
			_, err = decodeSession([]byte(f))
		}
		if err == nil {
			t.Errorf("%s: no error", f)
		}
	}
}

// checkAgainstEncodingJSON compares every lean decoder with its reference
// on frame.
func checkAgainstEncodingJSON(t *testing.T, frame []byte) {
	t.Helper()
	r1, e1 := decodeResponseDone(frame)
	r2, e2 := stdResponse(frame)
	agree(t, "response.done", frame, r1, e1, r2, e2)
	s1, e1 := decodeSession(frame)
	s2, e2 := stdSession(frame)
	agree(t, "session", frame, s1, e1, s2, e2)
	t1, e1 := decodeTranscription(frame)
	t2, e2 := stdTranscription(frame)
	agree(t, "transcription", frame, t1, e1, t2, e2)
	var m stdSpeechMark
	e2 = json.Unmarshal(frame, &m)
	start, e1 := decodeSpeechMark(frame, "audio_start_ms")
	agree(t, "audio_start_ms", frame, start, e1, m.AudioStartMs, e2)
	end, e1 := decodeSpeechMark(frame, "audio_end_ms")
	agree(t, "audio_end_ms", frame, end, e1, m.AudioEndMs, e2)
	var e stdError
	e2 = json.Unmarshal(frame, &e)
	code, e1 := decodeErrorCode(frame)
	agree(t, "error.code", frame, code, e1, e.Error.Code, e2)
}

func agree(t *testing.T, what string, frame []byte, lean any, leanErr error, std any, stdErr error) {
	t.Helper()
	if (leanErr == nil) != (stdErr == nil) {
		t.Errorf("%s of %.120q: lean error %v, encoding/json error %v", what, frame, leanErr, stdErr)
		return
	}
	if leanErr == nil && !reflect.DeepEqual(lean, std) {
		t.Errorf("%s of %.120q:\n lean          %+v\n encoding/json %+v", what, frame, lean, std)
	}
}

// FuzzExtract checks the lean decoders against encoding/json on arbitrary
// frames: they never panic, and on valid JSON whose type is a string they
// read the same values and fail alike. Frames are left out of the
// comparison where the two differ by design: keys that are not plain lower
// case (encoding/json matches keys case-insensitively, with Unicode
// folding, and decodes escapes in them) or repeated in one object
// (encoding/json merges repeated objects).
func FuzzExtract(f *testing.F) {
	for _, s := range []string{frameResponseDone, frameResponseCancelled, frameTranscriptionTokens, frameTranscriptionDuration,
		frameSpeechStarted, frameSpeechStopped, frameError, frameExpired, bigSessionUpdated()[:4096] + `"}}`,
		`{"type":"session.updated","session":{"id":"s","model":"m","expires_at":1,"audio":{"input":{"transcription":{"model":"t"}}}}}`,
		`{"type":"response.done","response":{"status":"cancelled","status_details":{"reason":"turn_detected"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if _, err := peekType(frame); err != nil || !json.Valid(frame) || !plainKeys(frame) {
			_, _ = decodeResponseDone(frame)
			_, _ = decodeSession(frame)
			_, _ = decodeTranscription(frame)
			_, _ = decodeSpeechMark(frame, "audio_end_ms")
			_, _ = decodeErrorCode(frame)
			return
		}
		checkAgainstEncodingJSON(t, frame)
	})
}

// plainKeys reports whether every key of every object of v that is not
// inside an array (the decoders read nothing inside arrays) is lower-case
// ASCII, digits or '_', and unique in its object.
func plainKeys(v []byte) bool {
	ok := true
	seen := map[string]bool{}
	err := eachField(v, func(k, val []byte) error {
		if seen[string(k)] || strings.Trim(string(k), "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			ok = false
		}
		seen[string(k)] = true
		if len(val) > 0 && val[0] == '{' && !plainKeys(val) {
			ok = false
		}
		return nil
	})
	return ok && err == nil
}

func TestPlainKeys(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a_1":{"b":2},"c":[{"A":1,"A":2}]}`: true,
		`{"a":1,"a":2}`:                       false,
		`{"a":{"b":1,"b":2}}`:                 false,
		`{"Type":"x"}`:                        false,
		`{"\u0074ype":"x"}`:                   false,
		`{"ſtatus":"x"}`:                      false,
	} {
		if got := plainKeys([]byte(in)); got != want {
			t.Errorf("plainKeys(%s) = %v, want %v", in, got, want)
		}
	}
}
