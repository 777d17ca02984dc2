package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

// TestStandinWithSidecar does what docs/BUDGETS.md's try-it does: `calltop
// standin --write-offer`, its printed exports taken as they are, a
// sidecar that reads them from the environment, the written offer posted
// to the relay. The call is created, tracked, metered and cut by a budget
// (the stand-in hangs it up), and a cancel (ctrl+c) stops the stand-in:
// run returns 0 and its port is free again.
func TestStandinWithSidecar(t *testing.T) {
	natsURL := embeddedNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	offer := filepath.Join(t.TempDir(), "offer.sdp")
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"standin", "--listen", "127.0.0.1:0", "--turn-gap", "5ms", "--write-offer", offer}, &out, &errs)
	}()
	exports := map[string]string{}
	waitFor(t, "the stand-in's exports", func() bool {
		for _, line := range strings.Split(out.String(), "\n") {
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
				exports[k] = v
			}
		}
		return len(exports) == 2
	})
	base := exports["OPENAI_BASE_URL"]
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("OPENAI_BASE_URL=%q, want http://127.0.0.1:PORT/v1; output:\n%s", base, out.String())
	}
	for k, v := range exports {
		t.Setenv(k, v)
	}
	sdp, err := os.ReadFile(offer)
	if err != nil {
		t.Fatalf("--write-offer: %v", err)
	}

	actx, acancel := context.WithCancel(context.Background())
	defer acancel()
	api, alog := freeAddr(t), &syncBuffer{}
	agentDone := make(chan int, 1)
	go func() {
		agentDone <- run(actx, []string{"agent", "--nats", natsURL, "--listen", api, "--max-call-tokens", "3000"}, alog, alog)
	}()
	waitFor(t, "the sidecar", func() bool { return strings.Contains(alog.String(), "agent ready") })
	if !strings.Contains(alog.String(), "openai="+base) {
		t.Fatalf("the sidecar did not take OPENAI_BASE_URL %s:\n%s", base, alog.String())
	}

	resp, err := http.Post("http://"+api+"/v1/relay?user=alice", "application/sdp", strings.NewReader(string(sdp)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("relay: %s; agent log:\n%s", resp.Status, alog.String())
	}
	var call feed.Summary
	waitFor(t, "the relay call metered and cut by --max-call-tokens", func() bool {
		for _, c := range lsJSON(t, natsURL) {
			if c.User == "alice" {
				call = c
			}
		}
		return call.State == feed.StateEnded
	})
	if call.Responses == 0 || call.CostUSD <= 0 || call.Tokens.Input == 0 {
		t.Errorf("the call was not metered: %+v", call)
	}
	if call.EndReason != "policy:max_tokens" {
		t.Errorf("end reason %q (%s), want policy:max_tokens", call.EndReason, call.EndDetail)
	}
	waitFor(t, "the stand-in's hangup line", func() bool {
		return strings.Contains(errs.String(), "hangup "+call.CallID+": 200")
	})
	acancel()
	<-agentDone

	addr := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/v1")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("standin after ctrl+c: exit %d: %s", code, errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("standin did not stop on ctrl+c")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the stand-in's port after it stopped: %v", err)
	}
	ln.Close()
}

// TestStandinRefuses: a taken port and a non-loopback address are clear
// errors, not a panic or a stand-in on the network.
func TestStandinRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"standin", "--listen", ln.Addr().String()}, 1, "address already in use"},
		{[]string{"standin", "--listen", "0.0.0.0:8090"}, 2, "want a loopback address"},
		{[]string{"standin", "--turn-gap", "0s"}, 2, "--turn-gap 0s"},
	} {
		code, _, errs := calltop(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
