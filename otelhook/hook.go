// Package otelhook records OpenFeature flag evaluations with OpenTelemetry,
// as the OpenFeature observability semantic conventions define them: each
// evaluation adds a "feature_flag.evaluation" event to the span in the
// evaluation's context (feature_flag.key, feature_flag.provider.name,
// feature_flag.result.variant, feature_flag.result.reason,
// feature_flag.context.id, error.type, error.message, …), and counts it in
// the metric "feature_flag.evaluations".
//
// It works with any OpenFeature provider: it depends on go-sdk and the
// OpenTelemetry API only, and builds the attributes with go-sdk's own
// telemetry.CreateEvaluationEvent, so the names follow the SDK's reading of
// the conventions.
//
//	openfeature.AddHooks(otelhook.New())
//
// By default the hook uses the global tracer and meter providers (set them
// with otel.SetTracerProvider / otel.SetMeterProvider) and leaves out
// feature_flag.result.value: served values may be personal data. Safe for
// concurrent use.
package otelhook

import (
	"context"
	"fmt"
	"strings"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the hook's meter.
const ScopeName = "github.com/redisflags/redisflags/otelhook"

// MetricName is the evaluation counter's name.
const MetricName = "feature_flag.evaluations"

// Hook is an OpenFeature hook recording evaluations; create it with [New].
type Hook struct {
	of.UnimplementedHook
	counter metric.Int64Counter
	values  bool
	spans   bool
	metrics bool
}

var _ of.Hook = (*Hook)(nil)

// Option configures a Hook.
type Option func(*config)

type config struct {
	mp            metric.MeterProvider
	values        bool
	spans, counts bool
}

// WithMeterProvider sets where the evaluation counter is created. Default:
// otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	}
}

// WithValues adds feature_flag.result.value to span events when the
// provider reported no variant (the conventions' rule). Default: off, since
// served values may be personal data or secrets.
func WithValues() Option { return func(c *config) { c.values = true } }

// WithoutSpanEvents stops the hook from adding span events. Default: on.
func WithoutSpanEvents() Option { return func(c *config) { c.spans = false } }

// WithoutMetrics stops the hook from counting evaluations. Default: on.
func WithoutMetrics() Option { return func(c *config) { c.counts = false } }

// New returns a hook. It fails only if the meter refuses the counter, which
// the OpenTelemetry SDK does not do for a valid name.
func New(opts ...Option) (*Hook, error) {
	c := config{spans: true, counts: true}
	for _, o := range opts {
		o(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	h := &Hook{values: c.values, spans: c.spans, metrics: c.counts}
	if c.counts {
		var err error
		h.counter, err = c.mp.Meter(ScopeName).Int64Counter(MetricName,
			metric.WithUnit("{evaluation}"),
			metric.WithDescription("Feature flag evaluations, by flag key, provider, variant, reason and error type."))
		if err != nil {
			return nil, fmt.Errorf("otelhook: create counter %s: %w", MetricName, err)
		}
	}
	return h, nil
}

// Finally records the evaluation: it runs after every evaluation, whether
// it succeeded or not.
func (h *Hook) Finally(ctx context.Context, hc of.HookContext, d of.InterfaceEvaluationDetails, _ of.HookHints) {
	span := trace.SpanFromContext(ctx)
	recordSpan := h.spans && span.IsRecording()
	if !recordSpan && !h.metrics {
		return
	}
	ev := telemetry.CreateEvaluationEvent(hc, d)
	if recordSpan {
		attrs := make([]attribute.KeyValue, 0, len(ev.Attributes))
		for k, v := range ev.Attributes {
			if k == telemetry.ResultValueKey && !h.values {
				continue
			}
			attrs = append(attrs, toAttribute(k, v))
		}
		span.AddEvent(ev.Name, trace.WithAttributes(attrs...))
	}
	if h.metrics {
		// Not the context id nor the value: unbounded cardinality.
		attrs := make([]attribute.KeyValue, 0, 5)
		for _, k := range []string{telemetry.FlagKey, telemetry.ProviderNameKey, telemetry.ResultVariantKey,
			telemetry.ResultReasonKey, telemetry.ErrorTypeKey} {
			if v, ok := ev.Attributes[k].(string); ok {
				attrs = append(attrs, attribute.String(k, v))
			}
		}
		h.counter.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
}

// toAttribute converts an event attribute; values that are not a string,
// bool or number are written as their fmt form.
func toAttribute(k string, v any) attribute.KeyValue {
	switch x := v.(type) {
	case string:
		return attribute.String(k, x)
	case bool:
		return attribute.Bool(k, x)
	case int64:
		return attribute.Int64(k, x)
	case int:
		return attribute.Int(k, x)
	case float64:
		return attribute.Float64(k, x)
	default:
		return attribute.String(k, strings.TrimSpace(fmt.Sprint(x)))
	}
}
