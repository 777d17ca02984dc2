package agentprom_test

import (
	"context"
	"log"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/agentprom"
)

// An app that embeds the agent serves its metrics next to its own.
func Example() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	a, err := agent.New(context.Background(), nc, agent.Config{APIKey: "sk-…"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close(context.Background())

	reg := prometheus.NewRegistry()
	reg.MustRegister(agentprom.New(a), collectors.NewGoCollector())
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:9464", nil))
}
