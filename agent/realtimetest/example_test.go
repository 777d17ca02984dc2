package realtimetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/coder/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/realtime"
)

// Example attaches a sideband to a scripted call, counts the tokens of
// every response.done and compares them with what the server sent.
func Example() {
	srv := realtimetest.NewServer(realtimetest.Options{})
	defer srv.Close()
	id := srv.NewCall(realtimetest.Script{Turns: 3, TurnGap: time.Millisecond, EndAfterTurns: true})

	ctx := context.Background()
	url := strings.Replace(srv.BaseURL(), "http", "ws", 1) + "/realtime?call_id=" + id
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + srv.APIKey()}},
	})
	if err != nil {
		panic(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20) // session.updated frames can be large
	_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","session":{"type":"realtime"}}`))

	var total int64
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			fmt.Println("closed:", websocket.CloseStatus(err))
			break
		}
		var ev struct {
			Type     string `json:"type"`
			Response struct {
				Status string `json:"status"`
				Usage  struct {
					TotalTokens int64 `json:"total_tokens"`
				} `json:"usage"`
			} `json:"response"`
		}
		_ = json.Unmarshal(data, &ev)
		if ev.Type == "response.done" {
			fmt.Println(ev.Type, ev.Response.Status)
			total += ev.Response.Usage.TotalTokens
		}
	}
	fmt.Println("matches server:", total == srv.Emitted(id).Total)
	// Output:
	// response.done completed
	// response.done completed
	// response.done completed
	// closed: StatusNormalClosure
	// matches server: true
}

// ExampleServer_IncomingSIPCall answers a SIP call the way a backend does
// with openai-go: verify the signed webhook with client.Webhooks.Unwrap,
// then accept the call with the app's session configuration.
func ExampleServer_IncomingSIPCall() {
	srv := realtimetest.NewServer(realtimetest.Options{})
	defer srv.Close()
	client := openai.NewClient(
		option.WithBaseURL(srv.BaseURL()),
		option.WithAPIKey(srv.APIKey()),
		option.WithWebhookSecret(srv.WebhookSecret()),
	)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := client.Webhooks.Unwrap(body, r.Header)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		call := ev.AsRealtimeCallIncoming()
		err = client.Realtime.Calls.Accept(r.Context(), call.Data.CallID, realtime.CallAcceptParams{
			RealtimeSessionCreateRequest: realtime.RealtimeSessionCreateRequestParam{Model: "gpt-realtime-mini"},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer backend.Close()
	srv.SetWebhook(realtimetest.WebhookTarget{URL: backend.URL})

	id := srv.IncomingSIPCall("+14155550123", "+18005551212")
	for len(srv.Live()) == 0 {
		time.Sleep(time.Millisecond)
	}
	accepted, _, model := srv.SIPOutcome(id)
	fmt.Println("accepted:", accepted, model)

	// A forged delivery (wrong secret) is refused by the backend.
	info, _ := srv.SIPCall(id)
	forged := realtimetest.SignWebhookWithSecret(realtimetest.NewWebhookSecret(), info.WebhookID, time.Now(), info.Event)
	resp, _ := srv.PostWebhook(backend.URL, forged, info.Event)
	fmt.Println("forged:", resp.StatusCode)
	// Output:
	// accepted: true gpt-realtime-mini
	// forged: 400
}
