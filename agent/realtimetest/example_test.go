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
