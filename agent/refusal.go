package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/calltop/calltop/feed"
)

// Refusal is an admission decision against a call, returned (as an error)
// by Config.Admit or an integration's own check. The agent answers the
// caller with Status and a JSON body naming Reason, publishes a refused
// event, and never contacts OpenAI.
type Refusal struct {
	Status int    // HTTP status: 402 (no credit), 429 (too many calls), 403 …
	Reason string // short code: credits, concurrency, hourly, app …
	Detail string // for people
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("refused (%d %s): %s", r.Status, r.Reason, r.Detail)
}

// Admission modes, as published in refused events.
const (
	ModeRelay        = "relay"
	ModeClientSecret = "client_secret"
	ModeSIP          = "sip"
)

// admit runs the agent-wide admission hook, then extra (an integration's
// own), and publishes a refused event for a refusal. A plain error from a
// hook refuses with 503: when the check itself fails, the safe answer is
// no call.
func (a *Agent) admit(ctx context.Context, mode, user string, extra func() error) *Refusal {
	var err error
	if a.cfg.Admit != nil {
		err = a.cfg.Admit(ctx, mode, user)
	}
	if err == nil && extra != nil {
		err = extra()
	}
	if err == nil {
		return nil
	}
	var ref *Refusal
	if !errors.As(err, &ref) {
		ref = &Refusal{Status: http.StatusServiceUnavailable, Reason: "admission_error", Detail: err.Error()}
	}
	if ref.Status == 0 {
		ref.Status = http.StatusForbidden
	}
	pubErr := a.feed.Publish(feed.Event{Kind: feed.KindRefused, User: userOrAnon(user), Agent: a.cfg.Name, At: time.Now().UTC(),
		Refusal: &feed.Refusal{Mode: mode, Status: ref.Status, Reason: ref.Reason, Detail: ref.Detail}})
	if pubErr != nil {
		a.log.Warn("publish refusal", "err", pubErr)
	}
	a.log.Info("call refused", "mode", mode, "user", user, "status", ref.Status, "reason", ref.Reason)
	return ref
}

func userOrAnon(u string) string {
	if u == "" {
		return "(anonymous)"
	}
	return u
}
