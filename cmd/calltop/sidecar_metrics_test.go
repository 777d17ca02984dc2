package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// scrape reads the sidecar's /metrics as Prometheus does.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return mfs
}

// value is the sample of family name whose labels include want (as
// name=value pairs); -1 when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, w := range want {
			k, v, _ := strings.Cut(w, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestSidecarMetrics: a sidecar with --metrics-addr serves /metrics there
// (and not on its API). Two calls, one cut by policy and one hung up by
// the caller, and a refusal, read as Prometheus reads them: the ends by
// reason, the calls' tokens and cost by model equal to their final
// records, one hangup timed (the policy's), two attaches, the refusal,
// no live call, and the Go and process collectors.
func TestSidecarMetrics(t *testing.T) {
	natsURL, rt := fleetWorld(t)
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"users":[{"match":"bob","max_tokens":1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := calltop(t, "credits", "set", "dave", "0", "--nats", natsURL); code != 0 {
		t.Fatalf("credits set: %s", errs)
	}
	t.Setenv("OPENAI_API_KEY", rt.APIKey())
	api, metrics := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(cancel)
	var out syncBuffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code := run(ctx, []string{"agent", "--name", "metered", "--nats", natsURL, "--openai-base-url", rt.BaseURL(), "--listen", api,
			"--metrics-addr", metrics, "--policy", policy}, &out, &out); code != 0 {
			t.Errorf("agent exited %d: %s", code, out.String())
		}
	}()
	waitFor(t, "agent API", func() bool { return strings.Contains(out.String(), "agent ready") })
	metricsURL := "http://" + metrics + "/metrics"
	if resp, err := http.Get("http://" + api + "/metrics"); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("the API serves /metrics: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	post := func(path, body string, want int) {
		t.Helper()
		resp, err := http.Post("http://"+api+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	cut := rt.NewCall(realtimetest.Script{Model: "gpt-realtime", TurnGap: 10 * time.Millisecond})
	talk := rt.NewCall(realtimetest.Script{Model: "gpt-realtime", Turns: 1, TurnGap: 10 * time.Millisecond})
	post("/v1/calls", fmt.Sprintf(`{"call_id":%q,"user":"bob","model":"gpt-realtime"}`, cut), http.StatusAccepted)
	post("/v1/calls", fmt.Sprintf(`{"call_id":%q,"user":"alice","model":"gpt-realtime"}`, talk), http.StatusAccepted)
	post("/v1/client_secrets", `{"user":"dave"}`, http.StatusPaymentRequired)
	waitFor(t, "alice's call to answer once", func() bool { return lsJSON(t, natsURL)[talk].Responses == 1 })
	rt.EndCall(talk)
	var calls map[string]feed.Summary
	waitFor(t, "both calls ended", func() bool {
		calls = lsJSON(t, natsURL)
		return calls[cut].EndedAt != nil && calls[talk].EndedAt != nil
	})
	if !strings.HasPrefix(string(calls[cut].EndReason), string(feed.ReasonPolicy)) || calls[talk].EndReason != feed.ReasonHangup {
		t.Fatalf("ends: %s %s", calls[cut].EndReason, calls[talk].EndReason)
	}

	mfs := scrape(t, metricsURL)
	in := float64(calls[cut].Tokens.Input + calls[talk].Tokens.Input)
	outTok := float64(calls[cut].Tokens.Output + calls[talk].Tokens.Output)
	cost := calls[cut].CostUSD + calls[talk].CostUSD
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"calltop_calls_live", nil, 0},
		{"calltop_calls_ended_total", []string{"reason=policy"}, 1},
		{"calltop_calls_ended_total", []string{"reason=hangup"}, 1},
		{"calltop_calls_ended_total", []string{"reason=operator"}, 0},
		{"calltop_tokens_total", []string{"model=gpt-realtime", "direction=input"}, in},
		{"calltop_tokens_total", []string{"model=gpt-realtime", "direction=output"}, outTok},
		{"calltop_hangup_duration_seconds", nil, 1},
		{"calltop_sideband_attaches_total", nil, 2},
		{"calltop_sideband_reattaches_total", nil, 0},
		{"calltop_adoptions_total", nil, 0},
		{"calltop_refusals_total", []string{"reason=credits"}, 1},
		{"calltop_publish_failures_total", nil, 0},
		{"calltop_agent_info", []string{"agent=metered"}, 1},
	} {
		if got := value(mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(mfs, "calltop_cost_usd_total", "model=gpt-realtime"); cost <= 0 || math.Abs(got-cost) > 1e-6 {
		t.Errorf("calltop_cost_usd_total = %v, want the calls' %v", got, cost)
	}
	if value(mfs, "go_goroutines") <= 0 || mfs["process_cpu_seconds_total"] == nil {
		t.Errorf("no Go or process collector: %d families", len(mfs))
	}
}
