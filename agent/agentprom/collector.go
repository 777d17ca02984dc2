package agentprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/feed"
)

// Source is what a Collector reads: an *agent.Agent.
type Source interface {
	Stats() agent.Stats
}

// Collector is a prometheus.Collector of one agent's metrics, all named
// calltop_*.
type Collector struct {
	src Source
}

// New returns a collector of src's metrics.
func New(src Source) *Collector { return &Collector{src: src} }

var (
	descInfo = prometheus.NewDesc("calltop_agent_info",
		"The agent: its name, instance (this run) and calltop version; always 1.", []string{"agent", "instance", "version"}, nil)
	descLive = prometheus.NewDesc("calltop_calls_live",
		"Calls this agent tracks now, detached ones included.", nil, nil)
	descDetached = prometheus.NewDesc("calltop_calls_detached",
		"Calls tracked now whose sideband is down (the agent keeps re-attaching).", nil, nil)
	descPending = prometheus.NewDesc("calltop_final_records_pending",
		"Final records of ended calls waiting for NATS to store them.", nil, nil)
	descEnded = prometheus.NewDesc("calltop_calls_ended_total",
		"Calls that ended on this agent, by end reason (operator, app, policy, hangup, expired, gone …).", []string{"reason"}, nil)
	descTokens = prometheus.NewDesc("calltop_tokens_total",
		"Tokens of the calls' responses, by pricing model and direction (input, output). An adopted call counts from its takeover.", []string{"model", "direction"}, nil)
	descCost = prometheus.NewDesc("calltop_cost_usd_total",
		"Estimated cost in USD from the agent's price table, by pricing model.", []string{"model"}, nil)
	descAttaches = prometheus.NewDesc("calltop_sideband_attaches_total",
		"Sidebands attached, re-attaches included.", nil, nil)
	descReattaches = prometheus.NewDesc("calltop_sideband_reattaches_total",
		"Sidebands attached again after a drop.", nil, nil)
	descAdoptions = prometheus.NewDesc("calltop_adoptions_total",
		"Calls taken over from an agent that died or handed them over.", nil, nil)
	descRefusals = prometheus.NewDesc("calltop_refusals_total",
		"Calls refused at admission, by reason (credits, concurrency, hourly, credits_unavailable, the app's own).", []string{"reason"}, nil)
	descPublishFailures = prometheus.NewDesc("calltop_publish_failures_total",
		"Events NATS did not take (reconnect buffer full, connection closed).", nil, nil)
	descHangup = prometheus.NewDesc("calltop_hangup_duration_seconds",
		"Time from a hangup request (operator, policy, app) until the call's end was recorded: OpenAI's hangup, then its close of the sideband.", nil, nil)
)

// knownEnds are exported at 0 before any call ended that way, so a rate
// or an alert on them works from the first one.
var knownEnds = []feed.Reason{feed.ReasonOperator, feed.ReasonApp, feed.ReasonPolicy, feed.ReasonHangup, feed.ReasonExpired, feed.ReasonGone}

// Describe sends the descriptors of every metric Collect sends.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descLive, descDetached, descPending, descEnded, descTokens, descCost,
		descAttaches, descReattaches, descAdoptions, descRefusals, descPublishFailures, descHangup} {
		ch <- d
	}
}

// Collect sends the agent's metrics as of now.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descInfo, 1, st.Agent, st.Instance, st.Version)
	gauge(descLive, float64(st.CallsLive))
	gauge(descDetached, float64(st.CallsDetached))
	gauge(descPending, float64(st.FinalRecordsPending))
	for _, r := range knownEnds {
		if _, ok := st.CallsEnded[r]; !ok {
			counter(descEnded, 0, string(r))
		}
	}
	for r, n := range st.CallsEnded {
		counter(descEnded, float64(n), string(r))
	}
	for model, m := range st.Models {
		counter(descTokens, float64(m.InputTokens), model, "input")
		counter(descTokens, float64(m.OutputTokens), model, "output")
		counter(descCost, m.CostUSD, model)
	}
	counter(descAttaches, float64(st.Attaches))
	counter(descReattaches, float64(st.Reattaches))
	counter(descAdoptions, float64(st.Adoptions))
	for r, n := range st.Refusals {
		counter(descRefusals, float64(n), r)
	}
	counter(descPublishFailures, float64(st.PublishFailures))
	h := st.Hangups
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(descHangup, h.Count, h.Sum, buckets)
}
