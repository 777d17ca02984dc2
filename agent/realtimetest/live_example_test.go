package realtimetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/coder/websocket"
)

// ExampleServer_NewLiveSession attaches a Live sideband to a scripted
// GPT-Live session, keeps the latest cumulative usage (never a sum),
// skips the events it does not need and takes session.closed's usage as
// final.
func ExampleServer_NewLiveSession() {
	srv := realtimetest.NewServer(realtimetest.Options{})
	defer srv.Close()
	id := srv.NewLiveSession(realtimetest.LiveScript{
		UsageEvery: time.Millisecond, SecondsPerUpdate: 1.5, Updates: 20,
		AudioEvery: time.Millisecond, BackendResponses: 2,
	})

	ctx := context.Background()
	url := strings.Replace(srv.BaseURL(), "http", "ws", 1) + "/live/sessions/" + id + "/attach"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + srv.APIKey()}},
	})
	if err != nil {
		panic(err)
	}
	defer conn.CloseNow()

	var seconds float64
	var backendTokens int64
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			fmt.Println("closed:", websocket.CloseStatus(err))
			break
		}
		var ev struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
			Usage  struct {
				Seconds float64 `json:"seconds"`
			} `json:"usage"`
			Event struct {
				Type     string `json:"type"`
				Response struct {
					Usage struct {
						TotalTokens int64 `json:"total_tokens"`
					} `json:"usage"`
				} `json:"response"`
			} `json:"event"`
		}
		if json.Unmarshal(data, &ev) != nil {
			continue
		}
		switch ev.Type {
		case "session.started":
			fmt.Println("started")
		case "session.usage.updated":
			seconds = ev.Usage.Seconds // cumulative: replace, do not add
		case "response.event":
			if ev.Event.Type == "response.completed" {
				backendTokens += ev.Event.Response.Usage.TotalTokens
			}
		case "session.closed":
			seconds = ev.Usage.Seconds
			fmt.Println("session.closed:", ev.Reason)
		}
	}
	in, out := srv.LiveBackendUsage(id)
	fmt.Println("seconds:", seconds, "truth:", srv.LiveSeconds(id))
	fmt.Println("backend tokens match:", backendTokens == in+out)
	// Output:
	// started
	// session.closed: remote_hangup
	// closed: StatusNormalClosure
	// seconds: 30 truth: 30
	// backend tokens match: true
}
