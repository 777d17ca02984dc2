// Package realtimetest is an in-process stand-in for OpenAI's Realtime
// and GPT-Live call-control surfaces, in the spirit of net/http/httptest:
// tests, the demo and benchmarks run an agent against it over real sockets
// on 127.0.0.1.
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
// GPT-Live (openai-realtime.md §8), the newer API, is served beside it:
//
//   - GET /v1/live/sessions/{session_id}/attach — the Live sideband. 401
//     before the upgrade without the standard key; 404
//     session_id_not_found (param "session_id") for unknown or ended
//     sessions, Realtime call ids and ephemeral keys. The first frame is
//     session.started {session:{id, object "live.session", model, status
//     "active", expires_at = creation + Options.LiveMaxDuration (2 h), …}};
//     nothing earlier is replayed. Then, at the script's pace: cumulative
//     session.usage.updated {usage:{seconds}}, reflected
//     session.input_audio.append frames without event_id, info and
//     transcript deltas, and response.event frames wrapping delegated
//     Responses events (response.completed carries model and usage). The
//     end is session.closed {reason, session, usage:{seconds}} then close
//     1000; with ?graceful_close=true the server first waits up to a
//     second for the client to close. Client events: session.close ends
//     the session (close_requested), session.update may change delegation
//     settings and triggers (session.updated to every sideband), the other
//     Live commands are validated and ignored; session.start and
//     session.input_audio.append get an error event, as do bad frames
//     (non-fatal, Live-shaped: error.client_event_id).
//   - POST /v1/live/sessions/{session_id}/hangup — 200 with an empty body,
//     then session.closed "close_requested" and close 1000; 404
//     session_id_not_found afterwards. Options.OnHangup, HangupStatus and
//     Hangups apply, with the session id as call id.
//   - POST /v1/live/sessions — {"session":{model,…},"transport":{"type":
//     "webrtc","sdp":…}} with the standard or an ephemeral key: 201 JSON
//     {"session":{"id":"live_u1_…",…},"transport":{"sdp":<answer>}}, no
//     Location. A model that is not gpt-live-* gets 400 invalid_model, as
//     does a gpt-live-* model on the Realtime endpoints.
//   - SIP: IncomingLiveSIPCall announces a pending call with a signed
//     live.call.incoming (data.session_id = the rtc_ id, readable with
//     openai-go's AsLiveCallIncoming). POST
//     /v1/live/sessions/{id}/accept ({"session":{"type":"live","model":
//     "gpt-live-1",…}}) makes it a Live session under the same id; …/reject
//     ends it. The first accept on either surface decides the call's API.
//
// NewLiveSession registers a session as if a browser had created it and
// plays a LiveScript (pace, seconds per update, an end after N updates with
// a reason, reflected audio, backend completions). CloseLiveSession ends
// one with any reason (content, connection_lost, expired, remote_hangup,
// close_requested); EndCall is remote_hangup. LiveSeconds,
// LiveBackendUsage, LiveEnded and LiveSession are the truth to compare an
// agent with. Live() lists Live sessions too; SimConfig.LiveShare mixes
// them into Simulate's population.
//
// Faults for robustness tests: DropSideband (transport loss),
// CloseSideband (a chosen close code; the call stays live), Inject (raw
// frames: malformed, binary, oversized, unknown types), Flood (a burst of
// ignored events), FailAttaches and Options.AttachStatus (handshakes that
// fail with 404/410/429/5xx), with Attaches and Attached to count
// handshakes and attached sidebands. They apply to Live sessions as well.
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
//     Options.TurnGap, until it ends); there is no trunk, ringing timeout
//     or REFER. Webhook retries stop after Options.WebhookAttempts instead
//     of 72 hours.
//   - A pending SIP call has no session yet: attaching to it or hanging it
//     up gets 404 call_id_not_found (session_id_not_found on the Live
//     paths; not documented either way).
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
// For GPT-Live:
//
//   - A session's script starts when its first sideband attaches (as a
//     Realtime call's starts with the first session.update); before that
//     it bills nothing. Usage seconds grow by SecondsPerUpdate at each
//     update, whether or not a sideband is attached (LiveSeconds is the
//     bill, not what was delivered); session.closed adds the part of an
//     update since the last one, except when the script's Updates end it.
//     There is no active/standby distinction.
//   - A WebRTC session is billed 15 s at its creation, credited once it
//     runs; that minimum never shows on the sideband and is only reported
//     by LiveSession (MinimumBilledSeconds).
//   - Only the sideband is served: there is no primary Live WebSocket
//     (wss://…/v1/live/sessions), no media, no recording, forks, refer or
//     transport events. Sessions created over REST or SIP use
//     Options.LiveUsageEvery and LiveAudioEvery; they report a backend
//     completion every fifth update only if they delegate to Responses.
//   - Client commands other than session.update and session.close have no
//     effect; a bad Live accept is refused with 400 (the call stays
//     pending) rather than Realtime's 200-then-fail.
//   - Error codes for sideband misuse (invalid_event for session.start,
//     unknown_parameter for an immutable field) are plausible, not
//     observed.
//   - live.call.incoming carries the pending call's rtc_ id, as the
//     project's notes say; openai-go v3.98.0's doc comment calls it a
//     separate live_ id. Either way a client should treat it as opaque.
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
// A GPT-Live session is registered and attached the same way:
//
//	id := srv.NewLiveSession(realtimetest.LiveScript{UsageEvery: time.Millisecond, SecondsPerUpdate: 1, Updates: 30})
//	// attach to ws://…/v1/live/sessions/{id}/attach; read session.started,
//	// the usage updates and session.closed; compare with srv.LiveSeconds(id).
//
// See Example and ExampleServer_NewLiveSession for complete, runnable
// clients.
package realtimetest
