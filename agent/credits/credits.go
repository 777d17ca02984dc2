package credits

import (
	"context"

	"github.com/calltop/calltop/feed"
)

// Credits is a per-user prepaid balance in micro-dollars, the interface an
// app implements over its own billing (or FromStore over calltop's
// built-in store).
//
// The agent reads Remaining when a call is admitted and again as its calls
// run, and Charges each call's running total as the call spends (after
// each response, transcription or billed second) and once more when it
// ends. A call is cut when its own spend not yet charged reaches what its
// user has left, so calls of one user on several agents share one balance.
type Credits interface {
	// Remaining is what user has left now, with what their live calls
	// were charged so far deducted; ok false means the user has no credit
	// limit. On an error the user's policy decides
	// (policy.Policy.CreditsUnavailable): by default new calls are refused
	// with 503, and calls OpenAI already has run on the last balance read.
	Remaining(ctx context.Context, user string) (left feed.Micros, ok bool, err error)
	// Charge says that callID, a call of user, has cost total so far: its
	// running total, not an increment. The implementation debits total
	// minus what it already debited for callID when that is positive, and
	// nothing otherwise (a lower or equal total is no refund). It must be
	// idempotent per callID: the agent charges again on retries and after
	// a restart, and an agent that adopts a call whose owner died charges
	// the call's running total, part of which the owner charged already.
	// It may take a balance below zero (a call's cost overshoots what was
	// left).
	Charge(ctx context.Context, user, callID string, total feed.Micros) error
}

// Settler is a Credits that keeps a call's charges apart from the balance
// while the call runs (calltop's store: in a counter per call) and folds
// them in when it ends. The agent calls Settle, with the call's final
// total, instead of the last Charge. Like Charge it is idempotent.
type Settler interface {
	Settle(ctx context.Context, user, callID string, total feed.Micros) error
}

// Watcher is a Credits that can say when a user's balance may have
// changed, so agents cut a call as soon as another agent's call spent the
// user's last credit, not at their next periodic read. changed gets the
// user's key (feed.UserKey).
type Watcher interface {
	WatchChanges(changed func(userKey string)) (stop func(), err error)
}

// FromStore adapts calltop's built-in credit store (feed.Client.Credits)
// to Credits: Remaining is the balance minus the live calls' spend,
// Charge raises the call's spend counter, Settle charges the balance once
// and clears the counter. It is also a Settler and a Watcher.
func FromStore(s *feed.CreditStore) Credits { return storeCredits{s} }

type storeCredits struct{ s *feed.CreditStore }

func (c storeCredits) Remaining(ctx context.Context, user string) (feed.Micros, bool, error) {
	return c.s.Available(ctx, user)
}

func (c storeCredits) Charge(ctx context.Context, user, callID string, total feed.Micros) error {
	return c.s.Spend(ctx, user, callID, total)
}

func (c storeCredits) Settle(ctx context.Context, user, callID string, total feed.Micros) error {
	return c.s.Settle(ctx, user, callID, total)
}

func (c storeCredits) WatchChanges(changed func(userKey string)) (func(), error) {
	return c.s.WatchChanges(changed)
}

// Ensure recreates the store's buckets after NATS lost its data; the
// agent calls it when it heals NATS.
func (c storeCredits) Ensure(ctx context.Context) error { return c.s.Ensure(ctx) }
