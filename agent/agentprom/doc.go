// Package agentprom exposes an agent's counters (agent.Stats) as
// Prometheus metrics.
//
// The agent keeps its numbers itself and imports no metrics library, so
// an app that embeds it and wants no Prometheus links none. An app that
// wants them registers one collector:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(agentprom.New(a))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The collector reads Stats once per scrape, so the agent's hot paths
// never touch Prometheus and a scrape costs one snapshot. The calltop
// agent sidecar serves these (and the Go and process collectors) on
// --metrics-addr. docs/OPERATIONS.md lists the metrics.
package agentprom
