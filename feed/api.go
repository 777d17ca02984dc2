package feed

import "strings"

// API says which of OpenAI's voice APIs a call runs on. The two are
// metered differently: a Realtime call by the tokens of each response, a
// GPT-Live session by the seconds OpenAI reports (cumulatively), so
// dashboards show tokens for one and seconds for the other.
type API string

// The voice APIs.
const (
	// APIRealtime: a Realtime call ("rtc_…"), sideband
	// /v1/realtime?call_id=, per-response token usage. The zero API reads
	// as Realtime: agents before GPT-Live support did not say.
	APIRealtime API = "realtime"
	// APILive: a GPT-Live session ("live_…"), sideband
	// /v1/live/sessions/{id}/attach, cumulative usage.seconds and a
	// terminal session.closed.
	APILive API = "live"
)

// LivePrefix starts the id of a GPT-Live session created over WebRTC.
// (A SIP call answered on the Live API keeps its "rtc_" id, so the API
// cannot always be read from the id.)
const LivePrefix = "live_"

// APIOf is the API a call id suggests: Live for "live_…", else Realtime.
func APIOf(id string) API {
	if strings.HasPrefix(id, LivePrefix) {
		return APILive
	}
	return APIRealtime
}

// Or returns a, or Realtime when a is empty (older agents' events).
func (a API) Or() API {
	if a == "" {
		return APIRealtime
	}
	return a
}

// Short is the API's dashboard label: "rt" or "live".
func (a API) Short() string {
	if a == APILive {
		return "live"
	}
	return "rt"
}

// ParseAPI reads an API name as users write it ("realtime", "rt",
// "live"); ok is false for anything else.
func ParseAPI(s string) (API, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "realtime", "rt":
		return APIRealtime, true
	case "live", "gpt-live":
		return APILive, true
	}
	return "", false
}
