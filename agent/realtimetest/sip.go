package realtimetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// SIPState is where a SIP call created by IncomingSIPCall stands.
type SIPState string

// The states of a SIP call.
const (
	SIPPending   SIPState = "pending"   // ringing: waiting for accept or reject
	SIPAccepted  SIPState = "accepted"  // accepted with a valid session: live until it ends
	SIPRejected  SIPState = "rejected"  // rejected; RejectStatus is the SIP status sent to the trunk
	SIPFailed    SIPState = "failed"    // accepted with an invalid session: 200, then the SIP leg failed (SIP 400)
	SIPCancelled SIPState = "cancelled" // ended before an answer (EndCall or Close)
)

// SIPCallInfo describes a SIP call created by IncomingSIPCall.
type SIPCallInfo struct {
	CallID    string
	From, To  string // the From and To SIP header values, as in the webhook
	SIPCallID string // the Call-ID SIP header value

	State        SIPState
	Accepted     bool            // an accept with a valid session was answered 200 (stays true after the call ends)
	Live         bool            // that accept was GPT-Live's (POST /v1/live/sessions/{id}/accept): the call is a Live session
	RejectStatus int             // SIP status sent to the trunk: reject's status_code (default 603), 400 after a failed accept, else 0
	Model        string          // the accepted session's model
	Session      json.RawMessage // the body of the accept request that decided the call, as sent (nil before)
	Ended        bool            // the call is over (or never started)

	EventID   string // "evt_…", the id of the realtime.call.incoming (or live.call.incoming) event
	WebhookID string // "wh_…", the webhook-id header of its automatic deliveries
	Event     []byte // the webhook body, built whether or not a Webhook is configured
}

// sipCall is the SIP side of a call; guarded by Server.mu.
type sipCall struct {
	from, to, sipCallID string
	eventID, webhookID  string
	event               []byte
	state               SIPState
	accepted            bool
	live                bool // accepted on the GPT-Live surface
	rejectStatus        int
	model               string
}

// defaultRejectStatus is the SIP status of a reject without status_code
// (603 Decline).
const defaultRejectStatus = 603

// webhookEvent is the realtime.call.incoming and live.call.incoming
// payload, fields in the order of the documented example.
type webhookEvent struct {
	Object    string `json:"object"`
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt int64  `json:"created_at"`
	Data      any    `json:"data"` // webhookEventData or liveWebhookEventData
}

type webhookEventData struct {
	CallID     string      `json:"call_id"`
	SIPHeaders []sipHeader `json:"sip_headers"`
}

// liveWebhookEventData is live.call.incoming's data: the pending call's id
// as session_id (openai-realtime.md §4).
type liveWebhookEventData struct {
	SessionID  string      `json:"session_id"`
	SIPHeaders []sipHeader `json:"sip_headers"`
}

type sipHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// IncomingSIPCall simulates a phone call reaching the project's SIP trunk:
// it registers a pending call with an id shaped like the documented
// "rtc_479a275623b54bdb9b6fbae2f7cbd408" and returns it. If a webhook
// target is configured (Options.Webhook or SetWebhook), the signed
// realtime.call.incoming event is POSTed to it in the background, exactly
// as OpenAI does (Standard Webhooks headers, user-agent
// "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"), and retried
// with a scaled-down exponential backoff on a non-2xx answer, a redirect
// (not followed) or a timeout; see Deliveries. The event body is also in
// SIPCall(id).Event, for tests that deliver it themselves with
// DeliverWebhook.
//
// from and to are the SIP From and To header values; a value without a
// scheme, such as "+14155550123", becomes "sip:+14155550123@sip.example.com".
//
// The call stays pending (no sideband can attach: 404, hangup 404) until
// POST /v1/realtime/calls/{id}/accept or /reject, or EndCall (the caller
// gives up). After Close the call is born cancelled and nothing is sent.
func (s *Server) IncomingSIPCall(from, to string) (callID string) {
	return s.incomingSIP(from, to, false)
}

// IncomingLiveSIPCall is IncomingSIPCall for an app that answers phone
// calls with GPT-Live: the pending call ("rtc_<32 hex>") is announced by a
// signed live.call.incoming event, {"object":"event","id":"evt_…","type":
// "live.call.incoming","created_at":…,"data":{"session_id":"rtc_…",
// "sip_headers":[…]}} (openai-realtime.md §4: the same pending session
// can emit either event and its session_id carries the same rtc_ value;
// openai-go's AsLiveCallIncoming reads it). Delivery, retries, SIPCall and
// EndCall work as for IncomingSIPCall. POST
// /v1/live/sessions/{id}/accept makes the call a live GPT-Live session
// under the same id (attach, hang up on the /v1/live paths); …/reject ends
// it. The first accept on either surface decides: Realtime's accept works
// on it too, and the other surface then gets 404.
func (s *Server) IncomingLiveSIPCall(from, to string) (sessionID string) {
	return s.incomingSIP(from, to, true)
}

// incomingSIP registers a pending SIP call and delivers its webhook:
// live.call.incoming if live, realtime.call.incoming otherwise.
func (s *Server) incomingSIP(from, to string, live bool) string {
	id := "rtc_" + randFrom(hexset, 32)
	sc := &sipCall{
		from:      sipURI(from),
		to:        sipURI(to),
		sipCallID: randFrom(hexset, 8) + "-" + randFrom(hexset, 4) + "-" + randFrom(hexset, 4) + "-" + randFrom(hexset, 4) + "-" + randFrom(hexset, 12),
		eventID:   "evt_" + randFrom(hexset, 32),
		webhookID: newWebhookID(),
		state:     SIPPending,
	}
	headers := []sipHeader{{"From", sc.from}, {"To", sc.to}, {"Call-ID", sc.sipCallID}}
	ev := webhookEvent{Object: "event", ID: sc.eventID, Type: "realtime.call.incoming", CreatedAt: time.Now().Unix(),
		Data: webhookEventData{CallID: id, SIPHeaders: headers}}
	if live {
		ev.Type, ev.Data = "live.call.incoming", liveWebhookEventData{SessionID: id, SIPHeaders: headers}
	}
	sc.event, _ = json.Marshal(ev)
	c := s.makeCall(id, Script{}, sessionConfig{}, s.childRNG())
	c.pending = true
	c.sip = sc

	s.mu.Lock()
	s.calls[id] = c
	target := s.webhook
	if s.closed {
		c.ended, c.pending = true, false
		sc.state = SIPCancelled
		close(c.done)
		s.mu.Unlock()
		return id
	}
	deliver := target.URL != ""
	if deliver {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if deliver {
		go s.deliverEvent(target, id, sc.webhookID, sc.event)
	}
	return id
}

// sipURI turns a bare number or user into a SIP URI.
func sipURI(v string) string {
	if v == "" || strings.ContainsAny(v, ":<") {
		return v
	}
	return "sip:" + v + "@sip.example.com"
}

// SIPCall returns what is known about a call created by IncomingSIPCall;
// ok is false for unknown ids and WebRTC calls.
func (s *Server) SIPCall(callID string) (info SIPCallInfo, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[callID]
	if c == nil || c.sip == nil {
		return SIPCallInfo{}, false
	}
	sc := c.sip
	info = SIPCallInfo{
		CallID:       c.id,
		From:         sc.from,
		To:           sc.to,
		SIPCallID:    sc.sipCallID,
		State:        sc.state,
		Accepted:     sc.accepted,
		Live:         sc.live,
		RejectStatus: sc.rejectStatus,
		Model:        sc.model,
		Ended:        c.ended,
		EventID:      sc.eventID,
		WebhookID:    sc.webhookID,
		Event:        append([]byte(nil), sc.event...),
	}
	if c.requested != nil {
		info.Session = append(json.RawMessage(nil), c.requested...)
	}
	return info, true
}

// SIPOutcome summarizes how a SIP call was answered: accepted (with a
// valid session, on the given model), or rejected with the SIP status sent
// to the trunk (603 by default; 400 after an accept with an invalid
// session). A pending, cancelled or unknown call gives false, 0, "".
func (s *Server) SIPOutcome(callID string) (accepted bool, rejectStatus int, model string) {
	info, _ := s.SIPCall(callID)
	return info.Accepted, info.RejectStatus, info.Model
}

// claimPending reads the body of an accept or reject request and returns
// the pending SIP call it is about (id), having answered the request
// itself (401, 400, 404 with notFound) when there is nothing to do.
func (s *Server) claimPending(w http.ResponseWriter, r *http.Request, id string, notFound apiError) (*call, []byte, bool) {
	if key := bearer(r); key != s.opts.APIKey {
		s.writeAuthError(w, key)
		return nil, nil, false
	}
	body, ok := readBody(w, r)
	if !ok {
		return nil, nil, false
	}
	s.mu.Lock()
	c := s.calls[id]
	pending := c != nil && c.pending && !c.ended
	s.mu.Unlock()
	if !pending {
		writeError(w, http.StatusNotFound, notFound)
		return nil, nil, false
	}
	return c, body, true
}

// writeEmpty200 is the answer of a successful accept, reject or hangup.
func writeEmpty200(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// handleAccept serves POST /v1/realtime/calls/{call_id}/accept. The body
// is a full realtime session configuration ({"type":"realtime","model":…,
// "instructions":…,"audio":{…}}). A pending SIP call is answered 200 with
// an empty body and becomes live: its script talks until it ends (turns
// every Options.TurnGap once a sideband has attached and sent
// session.update), its session starts now (expires_at = now +
// MaxDuration) and CallSession returns the body. Anything but a pending
// SIP call gets 404 call_id_not_found; a body that is not JSON gets 400.
//
// The documented quirk (openai-realtime.md §3 and §11.8): a session that
// does not validate (type missing or not "realtime", a model that is not a
// Realtime model, a session that is not an object) is still answered 200,
// then the call fails: the SIP leg gets 400 (SIPCall's State "failed",
// RejectStatus 400), the call ends and a sideband attach gets 404
// call_id_not_found.
func (s *Server) handleAccept(w http.ResponseWriter, r *http.Request) {
	c, body, ok := s.claimPending(w, r, r.PathValue("call_id"), errCallNotFound)
	if !ok {
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, errBadJSON)
		return
	}
	p, aerr := parseSessionParams(body, true)
	var cfg sessionConfig
	var sc Script
	if aerr == nil {
		cfg = defaultSession(deref(p.Model), s.childRNG())
		p.apply(&cfg)
		sc = Script{Model: cfg.model, Transcription: cfg.transcriptionMode(), TurnGap: s.opts.TurnGap}.normalized()
	}

	s.mu.Lock()
	if !c.pending || c.ended { // a concurrent accept, reject or EndCall won
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, errCallNotFound)
		return
	}
	c.pending = false
	c.requested = append(json.RawMessage(nil), body...)
	if aerr != nil {
		c.sip.state, c.sip.rejectStatus = SIPFailed, http.StatusBadRequest
		s.mu.Unlock()
		writeEmpty200(w)
		s.endCall(c, endScript)
		return
	}
	now := time.Now()
	c.sip.state, c.sip.accepted, c.sip.model = SIPAccepted, true, cfg.model
	c.sess, c.script = cfg, sc
	c.created, c.expires = now, now.Add(s.opts.MaxDuration)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.runCall(c)
	writeEmpty200(w)
}

// handleReject serves POST /v1/realtime/calls/{call_id}/reject with an
// optional body {"status_code":486}: a pending SIP call is answered 200
// with an empty body and ends, its trunk getting the SIP status (603
// Decline by default; SIPOutcome reports it). Anything but a pending SIP
// call gets 404 call_id_not_found; a bad body or a status_code outside
// 400–699 gets 400.
func (s *Server) handleReject(w http.ResponseWriter, r *http.Request) {
	s.reject(w, r, r.PathValue("call_id"), 400, errCallNotFound)
}

// reject ends the pending SIP call id with the status its body asks for
// (from minStatus to 699, 603 if omitted): Realtime's and Live's reject
// differ only in those bounds and in how they say "not found".
func (s *Server) reject(w http.ResponseWriter, r *http.Request, id string, minStatus int, notFound apiError) {
	c, body, ok := s.claimPending(w, r, id, notFound)
	if !ok {
		return
	}
	status, aerr := rejectStatus(body, minStatus)
	if aerr != nil {
		writeError(w, http.StatusBadRequest, *aerr)
		return
	}
	s.mu.Lock()
	if !c.pending || c.ended {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	c.pending = false
	c.sip.state, c.sip.rejectStatus = SIPRejected, status
	s.mu.Unlock()
	writeEmpty200(w)
	s.endCall(c, endScript)
}

// rejectStatus reads the SIP status of a reject body ({"status_code":486};
// empty or without status_code: 603). It must be an integer from lowest
// (Realtime: 400, GPT-Live: 300) to 699.
func rejectStatus(body []byte, lowest int) (int, *apiError) {
	status := defaultRejectStatus
	if len(strings.TrimSpace(string(body))) == 0 {
		return status, nil
	}
	if !json.Valid(body) {
		return 0, &errBadJSON
	}
	var req struct {
		StatusCode *float64 `json:"status_code"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		e := errParam("invalid_type", "status_code", "Invalid type in request body: "+err.Error())
		return 0, &e
	}
	if sc := req.StatusCode; sc != nil {
		if *sc != float64(int64(*sc)) || *sc < float64(lowest) || *sc > 699 {
			e := errParam("invalid_value", "status_code", fmt.Sprintf(
				"Invalid 'status_code': %s. Expected a SIP final status code between %d and 699.", formatNum(*sc), lowest))
			return 0, &e
		}
		status = int(*sc)
	}
	return status, nil
}
