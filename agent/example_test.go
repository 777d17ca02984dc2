package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// The app creates the call (or the browser does, with a key the app
// minted) and tells the agent its ID. The README shows this example's
// body as it is; a test keeps the two the same.
func ExampleAgent_Track() {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	a, err := agent.New(ctx, nc, agent.Config{
		APIKey:  os.Getenv("OPENAI_API_KEY"),  // the project's standard key
		BaseURL: os.Getenv("OPENAI_BASE_URL"), // empty: https://api.openai.com/v1
	})
	if err != nil {
		log.Fatal(err)
	}
	// Close never hangs up: the calls go to another agent of the fleet,
	// or wait for the next one to start.
	defer a.Close(context.Background())

	// Once you know a call's ID (the end of the Location header of
	// POST /v1/realtime/calls: /v1/realtime/calls/rtc_…), track it.
	// Track returns once its sideband is attached; agent.Async() does not wait.
	callID := createCall(ctx)
	err = a.Track(ctx, callID, agent.Meta{User: "alice@acme.io", Model: "gpt-realtime"})
	if err != nil {
		log.Fatal(err) // agent.ErrCallNotFound, agent.ErrUnauthorized, …
	}
	fmt.Println("tracking", len(a.Calls()), "call")

	// The agent publishes the call's usage to NATS and enforces your
	// budgets; your own code can end it too.
	err = a.Hangup(ctx, callID, feed.End{Reason: feed.ReasonApp, Detail: "out of minutes"})
	fmt.Println("hung up:", err == nil)
	// Output:
	// tracking 1 call
	// hung up: true
}

// The SDP relay: the browser posts its SDP offer to the app, which
// authenticates it; the agent creates the call with the standard key (no
// key ever reaches the browser), tracks it, and answers the SDP answer.
func ExampleAgent_Relay() {
	a, stop := startAgent() // as in ExampleAgent_Track
	defer stop()

	mux := http.NewServeMux()
	mux.Handle("POST /realtime/offer", a.Relay(agent.RelayConfig{
		// Your own authentication names the caller.
		User: func(r *http.Request) (string, error) {
			user := r.Header.Get("X-User") // in your app: from the session cookie
			if user == "" {
				return "", errors.New("log in first")
			}
			return user, nil
		},
		// Your own check, before OpenAI is contacted (402 here).
		Admit: func(r *http.Request, user string) error {
			if user == "mallory@acme.io" {
				return &agent.RefusedError{Status: http.StatusPaymentRequired, Reason: "credits", Detail: "top up to talk"}
			}
			return nil
		},
	}))
	app := httptest.NewServer(mux)
	defer app.Close()

	// The browser's side: POST the offer (RTCPeerConnection.createOffer),
	// hand the answer to setRemoteDescription.
	for _, user := range []string{"alice@acme.io", "mallory@acme.io", ""} {
		req, _ := http.NewRequest(http.MethodPost, app.URL+"/realtime/offer", strings.NewReader(exampleOffer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("X-User", user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("%q: %d %s\n", user, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Output:
	// "alice@acme.io": 201 application/sdp
	// "mallory@acme.io": 402 application/json
	// "": 401 application/json
}

// OpenAI's SIP webhook: a phone call comes in, OpenAI posts a signed
// realtime.call.incoming event, the agent verifies it, asks Decide,
// accepts the call with the session config and tracks it.
func ExampleAgent_SIPWebhook() {
	a, stop := startAgent() // as in ExampleAgent_Track
	defer stop()

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/openai", a.SIPWebhook(agent.SIPConfig{
		Secret: os.Getenv("OPENAI_WEBHOOK_SECRET"), // whsec_…, from your OpenAI project
		Decide: func(ctx context.Context, c agent.SIPCall) agent.SIPDecision {
			// The caller's number is the user the call is accounted to.
			return agent.SIPDecision{Accept: true, User: c.From,
				Session: json.RawMessage(`{"type":"realtime","model":"gpt-realtime","instructions":"You are Acme's support line."}`)}
		},
	}))
	app := httptest.NewServer(mux)
	defer app.Close()

	// Your OpenAI project's webhook points at app.URL+"/webhooks/openai";
	// here the stand-in for OpenAI is told so, and a phone call comes in.
	openaiStandIn.SetWebhook(realtimetest.WebhookTarget{URL: app.URL + "/webhooks/openai"})
	callID := openaiStandIn.IncomingSIPCall("+14155550123", "+18005550100")
	fmt.Println("accepted and tracked:", tracks(a, callID))
	// Output:
	// accepted and tracked: true
}

// The sidecar's HTTP API (`calltop agent`), for backends in other
// languages: Handler serves it. Here a backend registers a call it
// created, with POST /v1/calls.
func ExampleAgent_Handler() {
	a, stop := startAgent() // as in ExampleAgent_Track
	defer stop()
	sidecar := httptest.NewServer(a.Handler(agent.SidecarConfig{Token: "s3cret"}))
	defer sidecar.Close()

	callID := createCall(context.Background())
	body := `{"call_id":"` + callID + `","user":"alice@acme.io","model":"gpt-realtime"}`
	req, _ := http.NewRequest(http.MethodPost, sidecar.URL+"/v1/calls", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var reply struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&reply)
	fmt.Println(resp.StatusCode, reply.Status, tracks(a, callID))
	// Output:
	// 202 attaching true
}
