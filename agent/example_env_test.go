package agent_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// The examples run the way a backend does, configured by its environment
// (NATS_URL, OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_WEBHOOK_SECRET);
// runTests points that environment at an embedded NATS and at
// openaiStandIn, the OpenAI stand-in, before the examples run.
var openaiStandIn *realtimetest.Server

// runTests runs the package's tests and examples; the world the examples
// talk to is started only when examples may run.
func runTests(m *testing.M) int {
	flag.Parse()
	if run := flag.Lookup("test.run").Value.String(); run != "" && !strings.Contains(run, "Example") {
		return m.Run()
	}
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "examples: NATS:", err)
		return 1
	}
	defer srv.Shutdown()
	openaiStandIn = realtimetest.NewServer(realtimetest.Options{})
	defer openaiStandIn.Close()
	for k, v := range map[string]string{
		"NATS_URL":              srv.ClientURL(),
		"OPENAI_API_KEY":        openaiStandIn.APIKey(),
		"OPENAI_BASE_URL":       openaiStandIn.BaseURL(),
		"OPENAI_WEBHOOK_SECRET": openaiStandIn.WebhookSecret(),
	} {
		os.Setenv(k, v)
	}
	return m.Run()
}

// offer is an SDP offer as a browser's RTCPeerConnection.createOffer makes
// one.
const exampleOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"

// createCall stands for your backend's own code that creates a call: it
// posts a browser's SDP offer to OpenAI's POST /v1/realtime/calls with
// the standard key and returns the call's ID, the end of the Location
// header.
func createCall(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("OPENAI_BASE_URL")+"/realtime/calls", strings.NewReader(exampleOffer))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+os.Getenv("OPENAI_API_KEY"))
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		panic(fmt.Sprintf("create call: %s", resp.Status))
	}
	return path.Base(resp.Header.Get("Location"))
}

// startAgent starts an agent as ExampleAgent_Track does; stop hangs up
// the calls it tracks, then closes it and its NATS connection.
func startAgent() (a *agent.Agent, stop func()) {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		panic(err)
	}
	a, err = agent.New(ctx, nc, agent.Config{APIKey: os.Getenv("OPENAI_API_KEY"), BaseURL: os.Getenv("OPENAI_BASE_URL")})
	if err != nil {
		panic(err)
	}
	return a, func() {
		for _, id := range a.Calls() {
			_ = a.Hangup(ctx, id, feed.End{Reason: feed.ReasonApp, Detail: "example over"})
		}
		_ = a.Close(ctx)
		nc.Close()
	}
}

// eventually reports whether cond held within 10 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// tracks reports whether a tracks the call, within 10 s.
func tracks(a *agent.Agent, callID string) bool {
	return eventually(func() bool { return slices.Contains(a.Calls(), callID) })
}
