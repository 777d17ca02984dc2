package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/calltop/calltop/agent/policy"
	"github.com/calltop/calltop/feed"
)

// RefusedError is an admission decision against a call: return one from
// Config.Admit or RelayConfig.Admit to refuse a call, and test for one
// with errors.As on what MintClientSecret returns. The agent answers the
// caller with Status and a JSON body naming Reason, publishes a refused
// event (a feed.Refusal, the wire form of it), and never contacts OpenAI.
type RefusedError struct {
	Status int    // HTTP status: 402 (no credit), 429 (too many calls), 403 …
	Reason string // short code: credits, concurrency, hourly, app …
	Detail string // for people
}

func (r *RefusedError) Error() string {
	return fmt.Sprintf("refused (%d %s): %s", r.Status, r.Reason, r.Detail)
}

// policy.Admission modes, as published in refused events.
const (
	ModeRelay        = "relay"
	ModeClientSecret = "client_secret"
	ModeSIP          = "sip"
)

// admit decides whether user may start a call, before OpenAI is
// contacted: first the built-in checks (credit left, the policy's
// concurrency and hourly limits), then Config.Admit, then extra (an
// integration's own). A refusal is published as a refused event. counted
// reports that the admission counted the call as live: the caller must
// track it with Meta.admitted (and the credits read here), or release it
// when the call is not made.
// With check set nothing is counted (minting a key starts no call).
//
// A hook's plain error refuses with 503: when the check itself fails, the
// safe answer is no call. An unreadable credit store refuses with 503 too
// (reason credits_unavailable), unless the user's policy says
// credits_unavailable "allow": then the call is admitted with unknown
// credit (unknown set), flagged, and reads its credit again as it runs.
func (a *Agent) admit(ctx context.Context, mode, user string, check bool, extra func() error) (counted bool, credits *feed.Micros, unknown bool, ref *RefusedError) {
	now := time.Now()
	if a.cfg.Credits != nil {
		usd, ok, err := a.cfg.Credits.Remaining(ctx, user)
		a.creditsRead(err)
		switch {
		case err != nil && a.policyOf(user).CreditsUnavailableMode() == policy.CreditsAllow:
			a.log.Warn("credits unreadable at admission; admitting (credits_unavailable: allow)", "user", user, "err", err)
			unknown = true
		case err != nil:
			ref = &RefusedError{Status: http.StatusServiceUnavailable, Reason: "credits_unavailable",
				Detail: "the credit store cannot be read now; try again shortly"}
			a.refused(mode, user, ref, now)
			a.log.Warn("credits unreadable at admission; refusing", "user", user, "err", err)
			return false, nil, false, ref
		case ok:
			credits = &usd
		}
	}
	var d policy.Decision
	if check {
		d = a.adm.Check(user, now, credits)
		if d.OK {
			d = a.counts.checkOnly(ctx, user, a.policyOf(user), now)
		}
	} else {
		d = a.adm.Decide(user, now, credits)
		if d.OK {
			// Counted here; now across agents (see sharedCounts).
			if d = a.counts.admit(ctx, user, a.policyOf(user), now); !d.OK {
				a.adm.Release(user)
			}
		}
	}
	var err error
	if !d.OK {
		err = &RefusedError{Status: d.Status, Reason: d.Reason, Detail: d.Detail}
	}
	counted = d.OK && !check
	if err == nil && a.cfg.Admit != nil {
		err = a.cfg.Admit(ctx, mode, user)
	}
	if err == nil && extra != nil {
		err = extra()
	}
	if err == nil {
		return counted, credits, unknown, nil
	}
	if counted {
		a.release(user)
	}
	if !errors.As(err, &ref) {
		ref = &RefusedError{Status: http.StatusServiceUnavailable, Reason: "admission_error", Detail: err.Error()}
	}
	if ref.Status == 0 {
		ref.Status = http.StatusForbidden
	}
	a.refused(mode, user, ref, now)
	return false, nil, false, ref
}

// refused publishes a refusal and logs it.
func (a *Agent) refused(mode, user string, ref *RefusedError, now time.Time) {
	status := ref.Status
	if mode == ModeSIP {
		status = sipRefusalStatus // what the caller was answered
	}
	e := feed.Event{Kind: feed.KindRefused, User: userOrAnon(user), Agent: a.cfg.Name, At: now.UTC(),
		Refusal: &feed.Refusal{Mode: mode, Status: status, Reason: ref.Reason, Detail: ref.Detail}}
	pubErr := a.feed.Publish(e)
	a.stats.refused(ref.Reason)
	a.notify(e)
	if pubErr != nil {
		a.stats.publishFailed()
		a.log.Warn("publish refusal", "err", pubErr)
	}
	a.log.Info("call refused", "mode", mode, "user", user, "status", status, "reason", ref.Reason)
}

// policyOf is user's policy (the zero policy.Policy without PolicyFor).
func (a *Agent) policyOf(user string) policy.Policy {
	if a.cfg.PolicyFor == nil {
		return policy.Policy{}
	}
	return a.cfg.PolicyFor(user)
}

func userOrAnon(u string) string {
	if u == "" {
		return "(anonymous)"
	}
	return u
}
