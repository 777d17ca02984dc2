// Package agent follows OpenAI voice calls from an app's backend without
// relaying their audio: for each call it attaches the call's sideband
// WebSocket, counts its usage, prices it, enforces the app's budgets,
// hangs it up on request, and publishes the call's lifecycle and usage to
// NATS (package feed), where dashboards and other agents read them.
//
// It follows both of OpenAI's voice APIs:
//
//   - Realtime calls ("rtc_…"): sideband /v1/realtime?call_id=…, usage
//     in tokens from each response.done; Track.
//   - GPT-Live sessions ("live_…", or a SIP call answered on the Live
//     API): sideband /v1/live/sessions/{id}/attach, usage in billed
//     seconds (cumulative) and a terminal session.closed; Track with
//     Meta.API feed.APILive (an ID starting "live_" says it alone).
//
// A call reaches the agent in one of three ways, each with an example:
// the app creates it and calls Track (options: Async, WithClientSecret);
// the SDP relay (Relay) creates it for a browser that never holds a key;
// or OpenAI's SIP webhook (SIPWebhook) announces it and the agent accepts
// it. Handler serves all of that over HTTP for backends in other
// languages (the calltop agent sidecar).
//
// Start an agent with New, stop it with Close; both take a context that
// bounds their waits on NATS, as every method that does I/O does. Errors
// callers can act on are sentinels for errors.Is (ErrCallNotFound,
// ErrUnauthorized, ErrTrackedElsewhere, ErrOtherUser, ErrNotTracked,
// ErrInvalidRequest, ErrClosed) or types for errors.As (*RefusedError, and feed's
// *feed.OwnedError).
//
// Agents sharing a NATS form a fleet: every live call has one owner,
// recorded in NATS; an agent that stops hands its calls over, and the
// calls of one that dies are adopted by another. A call ends only when
// OpenAI says so. docs/AGENT.md, docs/BUDGETS.md and docs/OPERATIONS.md
// say more.
package agent
