package feed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/natsserver"
)

// rolesPair starts a NATS whose user "rw" may do anything and whose user
// "ro" may publish nothing but JetStream reads, and returns a client of
// each under one prefix.
func rolesPair(t *testing.T) (rw, ro *Client) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	err := os.WriteFile(conf, []byte(`authorization { users = [
  {user: rw, password: rw}
  {user: ro, password: ro, permissions: {publish: ["$JS.API.STREAM.INFO.*"], subscribe: ["_INBOX.>"]}}
] }`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Run(natsserver.Options{ConfigFile: conf, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	prefix := fmt.Sprintf("t%d", prefixN.Add(1))
	client := func(user string) *Client {
		nc, err := Connect(strings.Replace(srv.ClientURL(), "nats://", "nats://"+user+":"+user+"@", 1), "denied-test",
			nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		c, err := NewClient(nc, prefix)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return client("rw"), client("ro")
}

// TestTerminateRefusedAtOnce: a terminate the server refuses returns a
// *PermissionError at once, not when its context ends, and never reaches
// the agent; one it allows is answered as before.
func TestTerminateRefusedAtOnce(t *testing.T) {
	rw, ro := rolesPair(t)
	var asked atomic.Int64
	sub, err := rw.ServeTerminate("rtc_1", func(TerminateRequest) (*Summary, error) {
		asked.Add(1)
		return &Summary{CallID: "rtc_1"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := rw.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 { // each refusal is told apart from the one before
		began := time.Now()
		_, err := ro.Terminate(ctx, TerminateRequest{CallID: "rtc_1"})
		var pe *PermissionError
		if !errors.Is(err, ErrPermissionDenied) || !errors.As(err, &pe) || pe.Op != "publish" || pe.Subject != ro.Subjects.Terminate("rtc_1") {
			t.Fatalf("terminate as ro: %v (%+v)", err, pe)
		}
		if took := time.Since(began); took > time.Second {
			t.Fatalf("the refusal took %s", took)
		}
	}
	if rep, err := rw.Terminate(ctx, TerminateRequest{CallID: "rtc_1"}); err != nil || !rep.OK {
		t.Fatalf("terminate as rw: %+v %v", rep, err)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the agent was asked %d times, want 1 (rw's)", n)
	}
	if _, err := rw.Terminate(ctx, TerminateRequest{CallID: "rtc_nobody"}); !errors.Is(err, ErrNoOwner) {
		t.Fatalf("terminate of a call nobody owns: %v", err)
	}
}

// TestCancelOnDenied: a refused JetStream write ends the context at once
// with the refusal as its cause, and the refusal does not reach the
// connection's error handler.
func TestCancelOnDenied(t *testing.T) {
	_, ro := rolesPair(t)
	var printed atomic.Int64
	ro.NC.SetErrorHandler(func(*nats.Conn, *nats.Subscription, error) { printed.Add(1) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, stop := CancelOnDenied(ctx, ro.NC)
	defer stop()
	began := time.Now()
	_, err := ro.Credits(ctx) // creating the buckets is refused
	err = Denied(ctx, err)
	var pe *PermissionError
	if !errors.As(err, &pe) || !strings.HasPrefix(pe.Subject, "$JS.API.") || time.Since(began) > time.Second {
		t.Fatalf("credits as ro: %v after %s", err, time.Since(began))
	}
	if n := printed.Load(); n != 0 {
		t.Fatalf("the refusal reached the error handler %d times", n)
	}
}

// TestServeTerminateAnswersOnlyRequests: a message without a reply
// subject, or one JetStream delivered, is no terminate request; a request
// of another version or call is answered with an error; only a proper
// request reaches the agent.
func TestServeTerminateAnswersOnlyRequests(t *testing.T) {
	c, _ := newTestClient(t)
	var asked atomic.Int64
	sub, err := c.ServeTerminate("rtc_1", func(TerminateRequest) (*Summary, error) {
		asked.Add(1)
		return &Summary{CallID: "rtc_1"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	subj := c.Subjects.Terminate("rtc_1")
	valid := []byte(`{"v":1,"call_id":"rtc_1"}`)
	ignored := []*nats.Msg{
		{Subject: subj, Data: valid}, // no reply: nobody waits
		{Subject: subj, Reply: "$JS.ACK.CALLTOP.c.1.1.1.1.0", Data: valid},
		{Subject: subj, Reply: c.NC.NewInbox(), Data: valid, Header: nats.Header{"Nats-Stream": {"KV_X"}, "Nats-Sequence": {"1"}}},
	}
	for _, m := range ignored {
		if err := c.NC.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	for body, want := range map[string]string{
		`{"v":2,"call_id":"rtc_1"}`: "version 2",
		`{"call_id":"rtc_1"}`:       "version 0",
		`{"v":1}`:                   `names call \"\" on`,
		`{"v":1,"call_id":"rtc_2"}`: `names call \"rtc_2\" on`,
	} {
		m, err := c.NC.Request(subj, []byte(body), 5*time.Second)
		if err != nil || !strings.Contains(string(m.Data), want) || strings.Contains(string(m.Data), `"ok":true`) {
			t.Fatalf("request %s: %v %s, want an error saying %s", body, err, m.Data, want)
		}
	}
	// Answered in order: the ignored messages came first.
	if m, err := c.NC.Request(subj, valid, 5*time.Second); err != nil || !strings.Contains(string(m.Data), `"ok":true`) {
		t.Fatalf("valid request: %v", err)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the agent was asked %d times, want 1", n)
	}
}

func TestAsPermissionError(t *testing.T) {
	for in, want := range map[string]PermissionError{
		`Permissions Violation for Publish to "a.b"`:                      {Op: "publish", Subject: "a.b"},
		`Permissions Violation for Subscription to "a.>"`:                 {Op: "subscribe", Subject: "a.>"},
		`Permissions Violation for Subscription to "a.>" using queue "q"`: {Op: "subscribe", Subject: "a.>"},
		`Permissions Violation for Publish to "a` + "\x1b" + `[2J"`:       {Op: "publish", Subject: "a?[2J"},
	} {
		pe, ok := AsPermissionError(fmt.Errorf("%w: %s", nats.ErrPermissionViolation, in))
		if !ok || *pe != want {
			t.Errorf("%q: %+v %v, want %+v", in, pe, ok, want)
		}
	}
	if _, ok := AsPermissionError(errors.New("Permissions Violation for Publish to \"x\"")); ok {
		t.Error("an error that is not nats.ErrPermissionViolation read as one")
	}
}
