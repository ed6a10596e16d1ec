package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// serveMetrics are serve's metrics exporters (docs/design.md §13): a
// Prometheus /metrics on its own listener (--metrics-addr; never on the
// public one, since metrics name every flag key) and OTLP over HTTP when
// the standard OTEL_EXPORTER_OTLP_ENDPOINT (or …_METRICS_ENDPOINT) is
// set, which the exporter reads itself with the rest of the OTEL_*
// variables.
type serveMetrics struct {
	mp     *sdkmetric.MeterProvider
	hs     *http.Server
	served chan error
}

// otlpConfigured reports whether the environment asks for OTLP export.
func otlpConfigured() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
}

// startMetrics returns nil, nil when neither exporter is asked for.
func startMetrics(ctx context.Context, addr string, stdout io.Writer, logger *slog.Logger) (*serveMetrics, error) {
	if addr == "" && !otlpConfigured() {
		return nil, nil
	}
	var opts []sdkmetric.Option
	m := &serveMetrics{}
	if addr != "" {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(exp))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
		m.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		m.served = make(chan error, 1)
		go func() { m.served <- m.hs.Serve(ln) }()
		fmt.Fprintf(stdout, "redisflags: metrics on http://%s/metrics\n", ln.Addr())
	}
	if otlpConfigured() {
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			m.close(ctx)
			return nil, fmt.Errorf("metrics: OTLP exporter: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		logger.Info("exporting metrics over OTLP/HTTP (OTEL_EXPORTER_OTLP_* settings)")
	}
	m.mp = sdkmetric.NewMeterProvider(opts...)
	return m, nil
}

// provider is the meter provider the server reports to.
func (m *serveMetrics) provider() metric.MeterProvider { return m.mp }

// close stops the listener and flushes the exporters (5 s at most).
func (m *serveMetrics) close(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if m.hs != nil {
		_ = m.hs.Shutdown(sctx)
		<-m.served // ErrServerClosed, or why it stopped earlier

	}
	if m.mp != nil {
		_ = m.mp.Shutdown(sctx)
	}
}
