package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// TestMicroRefusedByPermissions: a NATS user not allowed the micro
// subjects leaves the agent out of discovery and says so in its log; the
// agent tracks and accounts calls all the same.
func TestMicroRefusedByPermissions(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{{Username: "agent", Password: "pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{">"}},
			Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$SRV.>", "*.v1.svc.>"}},
		}}}}
	nc, err := feed.Connect(runServer(t, opts), t.Name(), nats.UserInfo("agent", "pw"),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // quiet: the agent says it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	var logs syncLog
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Name: "restricted",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), PublishInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("an agent without micro permissions must start: %v", err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	waitFor(t, "the permission problem in the log", func() bool {
		s := logs.String()
		return strings.Contains(s, "NATS refuses the micro service's subjects") && strings.Contains(s, "Permissions Violation")
	})
	id := rt.NewCall(realtimetest.Script{TurnGap: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Track(ctx, id, agent.Meta{User: "alice"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "usage accounted", func() bool { u, err := a.Usage(id); return err == nil && u.Responses > 0 })
	if err := a.Hangup(ctx, id, feed.End{Reason: feed.ReasonOperator, By: "test"}); err != nil || rt.Hangups(id) != 1 {
		t.Fatalf("hangup: %v, %d at the stand-in", err, rt.Hangups(id))
	}
}

// runServer runs a nats-server with settings natsserver does not offer
// (users, a small max_payload) and returns its URL.
func runServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	return srv.ClientURL()
}

// TestMicroCallsFitOneMessage: more live calls than one NATS message
// holds: calls answers with the oldest that fit, says it truncated and
// how many there are.
func TestMicroCallsFitOneMessage(t *testing.T) {
	const maxPayload = 8 << 10
	url := runServer(t, &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		MaxPayload: maxPayload})
	nc, err := feed.Connect(url, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rt := realtimetest.NewServer(realtimetest.Options{})
	t.Cleanup(rt.Close)
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: rt.APIKey(), BaseURL: rt.BaseURL(), Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	const calls = 20
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range calls {
		id := rt.NewCall(realtimetest.Script{Turns: 1, TurnGap: 10 * time.Millisecond})
		if err := a.Track(ctx, id, agent.Meta{User: fmt.Sprintf("user-%d@example.com", i), Model: "gpt-realtime"}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := nc.RequestWithContext(ctx, "calltop.v1.svc."+a.Instance()+".calls", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Total     int
		Truncated bool
		Calls     []feed.Summary
	}
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total != calls || !rep.Truncated || len(rep.Calls) == 0 || len(rep.Calls) >= calls || len(m.Data) > maxPayload {
		t.Fatalf("%d bytes: total %d, truncated %v, %d calls", len(m.Data), rep.Total, rep.Truncated, len(rep.Calls))
	}
	t.Logf("%d of %d calls in %d bytes", len(rep.Calls), rep.Total, len(m.Data))
}
