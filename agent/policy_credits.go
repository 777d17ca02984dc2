package agent

import (
	"context"

	"github.com/calltop/calltop/feed"
)

// Credits is a per-user prepaid balance in USD, the interface an app
// implements over its own billing (or StoreCredits over calltop's built-in
// store). The agent reads Remaining when a call is admitted and starts,
// cuts the call when its cost reaches that, and Charges the call's final
// cost when it ends.
type Credits interface {
	// Remaining is what user has left; ok false means the user has no
	// credit limit. An error refuses the call (503): when the check fails,
	// the safe answer is no call.
	Remaining(ctx context.Context, user string) (usd float64, ok bool, err error)
	// Charge debits a finished call's cost. It must be idempotent per
	// callID: the agent charges again after a restart, on retries, and a
	// second agent may charge the same call; only the first may count. It
	// may take a balance below zero (a call's final cost overshoots).
	Charge(ctx context.Context, user, callID string, usd float64) error
}

// StoreCredits adapts calltop's built-in credit store (feed.Client.Credits)
// to Credits.
func StoreCredits(s *feed.CreditStore) Credits { return storeCredits{s} }

type storeCredits struct{ s *feed.CreditStore }

func (c storeCredits) Remaining(ctx context.Context, user string) (float64, bool, error) {
	return c.s.Balance(ctx, user)
}

func (c storeCredits) Charge(ctx context.Context, user, callID string, usd float64) error {
	_, err := c.s.Charge(ctx, user, callID, usd)
	return err
}
