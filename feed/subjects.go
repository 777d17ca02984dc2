package feed

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the first subject token unless configured otherwise.
const DefaultPrefix = "calltop"

// Subjects builds calltop's NATS subjects under a prefix, so several
// installations (or tests) can share one NATS without seeing each other.
//
//	<prefix>.v1.call.<call_id>.<kind>      call events (started, session, usage, ended)
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

// AllCalls matches every call event.
func (s Subjects) AllCalls() string { return s.prefix() + ".v1.call.>" }

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
