package credits

import (
	"context"

	"github.com/calltop/calltop/feed"
)

// Credits is a per-user prepaid balance in micro-dollars, the interface an
// app implements over its own billing (or FromStore over calltop's
// built-in store). The agent reads Remaining when a call is admitted and
// starts, cuts the call when its cost reaches that, and Charges the call's
// cost.
type Credits interface {
	// Remaining is what user has left; ok false means the user has no
	// credit limit. On an error the user's policy decides
	// (policy.Policy.CreditsUnavailable): by default new calls are refused with
	// 503, and calls OpenAI already has run flagged until it answers.
	Remaining(ctx context.Context, user string) (left feed.Micros, ok bool, err error)
	// Charge says that callID, a call of user, has cost total so far: its
	// running total, not an increment. The implementation debits total
	// minus what it already debited for callID when that is positive, and
	// nothing otherwise (a lower or equal total is no refund). It must be
	// idempotent per callID: the agent charges again after a restart and
	// on retries, and an agent that adopts a call whose owner died charges
	// the call's whole running total, part of which the owner may have
	// charged already. It may take a balance below zero (a call's cost
	// overshoots what was left).
	Charge(ctx context.Context, user, callID string, total feed.Micros) error
}

// FromStore adapts calltop's built-in credit store (feed.Client.Credits)
// to Credits.
func FromStore(s *feed.CreditStore) Credits { return storeCredits{s} }

type storeCredits struct{ s *feed.CreditStore }

func (c storeCredits) Remaining(ctx context.Context, user string) (feed.Micros, bool, error) {
	return c.s.Balance(ctx, user)
}

func (c storeCredits) Charge(ctx context.Context, user, callID string, total feed.Micros) error {
	_, err := c.s.Charge(ctx, user, callID, total)
	return err
}

// Ensure recreates the store's buckets after NATS lost its data; the
// agent calls it when it heals NATS.
func (c storeCredits) Ensure(ctx context.Context) error { return c.s.Ensure(ctx) }
