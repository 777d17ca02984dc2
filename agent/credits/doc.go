// Package credits is the agent's view of users' prepaid balances: the
// Credits interface an app implements over its own billing, and FromStore,
// which adapts calltop's built-in ledger (feed.CreditStore, on JetStream)
// to it.
//
// Balances are integer micro-dollars (feed.Micros). The agent reads a
// user's balance when it admits a call and as the call runs, and charges
// each call its running total, repeatedly and from any agent: Charge is
// idempotent per call, so a retry, a restarted agent or the agent that
// adopts a call never debits twice. docs/BUDGETS.md tells the whole story.
package credits
