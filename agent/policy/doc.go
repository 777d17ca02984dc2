// Package policy is calltop's budget engine: the limits a call runs under
// (Policy), the policy file that sets them per user (File, Load, Parse),
// the evaluation of one call against its policy (Evaluate: warnings, cuts,
// abuse flags, the wrap-up instruction) and the admission decisions that
// refuse a call before OpenAI is contacted (Admission, Decision).
//
// It is pure: no sockets, no NATS, no clock of its own. Callers pass the
// time, the usage and the credits they read, and act on what comes back
// (the agent publishes warnings, hangs up on a cut). So every decision
// can be replayed in a test. docs/BUDGETS.md is the user's guide.
package policy
