package main

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/natsserver"
)

// TestLoadgenSmall runs `calltop demo --headless` small and fast (4 calls,
// 4 s, turns 15× real time; the agent is this test binary re-executed as
// `calltop agent`, see TestMain) and checks that every figure was measured
// and that the figures agree with each other: the byte counter with the
// dashboard and JetStream, the kinds with the total.
func TestLoadgenSmall(t *testing.T) {
	t.Setenv("CALLTOP_TEST_CHILD", "1") // the agent process is this binary
	var out, errs syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, []string{"demo", "--headless", "--calls", "4", "--duration", "4s", "--turn-gap", "20ms", "--json"}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errs.String())
	}
	var s loadgenSummary
	if err := json.Unmarshal([]byte(out.String()), &s); err != nil {
		t.Fatalf("--json output is not one summary: %v\n%s", err, out.String())
	}

	c := s.Calls
	if c.Started < 4 || c.Registered != c.Started || c.RegisterFailed != 0 {
		t.Errorf("calls: %d started, %d registered, %d failed (%s)", c.Started, c.Registered, c.RegisterFailed, c.RegisterError)
	}
	if c.NotSeenEnded != 0 || c.Ended != c.Registered || c.FinalRecords != uint64(c.Ended) {
		t.Errorf("calls: %d registered, %d ended on the board, %d never seen ending, %d final records", c.Registered, c.Ended, c.NotSeenEnded, c.FinalRecords)
	}
	if c.PeakLive != 4 || c.CallMinutes <= 0 || c.CallMinutes > 4*s.ElapsedSeconds/60 {
		t.Errorf("calls: peak %d live, %.3f call-minutes in %.1fs", c.PeakLive, c.CallMinutes, s.ElapsedSeconds)
	}

	n := s.NATS
	if n.Bytes <= 0 || n.BytesPerCallMinute <= 0 || n.Dropped != 0 || s.Events.Messages <= 0 || s.Events.PerSecond <= 0 {
		t.Errorf("bytes %d (%.0f per call-minute, %d dropped), %d messages (%.1f/s)", n.Bytes, n.BytesPerCallMinute, n.Dropped, s.Events.Messages, s.Events.PerSecond)
	}
	if n.SubjectBytes+n.HeaderBytes+n.PayloadBytes != n.Bytes || n.HeaderBytes == 0 {
		t.Errorf("subjects %d + headers %d + payloads %d != %d (every call event has a Nats-Msg-Id header)", n.SubjectBytes, n.HeaderBytes, n.PayloadBytes, n.Bytes)
	}
	kinds := map[string]kindBytes{}
	var sum int64
	for _, k := range n.ByKind {
		kinds[k.Kind] = k
		sum += k.Bytes
	}
	if sum != n.Bytes {
		t.Errorf("kinds sum to %d bytes, the total is %d", sum, n.Bytes)
	}
	for _, kind := range []string{"started", "session", "usage", "ended", "final"} {
		if kinds[kind].Bytes <= 0 {
			t.Errorf("no %s bytes: %+v", kind, n.ByKind)
		}
	}
	// The counter saw what the dashboard and JetStream saw.
	if kinds["ended"].Msgs < int64(c.Ended) || kinds["final"].Msgs < int64(c.FinalRecords) || kinds["started"].Msgs < int64(c.Registered) {
		t.Errorf("counted %d started, %d ended, %d final; the board saw %d calls end, JetStream holds %d finals",
			kinds["started"].Msgs, kinds["ended"].Msgs, kinds["final"].Msgs, c.Ended, c.FinalRecords)
	}
	if ratio := n.FractionOfAudioRelay; ratio <= 0 || ratio != n.BytesPerCallMinute/audioRelayPerCallMinute {
		t.Errorf("fraction of the audio relay %g", ratio)
	}
	if js := s.Stream; js.Final.Bytes == 0 || js.Final.Msgs != c.FinalRecords || js.LiveState.Bytes == 0 || js.LiveStateAtWindowEnd.Bytes == 0 {
		t.Errorf("jetstream: %+v", js)
	}

	for name, l := range map[string]latencyStats{"publish→board": s.Latency.PublishToBoard, "OpenAI→board": s.Latency.OpenAIToBoard} {
		if l.Count == 0 || l.MaxMS <= 0 || l.P50MS > l.P90MS || l.P90MS > l.P99MS || l.P99MS > l.MaxMS {
			t.Errorf("%s latency: %+v", name, l)
		}
	}
	if l := s.Latency; l.OpenAIToBoard.Count > l.ResponsesSent || l.PublishToBoard.Count > int(s.Events.Messages) {
		t.Errorf("more latency samples than events: %+v, %d messages (%d dropped by the counter)", l, s.Events.Messages, s.NATS.Dropped)
	}

	a := s.AgentUse
	if len(a.PerAgent) != 1 || a.PerAgent[0].PID <= 0 || a.PerAgent[0].Calls != c.Registered {
		t.Errorf("agents: %+v", a.PerAgent)
	}
	if runtime.GOOS == "linux" {
		if !a.Measured || a.CPUSeconds <= 0 || a.CPUSecondsPerCallMinute <= 0 || a.PerAgent[0].RSSBefore <= 0 || a.PerAgent[0].RSSPeak < a.PerAgent[0].RSSBefore {
			t.Errorf("agent CPU and memory on Linux: %+v", a)
		}
	} else if a.Measured || a.Why == "" {
		t.Errorf("agent CPU and memory off Linux: %+v", a)
	}

	// The same summary for a person names every figure.
	var text strings.Builder
	if err := s.writeText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"calls", "NATS bytes", "of relaying the audio", "usage", "final", "JetStream", "publish→board", "OpenAI→board", "agents", "loadgen-1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
}

// TestByteCounterCountsTheWire: a message is counted as NATS carries it,
// subject + headers as encoded + payload, under the kind its subject says.
func TestByteCounterCountsTheWire(t *testing.T) {
	srv, err := natsserver.Run(natsserver.Options{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	subjects, _ := feed.NewSubjects("")
	bc, err := startByteCounter(srv.ClientURL(), subjects)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publish := func(subject, header, payload string) {
		m := nats.NewMsg(subject)
		if header != "" {
			m.Header.Set("Nats-Msg-Id", header)
		}
		m.Data = []byte(payload)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	bc.begin()
	publish("calltop.v1.call.rtc_x.usage", "a.rtc_x.1.7", `{"v":1}`)
	publish("calltop.v1.call.rtc_x.flag.burn_rate", "", "{}")
	publish("calltop.v1.user.0123456789abcdef.refused.credits", "", "{}")
	publish("calltop.v1.agent.web-1.heartbeat", "", "{}")
	publish("calltop.v1.final.0123456789abcdef.rtc_x", "final.rtc_x", "{}")
	publish("calltop.v1.ctl.rtc_x.terminate", "", "{}")
	publish("$KV.CALLTOP_CALLS.rtc_x", "", "{}")
	publish("other.v1.call.rtc_x.usage", "", "{}") // another install: not counted
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	byKind, kv, dropped := bc.stop(5 * time.Second)
	wantUsage := int64(len("calltop.v1.call.rtc_x.usage") + len("NATS/1.0\r\nNats-Msg-Id: a.rtc_x.1.7\r\n\r\n") + len(`{"v":1}`))
	if u := byKind["usage"]; u.Msgs != 1 || u.total() != wantUsage || u.Headers != int64(len("NATS/1.0\r\nNats-Msg-Id: a.rtc_x.1.7\r\n\r\n")) {
		t.Errorf("usage: %+v (%d bytes), want 1 message of %d bytes", u, u.total(), wantUsage)
	}
	for _, kind := range []string{"flag", "user.refused", "heartbeat", "final", "ctl"} {
		if byKind[kind].Msgs != 1 {
			t.Errorf("%s: %+v", kind, byKind[kind])
		}
	}
	if len(byKind) != 6 || kv["kv CALLTOP_CALLS"].Msgs != 1 || dropped != 0 {
		t.Errorf("kinds %v, kv %v, dropped %d", byKind, kv, dropped)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[int]time.Duration{50: 100 * time.Millisecond, 90: 180 * time.Millisecond, 99: 198 * time.Millisecond, 100: 200 * time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("p%d of 1..200 ms = %s, want %s", p, got, want)
		}
	}
	if got := percentile(ds[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one sample = %s", got)
	}
}

// TestHeadlessFlagsAreChecked: flags that would do nothing are refused
// with a word on why, before anything starts.
func TestHeadlessFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--duration", "5s"}, "--duration needs --headless"},
		{[]string{"demo", "--json"}, "--json needs --headless"},
		{[]string{"demo", "--headless", "--readonly"}, "--readonly is for the dashboard"},
		{[]string{"demo", "--headless", "--duration", "0s"}, "--duration 0s"},
		{[]string{"demo", "--headless", "--agents", "0"}, "--agents 0"},
		{[]string{"demo", "--headless", "--turn-gap", "0s"}, "--turn-gap 0s"},
	} {
		code, _, errs := calltop(t, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit 1 saying %q", tc.args, code, errs, tc.want)
		}
	}
}
