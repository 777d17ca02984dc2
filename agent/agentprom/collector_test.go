package agentprom_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/agentprom"
	"github.com/calltop/calltop/feed"
)

type fixed agent.Stats

func (f fixed) Stats() agent.Stats { return agent.Stats(f) }

func sample() fixed {
	return fixed{
		Agent: "api-1", Instance: "0a1b2c", Version: "1.2.3", CallsLive: 3, CallsDetached: 1, FinalRecordsPending: 2,
		CallsEnded: map[feed.Reason]uint64{feed.ReasonPolicy: 4, feed.ReasonHangup: 7},
		Models:     map[string]agent.ModelStats{"gpt-realtime": {InputTokens: 1200, OutputTokens: 340, CostUSD: 0.25}},
		Attaches:   12, Reattaches: 2, Adoptions: 1,
		Refusals:        map[string]uint64{"concurrency": 5},
		PublishFailures: 6,
		Hangups: agent.Histogram{Count: 3, Sum: 1.5, Bounds: []float64{0.1, 1, 10},
			Buckets: []uint64{1, 2, 3}},
	}
}

// TestCollectorExposition: every Stats field is a metric with the value
// and labels it should have.
func TestCollectorExposition(t *testing.T) {
	want := `
# HELP calltop_adoptions_total Calls taken over from an agent that died or handed them over.
# TYPE calltop_adoptions_total counter
calltop_adoptions_total 1
# HELP calltop_agent_info The agent: its name, instance (this run) and calltop version; always 1.
# TYPE calltop_agent_info gauge
calltop_agent_info{agent="api-1",instance="0a1b2c",version="1.2.3"} 1
# HELP calltop_calls_detached Calls tracked now whose sideband is down (the agent keeps re-attaching).
# TYPE calltop_calls_detached gauge
calltop_calls_detached 1
# HELP calltop_calls_ended_total Calls that ended on this agent, by end reason (operator, app, policy, hangup, expired, gone …).
# TYPE calltop_calls_ended_total counter
calltop_calls_ended_total{reason="app"} 0
calltop_calls_ended_total{reason="expired"} 0
calltop_calls_ended_total{reason="gone"} 0
calltop_calls_ended_total{reason="hangup"} 7
calltop_calls_ended_total{reason="operator"} 0
calltop_calls_ended_total{reason="policy"} 4
# HELP calltop_calls_live Calls this agent tracks now, detached ones included.
# TYPE calltop_calls_live gauge
calltop_calls_live 3
# HELP calltop_cost_usd_total Estimated cost in USD from the agent's price table, by pricing model.
# TYPE calltop_cost_usd_total counter
calltop_cost_usd_total{model="gpt-realtime"} 0.25
# HELP calltop_final_records_pending Final records of ended calls waiting for NATS to store them.
# TYPE calltop_final_records_pending gauge
calltop_final_records_pending 2
# HELP calltop_hangup_duration_seconds Time from a hangup request (operator, policy, app) until the call's end was recorded: OpenAI's hangup, then its close of the sideband.
# TYPE calltop_hangup_duration_seconds histogram
calltop_hangup_duration_seconds_bucket{le="0.1"} 1
calltop_hangup_duration_seconds_bucket{le="1"} 2
calltop_hangup_duration_seconds_bucket{le="10"} 3
calltop_hangup_duration_seconds_bucket{le="+Inf"} 3
calltop_hangup_duration_seconds_sum 1.5
calltop_hangup_duration_seconds_count 3
# HELP calltop_publish_failures_total Events NATS did not take (reconnect buffer full, connection closed).
# TYPE calltop_publish_failures_total counter
calltop_publish_failures_total 6
# HELP calltop_refusals_total Calls refused at admission, by reason (credits, concurrency, hourly, credits_unavailable, the app's own).
# TYPE calltop_refusals_total counter
calltop_refusals_total{reason="concurrency"} 5
# HELP calltop_sideband_attaches_total Sidebands attached, re-attaches included.
# TYPE calltop_sideband_attaches_total counter
calltop_sideband_attaches_total 12
# HELP calltop_sideband_reattaches_total Sidebands attached again after a drop.
# TYPE calltop_sideband_reattaches_total counter
calltop_sideband_reattaches_total 2
# HELP calltop_tokens_total Tokens of the calls' responses, by pricing model and direction (input, output). An adopted call counts from its takeover.
# TYPE calltop_tokens_total counter
calltop_tokens_total{direction="input",model="gpt-realtime"} 1200
calltop_tokens_total{direction="output",model="gpt-realtime"} 340
`
	if err := testutil.CollectAndCompare(agentprom.New(sample()), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorLint: the names, types and help follow Prometheus'
// conventions (promlint: units, _total on counters, no camel case …).
func TestCollectorLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(agentprom.New(sample()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
