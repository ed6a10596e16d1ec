package server

import (
	"context"
	"net/http"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redisflags/redisflags/otelhook"
	"github.com/redisflags/redisflags/provider"
)

// Metrics (docs/design.md §13): with WithMeterProvider the server reports
// through OpenTelemetry's metrics API what a Go application with the
// provider reports — the provider's own instruments (provider.
// WithMeterProvider) and the otelhook evaluation counter, fed by every
// resolution an HTTP route makes (the routes call the provider directly,
// not through the SDK, so the hook is called here) — plus the HTTP server's
// request durations by route pattern, method and status (the pattern, never
// the raw path, so that a scan of random paths adds no series).

// WithMeterProvider reports the server's metrics to mp (see above).
// Default: none.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meters = mp }
}

// HTTPDurationMetric is the histogram of request durations, in seconds
// (OpenTelemetry's HTTP semantic conventions).
const HTTPDurationMetric = "http.server.request.duration"

type serverMetrics struct {
	hook     *otelhook.Hook
	duration metric.Float64Histogram
	provider of.Metadata
}

func newServerMetrics(mp metric.MeterProvider, live *provider.Provider) (*serverMetrics, error) {
	h, err := otelhook.New(otelhook.WithMeterProvider(mp), otelhook.WithoutSpanEvents())
	if err != nil {
		return nil, err
	}
	d, err := mp.Meter("github.com/redisflags/redisflags/server").Float64Histogram(HTTPDurationMetric,
		metric.WithUnit("s"), metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, err
	}
	return &serverMetrics{hook: h, duration: d, provider: live.Metadata()}, nil
}

// resolve is p.Resolve, counted by the evaluation counter.
func (s *Server) resolve(ctx context.Context, p *provider.Provider, key string, fc of.FlattenedContext) provider.Resolution {
	res := p.Resolve(ctx, key, fc)
	if m := s.metrics; m != nil {
		tk, _ := fc[of.TargetingKey].(string)
		hc := of.NewHookContext(key, of.Object, nil, of.ClientMetadata{}, m.provider, of.NewEvaluationContext(tk, nil))
		d := of.InterfaceEvaluationDetails{EvaluationDetails: of.EvaluationDetails{FlagKey: key, FlagType: of.Object,
			ResolutionDetail: of.ResolutionDetail{Variant: res.Variant, Reason: res.Reason, ErrorCode: res.ErrorCode, ErrorMessage: res.ErrorMessage}}}
		m.hook.Finally(ctx, hc, d, of.HookHints{})
	}
	return res
}

// patternKey is the context key of a request's route holder: measure puts
// a *string there, and withPattern, around every mux, writes the pattern
// the innermost mux matched (middleware between them may clone the
// request, so measure cannot read r.Pattern itself).
type patternKey struct{}

// withPattern records the pattern mux matched in the request's route
// holder, unless a mux inside it already did.
func withPattern(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r) // sets r.Pattern
		if h, ok := r.Context().Value(patternKey{}).(*string); ok && *h == "" {
			*h = r.Pattern
		}
	})
}

// measure records every request's duration under its route pattern
// ("unmatched" when no route matched).
func (s *Server) measure(next http.Handler) http.Handler {
	m := s.metrics
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w}
		route := new(string)
		r = r.WithContext(context.WithValue(r.Context(), patternKey{}, route))
		next.ServeHTTP(rec, r)
		pattern := *route
		if pattern == "" {
			pattern = "unmatched"
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		m.duration.Record(r.Context(), time.Since(start).Seconds(), metric.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", pattern),
			attribute.Int("http.response.status_code", rec.status)))
	})
}
