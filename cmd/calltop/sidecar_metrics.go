package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/agent/agentprom"
)

// registerMetricsFlag adds --metrics-addr. Metrics have a listener of
// their own, not a path on the API's: the API is for the app (bearer
// tokens, reachable from the app's network), /metrics for the scraper
// (no token: Prometheus scrapes without the app's secrets), and the two
// are usually reachable from different places. Off unless set.
func registerMetricsFlag(fs *pflag.FlagSet, addr *string) {
	fs.StringVar(addr, "metrics-addr", "", "`address` to serve Prometheus /metrics on, apart from the API (off if empty; docs/OPERATIONS.md)")
	env(fs, "metrics-addr", "CALLTOP_METRICS_ADDR")
}

// listenMetrics opens the metrics listener, before anything else starts,
// so a taken or malformed address fails the sidecar at once; nil when
// metrics are off.
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	return ln, nil
}

// closeMetrics closes the metrics listener if there is one (serving's
// stop closes it too: closing twice is harmless).
func closeMetrics(ln net.Listener) {
	if ln != nil {
		_ = ln.Close()
	}
}

// serveMetrics serves a's metrics, and the Go runtime's and the
// process's, on ln at /metrics until the returned stop is called. With
// ln nil it does nothing.
func serveMetrics(ln net.Listener, a *agent.Agent, log *slog.Logger) (stop func()) {
	if ln == nil {
		return func() {}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), agentprom.New(a))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics ready", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
