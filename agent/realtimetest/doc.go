// Package realtimetest is an in-process stand-in for OpenAI's Realtime
// call-control surface, in the spirit of net/http/httptest: tests, the demo
// and benchmarks run an agent against it over real sockets on 127.0.0.1.
// NewServer serves plain HTTP and ws://; NewTLSServer serves https:// and
// wss://, as OpenAI does, with a certificate of its own that its Client
// trusts.
// It follows the project's openai-realtime.md notes (the protocol as
// observed in real traffic):
//
//   - GET /v1/realtime?call_id=… — the sideband WebSocket. 401 before the
//     upgrade without the standard key, 404 call_id_not_found for unknown
//     or ended calls (and, as observed since 2026-09, for ephemeral keys).
//     No session.created on attach; session.update must carry
//     session.type "realtime" and is answered with a full session.updated
//     (expires_at = call creation + MaxDuration). An OpenAI-Beta header
//     gets a beta_api_shape_disabled error and close 4000. Bad frames get
//     non-fatal error events (invalid_event, invalid_json, invalid_value).
//     Pings every PingInterval. Several sidebands may attach to one call
//     and all receive every event.
//   - POST /v1/realtime/calls/{id}/hangup — 200 with an empty body, then the
//     call's sidebands close 1000; 404 call_id_not_found afterwards.
//     Options.HangupStatus can make chosen attempts fail (429 with
//     Retry-After, 5xx) to test an agent's retries.
//   - POST /v1/realtime/client_secrets and POST /v1/realtime/calls (raw SDP
//     with an ephemeral or standard key, or the multipart unified form) —
//     201 with the SDP answer and Location: /v1/realtime/calls/rtc_u1_….
//     A secret starts any number of calls until it expires (401 after);
//     Secrets records each one's TTL, model and calls, CallSession the
//     session configuration each call was created with.
//   - SIP: IncomingSIPCall registers a pending call ("rtc_<32 hex>") and
//     POSTs the signed realtime.call.incoming webhook (Standard Webhooks,
//     verifiable by openai-go's client.Webhooks.Unwrap) to Options.Webhook,
//     retrying non-2xx answers with a scaled-down exponential backoff.
//     POST /v1/realtime/calls/{id}/accept (a realtime session config) makes
//     it live; …/reject ({"status_code":486}, default 603) ends it. The
//     documented quirk is kept: an accept whose session does not validate
//     is answered 200 and the call then fails (sideband 404). SignWebhook,
//     DeliverWebhook and PostWebhook forge, replay and send deliveries by
//     hand.
//   - The duration cap: a session_expired error event, then close 1001.
//
// Faults for robustness tests: DropSideband (transport loss),
// CloseSideband (a chosen close code; the call stays live), Inject (raw
// frames: malformed, binary, oversized, unknown types), Flood (a burst of
// ignored events), FailAttaches and Options.AttachStatus (handshakes that
// fail with 404/410/429/5xx), with Attaches and Attached to count
// handshakes and attached sidebands.
//
// Calls talk by Script: speech_started/stopped, committed, conversation
// items, optional input transcription (tokens or duration usage),
// response.created, transcript deltas, response.done with realistic usage
// (input grows turn by turn, cached tokens are a subset), rate_limits.updated
// ~40 ms after response.done, and output_audio_buffer.started/stopped
// around playback. Server.Emitted returns exactly what was sent, so tests
// can compare an agent's accounting with the truth, and Options.OnEmit
// reports each event as it goes out, with when, so load generators can
// time what follows. Simulate runs a realistic population of calls for
// the demo and the load generator.
//
// # Simplifications
//
// Compared with the real service:
//
//   - A call's script starts only when its first sideband has attached and
//     sent a valid session.update, so tests see every turn. After that the
//     call talks on whether or not a sideband is attached; events emitted
//     while none is attached are lost, as in reality.
//   - There is no media: SDP answers are plausible but nothing connects.
//   - Client events other than session.update are validated and ignored
//     (response.create does not start an extra response).
//   - A SIP call talks like any other once accepted (turns every
//     Options.TurnGap, until it ends); there is no trunk, ringing timeout,
//     REFER or live.call.incoming. Webhook retries stop after
//     Options.WebhookAttempts instead of 72 hours.
//   - A pending SIP call has no session yet: attaching to it or hanging it
//     up gets 404 call_id_not_found (not documented either way).
//   - An attached sideband costs the server one goroutine (its reader) and a
//     call one more (its script); pings run on per-connection timers.
//   - Only sideband connections (?call_id=) are served, not primary
//     WebSocket sessions; transcription-only sessions are not simulated.
//   - The close code for a hung-up call is not documented; 1000 is used.
//     Server.Close closes sidebands with 1001 "server shutting down".
//   - Timing inside a turn scales with Script.TurnGap (TurnGap/300ms), so a
//     3-turn call takes milliseconds in a test and about half a minute in
//     real time with the default gap. Calls created over REST use
//     Options.TurnGap.
//   - Failed responses (Chaos) still report the input tokens they read.
//
// # Example
//
// A test starts a server, registers a call and attaches its agent:
//
//	srv := realtimetest.NewServer(realtimetest.Options{})
//	defer srv.Close()
//	id := srv.NewCall(realtimetest.Script{Turns: 3, TurnGap: time.Millisecond, EndAfterTurns: true})
//	// point the agent at srv.BaseURL() with srv.APIKey(), let it attach to id
//	// (ws://…/v1/realtime?call_id=id) and send session.update; when the call
//	// has ended, compare its totals with srv.Emitted(id).
//
// See Example for a complete, runnable client.
package realtimetest
