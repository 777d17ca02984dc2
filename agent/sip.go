package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/live"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/realtime"

	"github.com/calltop/calltop/feed"
)

// maxWebhookBody bounds a webhook delivery; real ones are about 1 KB.
const maxWebhookBody = 256 << 10

// webhookMemory is how long delivered webhook IDs are remembered for
// dedupe: past openai-go's 5-minute signature tolerance, a replay fails
// verification anyway.
const webhookMemory = 10 * time.Minute

// SIPCall is an incoming SIP call as OpenAI's realtime.call.incoming
// webhook describes it. Header values are untrusted caller data.
type SIPCall struct {
	CallID string
	// API is the voice API the call is answered on (SIPConfig.API).
	API     feed.API
	From    string
	To      string
	Headers map[string]string
}

// SIPDecision is the app's answer to an incoming SIP call.
type SIPDecision struct {
	Accept bool
	// User is whom the call is accounted to (e.g. the caller's number).
	User string
	// Session is the session config to accept with: a Realtime one (JSON,
	// type "realtime"; Config.DefaultSession if empty) or, on the Live
	// API, a GPT-Live one (Config.DefaultLiveSession if empty).
	Session json.RawMessage
	// RejectStatus is the SIP status for a rejection (default 603 Decline;
	// 486 Busy Here for admission refusals).
	RejectStatus int
}

// SIPConfig configures the SIP webhook handler.
type SIPConfig struct {
	// Secret is the webhook signing secret (whsec_…) from OpenAI's
	// dashboard; deliveries not signed with it are refused 400.
	Secret string
	// Decide accepts or rejects each call; nil accepts every call for the
	// user named in its From header with the default session.
	Decide func(ctx context.Context, call SIPCall) SIPDecision
	// API is the voice API incoming calls are answered on. A pending SIP
	// call is announced by realtime.call.incoming and may also be by
	// live.call.incoming; whichever API accepts it first runs it. The
	// handler answers the webhook of its API and acknowledges the other
	// without acting. feed.APIRealtime if empty.
	API feed.API
}

// SIPWebhook returns the handler for OpenAI's realtime.call.incoming
// webhook: it verifies the Standard Webhooks signature with openai-go
// (client.Webhooks.Unwrap: a bad, missing or stale signature is answered
// 400 and nothing happens), answers a redelivery of an already handled
// webhook-id 200 without acting again, asks admission and the app, then
// accepts (Calls.Accept with the session config) or rejects (Calls.Reject)
// and tracks an accepted call.
func (a *Agent) SIPWebhook(cfg SIPConfig) http.Handler {
	seen := &webhookIDs{ids: make(map[string]time.Time)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "OpenAI webhooks are POSTed")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if tooLarge(err) {
			writeTooLarge(w, "webhook body", maxWebhookBody)
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_body", err.Error())
			return
		}
		ev, err := a.oai.Webhooks.Unwrap(body, r.Header, option.WithWebhookSecret(cfg.Secret))
		if err != nil {
			a.log.Warn("webhook refused", "err", err, "webhook_id", r.Header.Get("webhook-id"))
			writeError(w, http.StatusBadRequest, "invalid_signature", "webhook verification failed: "+err.Error())
			return
		}
		api := cfg.API.Or()
		want := "realtime.call.incoming"
		if api == feed.APILive {
			want = "live.call.incoming"
		}
		if ev.Type != want {
			w.WriteHeader(http.StatusOK) // not ours to handle; don't make OpenAI retry
			return
		}
		id := r.Header.Get("webhook-id")
		if !seen.first(id, time.Now()) {
			a.log.Info("webhook redelivered; already handled", "webhook_id", id)
			w.WriteHeader(http.StatusOK)
			return
		}
		call := SIPCall{API: api, Headers: make(map[string]string)}
		if api == feed.APILive {
			in := ev.AsLiveCallIncoming()
			call.CallID = in.Data.SessionID
			for _, h := range in.Data.SipHeaders {
				call.Headers[h.Name] = h.Value
			}
		} else {
			in := ev.AsRealtimeCallIncoming()
			call.CallID = in.Data.CallID
			for _, h := range in.Data.SipHeaders {
				call.Headers[h.Name] = h.Value
			}
		}
		call.From, call.To = call.Headers["From"], call.Headers["To"]
		if err := a.handleSIP(r.Context(), cfg, call); err != nil {
			seen.forget(id) // let OpenAI's retry try again
			a.log.Error("sip call", "call", call.CallID, "err", err)
			writeError(w, http.StatusBadGateway, "openai_error", err.Error())
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func (a *Agent) handleSIP(ctx context.Context, cfg SIPConfig, call SIPCall) error {
	if err := feed.ValidateCallID(call.CallID); err != nil {
		return fmt.Errorf("call id from OpenAI's webhook: %w", err)
	}
	d := SIPDecision{Accept: true, User: call.From}
	if cfg.Decide != nil {
		d = cfg.Decide(ctx, call)
	}
	counted, unknown := false, false
	var credits *feed.Micros
	if d.Accept {
		var ref *RefusedError
		if counted, credits, unknown, ref = a.admit(ctx, ModeSIP, d.User, false, nil); ref != nil {
			d = SIPDecision{Accept: false, User: d.User, RejectStatus: sipRefusalStatus}
		}
	}
	release := func() {
		if counted {
			a.release(d.User)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, createCallTimeout)
	defer cancel()
	if !d.Accept {
		status := int64(d.RejectStatus)
		if status == 0 {
			status = 603
		}
		var err error
		if call.API == feed.APILive {
			err = a.oai.Live.Sessions.Reject(ctx, call.CallID, live.SessionRejectParams{StatusCode: status})
		} else {
			err = a.oai.Realtime.Calls.Reject(ctx, call.CallID, realtime.CallRejectParams{StatusCode: openai.Int(status)})
		}
		if err != nil {
			return fmt.Errorf("reject %s: %w", call.CallID, err)
		}
		a.log.Info("sip call rejected", "call", call.CallID, "status", status, "user", d.User)
		return nil
	}
	if call.API == feed.APILive {
		return a.acceptLiveSIP(ctx, call, d, release, Meta{User: d.User, API: feed.APILive, sip: true, admitted: counted, credits: credits, creditsUnknown: unknown})
	}
	session, model, err := a.sessionConfig(d.Session)
	if err != nil {
		release()
		return fmt.Errorf("accept %s: %w", call.CallID, err)
	}
	if err := a.oai.Realtime.Calls.Accept(ctx, call.CallID, realtime.CallAcceptParams{}, option.WithRequestBody("application/json", []byte(session))); err != nil {
		release()
		return fmt.Errorf("accept %s: %w", call.CallID, err)
	}
	// Accepted: the call runs at OpenAI whatever the webhook's request does.
	return a.Track(context.WithoutCancel(ctx), call.CallID, Meta{User: d.User, Model: model, sip: true, admitted: counted, credits: credits, creditsUnknown: unknown}, Async())
}

// sipRefusalStatus is the SIP status a caller refused at admission hears
// (486 Busy Here), and the status its refused event carries.
const sipRefusalStatus = 486

// webhookIDs remembers handled webhook-ids for dedupe, bounded in time.
type webhookIDs struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

// first reports whether id is new, and records it.
func (s *webhookIDs) first(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.ids {
		if now.Sub(t) > webhookMemory {
			delete(s.ids, k)
		}
	}
	if id == "" {
		return true // unsigned ids cannot pass Unwrap; be safe anyway
	}
	if _, ok := s.ids[id]; ok {
		return false
	}
	s.ids[id] = now
	return true
}

func (s *webhookIDs) forget(id string) {
	s.mu.Lock()
	delete(s.ids, id)
	s.mu.Unlock()
}
