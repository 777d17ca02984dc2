package tui

import "time"

// statusKind is how a footer message is shown.
type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusErr
)

// How long footer messages stay. Errors stay longer: they are what an
// operator must not miss.
const (
	statusTTL    = 6 * time.Second
	statusErrTTL = 20 * time.Second
)

// status is the transient message of the footer, e.g. "terminate sent to
// rtc_…" or an error from Terminate.
type status struct {
	text  string
	kind  statusKind
	until time.Time
}

// set replaces the message.
func (s *status) set(kind statusKind, text string, now time.Time) {
	ttl := statusTTL
	if kind == statusErr {
		ttl = statusErrTTL
	}
	*s = status{text: text, kind: kind, until: now.Add(ttl)}
}

// expire clears the message once its time is up.
func (s *status) expire(now time.Time) {
	if s.text != "" && !now.Before(s.until) {
		*s = status{}
	}
}
