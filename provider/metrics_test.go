package provider_test

import (
	"context"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// collect reads every provider metric as a number.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = float64(p.Value)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = float64(p.Value)
				}
			}
		}
	}
	return out
}

// TestProviderMetrics: loads, changes, tracking, and a lost Redis show in
// the provider's metrics, read through an OpenTelemetry ManualReader.
func TestProviderMetrics(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	p := provider.New(rdb, provider.WithMeterProvider(mp), provider.WithHealthInterval(50*time.Millisecond))
	c := bind(t, p)

	m := collect(t, reader)
	require.Equal(t, 1.0, m[provider.MetricReloads])
	require.GreaterOrEqual(t, m[provider.MetricSnapshotAge], 0.0)
	require.Less(t, m[provider.MetricSnapshotAge], 60.0)
	require.Zero(t, m[provider.MetricStale])

	f := usageFlags()[1]
	f.Description = "changed"
	_, err := store.New(rdb).Upsert(t.Context(), f)
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the change applied", func() bool { return collect(t, reader)[provider.MetricChangesApplied] >= 1 })

	c.Track(t.Context(), "e", of.NewEvaluationContext("u", nil), of.TrackingEventDetails{})
	eventually(t, 10*time.Second, "the event sent", func() bool { return collect(t, reader)[provider.MetricTrackSent] == 1 })

	srv.Kill()
	eventually(t, 10*time.Second, "stale and an error counted", func() bool {
		m := collect(t, reader)
		return m[provider.MetricRedisErrors] >= 1 && m[provider.MetricStale] > 0
	})
}
