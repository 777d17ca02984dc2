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
//     seconds (cumulative) and a terminal session.closed; TrackLive, or
//     Track with Meta.API.
//
// A call reaches the agent in one of three ways: the app creates it and
// calls Track (or the sidecar's POST /v1/calls); the SDP relay (Relay)
// creates it for a browser that never holds a key; or OpenAI's SIP
// webhook (SIPWebhook) announces it and the agent accepts it. Handler
// serves all of that over HTTP for backends in other languages (the
// calltop agent sidecar).
//
// Agents sharing a NATS form a fleet: every live call has one owner,
// recorded in NATS; an agent that stops hands its calls over, and the
// calls of one that dies are adopted by another. A call ends only when
// OpenAI says so. docs/AGENT.md, docs/BUDGETS.md and docs/OPERATIONS.md
// say more.
package agent
