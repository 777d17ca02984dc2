package realtimetest

import (
	"encoding/json"
	"slices"
	"time"
)

// SecretInfo describes a client secret minted by POST
// /v1/realtime/client_secrets and what it was used for.
type SecretInfo struct {
	Value        string          // the "ek_…" the client got
	SessionID    string          // the session.id of the mint response
	Model        string          // the session's model
	Session      json.RawMessage // the session configuration as the client sent it
	ExpiresAfter time.Duration   // expires_after.seconds (default 600s)
	CreatedAt    time.Time
	ExpiresAt    time.Time // CreatedAt + ExpiresAfter; the response's expires_at is its Unix()
	Calls        []string  // calls and Live sessions created with it (POST /v1/realtime/calls or /v1/live/sessions with Bearer ek_…), oldest first
}

// Expired reports whether the secret can no longer start calls at t.
func (si SecretInfo) Expired(t time.Time) bool { return !t.Before(si.ExpiresAt) }

// Secrets returns every client secret minted so far, expired ones
// included, oldest first. A secret can start any number of calls until it
// expires (openai-realtime.md §1a); an expired one gets 401 on POST
// /v1/realtime/calls, and calls already started run on.
func (s *Server) Secrets() []SecretInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SecretInfo, 0, len(s.secrets))
	for _, sec := range s.secrets {
		out = append(out, SecretInfo{
			Value:        sec.value,
			SessionID:    sec.sessID,
			Model:        sec.sess.model,
			Session:      append(json.RawMessage(nil), sec.requested...),
			ExpiresAfter: sec.ttl,
			CreatedAt:    sec.created,
			ExpiresAt:    sec.expiresAt,
			Calls:        slices.Clone(sec.calls),
		})
	}
	slices.SortFunc(out, func(a, b SecretInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// CallSession returns the session configuration a call was created with,
// as the client sent it: the "session" part of the multipart form of POST
// /v1/realtime/calls, the session of the client secret a raw-SDP call was
// created with, or the body of the accept that answered a SIP call. It is
// nil for calls created without one (NewCall, raw SDP with the standard
// key, a multipart form without a session part) and for unknown calls.
// Tests use it to check that an agent forwarded the app's configuration.
func (s *Server) CallSession(callID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[callID]; c != nil && c.requested != nil {
		return append(json.RawMessage(nil), c.requested...)
	}
	return nil
}
