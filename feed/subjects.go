package feed

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// DefaultPrefix is the first subject token unless configured otherwise.
const DefaultPrefix = "calltop"

// Subjects builds calltop's NATS subjects under a prefix, so several
// installations (or tests) can share one NATS without seeing each other.
//
//	<prefix>.v1.call.<call_id>.<kind>      call events (started, session, usage, warning, flag, ended)
//	<prefix>.v1.user.<user key>.<kind>     user events without a call (flag, refused)
//	<prefix>.v1.agent.<agent>.heartbeat    agent liveness
//	<prefix>.v1.ctl.<call_id>.terminate    terminate request/reply to the owning agent
type Subjects struct {
	Prefix string
}

// NewSubjects checks prefix (one or more dot-separated tokens of letters,
// digits, '_' or '-') and returns its Subjects; "" means DefaultPrefix.
func NewSubjects(prefix string) (Subjects, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for _, tok := range strings.Split(prefix, ".") {
		if err := ValidateCallID(tok); err != nil {
			return Subjects{}, fmt.Errorf("subject prefix %q: token %q: letters, digits, '_' and '-' only", prefix, tok)
		}
	}
	return Subjects{Prefix: prefix}, nil
}

func (s Subjects) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Call is the subject of one kind of event of one call. callID must have
// passed ValidateCallID.
func (s Subjects) Call(callID string, kind Kind) string {
	return s.prefix() + ".v1.call." + callID + "." + string(kind)
}

// User is the subject of one kind of user event.
func (s Subjects) User(user string, kind Kind) string {
	return s.prefix() + ".v1.user." + UserKey(user) + "." + string(kind)
}

// Agent is the subject of one kind of agent event.
func (s Subjects) Agent(agent string, kind Kind) string {
	return s.prefix() + ".v1.agent." + Token(agent) + "." + string(kind)
}

// Of is the subject e is published on.
func (s Subjects) Of(e *Event) string {
	switch e.Scope() {
	case ScopeUser:
		return s.User(e.User, e.Kind)
	case ScopeAgent:
		return s.Agent(e.Agent, e.Kind)
	}
	return s.Call(e.CallID, e.Kind)
}

// Stored is every subject the events stream keeps. Terminate requests are
// deliberately not among them: a stream answers publishes that carry a
// reply subject, and would answer a terminate before the agent could.
func (s Subjects) Stored() []string {
	p := s.prefix() + ".v1."
	return []string{p + "call.>", p + "user.>", p + "agent.>"}
}

// UserKey turns a user (an email, an id: any string) into a subject token:
// the first 16 hex digits of its SHA-256, so the newest event of each kind
// per user can be replayed without putting '.' or '@' in a subject.
func UserKey(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:8])
}

// Token makes a name safe as one subject token: every byte that is not a
// letter, digit, '_' or '-' becomes '_' ("web-1.eu" → "web-1_eu").
func Token(name string) string {
	if name == "" {
		return "_"
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > MaxCallIDLen {
		b = b[:MaxCallIDLen]
	}
	return string(b)
}

// Terminate is the subject the owning agent of callID answers terminate
// requests on.
func (s Subjects) Terminate(callID string) string {
	return s.prefix() + ".v1.ctl." + callID + ".terminate"
}

// Stream is the JetStream stream that keeps call events for late
// dashboards, history and audit: "CALLTOP" for the default prefix.
func (s Subjects) Stream() string {
	return strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(s.prefix()))
}
