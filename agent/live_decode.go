package agent

import (
	"github.com/calltop/calltop/feed"
)

// The decoders of GPT-Live sideband frames, on the same scanner as the
// Realtime ones (extract.go). Each returns an error, and nothing, for a
// frame it cannot read.

// liveSessionInfo is what session.started and session.closed say about
// the session.
type liveSessionInfo struct {
	id, model string
	expiresAt int64
}

// liveFrame is what one Live frame tells the accountant.
type liveFrame struct {
	session liveSessionInfo
	// seconds is usage.seconds (cumulative), hasSeconds whether it was
	// there.
	seconds    float64
	hasSeconds bool
	reason     string // session.closed
}

// decodeLive reads session.started, session.usage.updated and
// session.closed: their session and usage members and the close reason.
func decodeLive(frame []byte) (liveFrame, error) {
	var f liveFrame
	err := walkFrame(frame, func(k []byte, vs int) (int, error) {
		ve, err := skipValue(frame, vs)
		if err != nil {
			return 0, err
		}
		v := frame[vs:ve]
		switch string(k) {
		case "session":
			if isNull(v) {
				return ve, nil
			}
			return ve, eachField(v, func(k, v []byte) (err error) {
				switch string(k) {
				case "id":
					f.session.id, err = jsonString(v)
				case "model":
					f.session.model, err = jsonString(v)
				case "expires_at":
					f.session.expiresAt, err = jsonInt(v)
				}
				return err
			})
		case "usage":
			if isNull(v) {
				return ve, nil
			}
			return ve, eachField(v, func(k, v []byte) (err error) {
				if string(k) == "seconds" {
					f.seconds, err = jsonFloat(v)
					f.hasSeconds = err == nil
				}
				return err
			})
		case "reason":
			f.reason, err = jsonString(v)
		}
		return ve, err
	})
	return f, err
}

// backendInfo is the usage of one delegated Responses backend response,
// nested in a response.event.
type backendInfo struct {
	id, model string
	usage     *feed.Tokens // nil: no usage block (a streaming delta)
}

// decodeBackend reads a response.event: the nested Responses event's
// response id, model and usage, when it has them (response.completed,
// .failed and .incomplete do; deltas do not).
func decodeBackend(frame []byte) (backendInfo, error) {
	var b backendInfo
	ev, err := field(frame, "event")
	if err != nil || ev == nil || isNull(ev) {
		return b, err
	}
	resp, err := field(ev, "response")
	if err != nil || resp == nil || isNull(resp) {
		return b, err
	}
	err = eachField(resp, func(k, v []byte) (err error) {
		switch string(k) {
		case "id":
			b.id, err = jsonString(v)
		case "model":
			b.model, err = jsonString(v)
		case "usage":
			b.usage, err = decodeResponsesUsage(v)
		}
		return err
	})
	return b, err
}

// decodeResponsesUsage reads a Responses API usage block: input_tokens
// (cached_tokens a subset), output_tokens (reasoning_tokens a subset),
// total_tokens. Backend tokens are text.
func decodeResponsesUsage(v []byte) (*feed.Tokens, error) {
	if isNull(v) {
		return nil, nil
	}
	t := new(feed.Tokens)
	err := eachField(v, func(k, v []byte) (err error) {
		switch string(k) {
		case "input_tokens":
			t.Input, err = jsonInt(v)
		case "output_tokens":
			t.Output, err = jsonInt(v)
		case "total_tokens":
			t.Total, err = jsonInt(v)
		case "input_tokens_details":
			if isNull(v) {
				return nil
			}
			var c []byte
			if c, err = field(v, "cached_tokens"); err == nil && c != nil && !isNull(c) {
				t.InputCached, err = jsonInt(c)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	t.InputText, t.OutputText, t.CachedText = t.Input, t.Output, t.InputCached
	if t.Total == 0 {
		t.Total = t.Input + t.Output
	}
	return t, nil
}
