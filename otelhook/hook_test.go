package otelhook_test

import (
	"context"
	"fmt"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redisflags/redisflags/otelhook"
)

var domains int

// setup binds an in-memory provider with two flags to a fresh domain and
// returns a client with the hook, the span recorder and the metric reader.
func setup(t *testing.T, opts ...otelhook.Option) (*of.Client, *sdktrace.TracerProvider, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	h, err := otelhook.New(append([]otelhook.Option{otelhook.WithMeterProvider(mp)}, opts...)...)
	require.NoError(t, err)
	p := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"new-checkout": {Key: "new-checkout", State: memprovider.Enabled, DefaultVariant: "on",
			Variants: map[string]any{"on": true, "off": false}},
		"greeting": {Key: "greeting", State: memprovider.Enabled, DefaultVariant: "formal",
			Variants: map[string]any{"formal": "Good day", "casual": "Hi"}},
	})
	domains++
	domain := fmt.Sprintf("%s-%d", t.Name(), domains)
	require.NoError(t, of.SetNamedProviderAndWait(domain, p))
	c := of.NewClient(domain)
	c.AddHooks(h)
	return c, tp, rec, reader
}

func eventAttrs(t *testing.T, rec *tracetest.SpanRecorder) []map[attribute.Key]attribute.Value {
	t.Helper()
	var out []map[attribute.Key]attribute.Value
	for _, s := range rec.Ended() {
		for _, e := range s.Events() {
			require.Equal(t, "feature_flag.evaluation", e.Name)
			m := map[attribute.Key]attribute.Value{}
			for _, kv := range e.Attributes {
				m[kv.Key] = kv.Value
			}
			out = append(out, m)
		}
	}
	return out
}

// TestSpanEventFollowsTheConventions checks the attribute names and values
// of the OpenFeature observability conventions on a success and on an
// error (flag not found).
func TestSpanEventFollowsTheConventions(t *testing.T) {
	c, tp, rec, _ := setup(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	v, err := c.BooleanValue(ctx, "new-checkout", false, of.NewEvaluationContext("user-42", nil))
	require.NoError(t, err)
	require.True(t, v)
	_, err = c.StringValue(ctx, "no-such-flag", "x", of.NewEvaluationContext("user-42", nil))
	require.Error(t, err)
	span.End()

	evs := eventAttrs(t, rec)
	require.Len(t, evs, 2)
	ok := evs[0]
	require.Equal(t, "new-checkout", ok["feature_flag.key"].AsString())
	require.Equal(t, "InMemoryProvider", ok["feature_flag.provider.name"].AsString())
	require.Equal(t, "on", ok["feature_flag.result.variant"].AsString())
	require.Equal(t, "static", ok["feature_flag.result.reason"].AsString())
	require.Equal(t, "user-42", ok["feature_flag.context.id"].AsString())
	require.NotContains(t, ok, attribute.Key("error.type"))
	require.NotContains(t, ok, attribute.Key("feature_flag.result.value"))

	bad := evs[1]
	require.Equal(t, "no-such-flag", bad["feature_flag.key"].AsString())
	require.Equal(t, "error", bad["feature_flag.result.reason"].AsString())
	require.Equal(t, "flag_not_found", bad["error.type"].AsString())
	require.NotEmpty(t, bad["error.message"].AsString())
	require.NotContains(t, bad, attribute.Key("feature_flag.result.value"), "values are left out unless WithValues")
}

// TestValuesOnlyWhenAsked: with WithValues, an evaluation without a variant
// carries feature_flag.result.value.
func TestValuesOnlyWhenAsked(t *testing.T) {
	c, tp, rec, _ := setup(t, otelhook.WithValues())
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	_, _ = c.StringValue(ctx, "no-such-flag", "fallback", of.EvaluationContext{})
	span.End()
	evs := eventAttrs(t, rec)
	require.Len(t, evs, 1)
	require.Equal(t, "fallback", evs[0]["feature_flag.result.value"].AsString())
}

// TestEvaluationCounter counts evaluations by key, variant, reason and
// error type, without the context id.
func TestEvaluationCounter(t *testing.T) {
	c, _, _, reader := setup(t)
	ctx := context.Background()
	for range 3 {
		_, _ = c.BooleanValue(ctx, "new-checkout", false, of.NewEvaluationContext("u", nil))
	}
	_, _ = c.StringValue(ctx, "greeting", "", of.NewEvaluationContext("u", nil))
	_, _ = c.StringValue(ctx, "no-such-flag", "", of.NewEvaluationContext("u", nil))

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	require.Equal(t, otelhook.ScopeName, rm.ScopeMetrics[0].Scope.Name)
	m := rm.ScopeMetrics[0].Metrics[0]
	require.Equal(t, otelhook.MetricName, m.Name)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok)
	require.True(t, sum.IsMonotonic)
	got := map[string]int64{}
	for _, dp := range sum.DataPoints {
		key, _ := dp.Attributes.Value("feature_flag.key")
		variant, _ := dp.Attributes.Value("feature_flag.result.variant")
		reason, _ := dp.Attributes.Value("feature_flag.result.reason")
		errType, _ := dp.Attributes.Value("error.type")
		_, hasID := dp.Attributes.Value("feature_flag.context.id")
		require.False(t, hasID, "the context id would make the metric's cardinality unbounded")
		got[key.AsString()+"/"+variant.AsString()+"/"+reason.AsString()+"/"+errType.AsString()] += dp.Value
	}
	require.Equal(t, map[string]int64{
		"new-checkout/on/static/":            3,
		"greeting/formal/static/":            1,
		"no-such-flag//error/flag_not_found": 1,
	}, got)
}

// BenchmarkHook measures the hook's cost per evaluation: the same
// evaluation through the SDK without the hook (the reference), with the
// hook counting only (no recording span), and with a recording span.
func BenchmarkHook(b *testing.B) {
	ctx := context.Background()
	ec := of.NewEvaluationContext("user-42", nil)
	run := func(b *testing.B, c *of.Client, ctx context.Context) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink, _ = c.BooleanValue(ctx, "new-checkout", false, ec)
		}
	}
	plain, _, _, _ := benchSetup(b, false)
	b.Run("NoHookReference", func(b *testing.B) { run(b, plain, ctx) })
	hooked, tp, _, _ := benchSetup(b, true)
	b.Run("MetricOnly", func(b *testing.B) { run(b, hooked, ctx) })
	sctx, span := tp.Tracer("bench").Start(ctx, "request")
	defer span.End()
	b.Run("MetricAndSpanEvent", func(b *testing.B) { run(b, hooked, sctx) })
}

var boolSink bool

func benchSetup(b *testing.B, hook bool) (*of.Client, *sdktrace.TracerProvider, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	rec := tracetest.NewSpanRecorder()
	// Keep a span's events bounded over a long benchmark.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{EventCountLimit: 16, AttributeCountLimit: 16, AttributePerEventCountLimit: 16, AttributeValueLengthLimit: -1, LinkCountLimit: -1, AttributePerLinkCountLimit: -1}))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	p := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"new-checkout": {Key: "new-checkout", State: memprovider.Enabled, DefaultVariant: "on",
			Variants: map[string]any{"on": true, "off": false}}})
	domains++
	domain := fmt.Sprintf("bench-%d", domains)
	require.NoError(b, of.SetNamedProviderAndWait(domain, p))
	c := of.NewClient(domain)
	if hook {
		h, err := otelhook.New(otelhook.WithMeterProvider(mp))
		require.NoError(b, err)
		c.AddHooks(h)
	}
	return c, tp, rec, reader
}
