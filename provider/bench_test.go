package provider_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

var (
	boolSink   of.BoolResolutionDetail
	objectSink of.InterfaceResolutionDetail
	errSink    error
	resultSink evaluator.Result
)

// benchFlag is the shape every evaluation benchmark uses: a 25% rollout
// with a user and a region allowlist and an object payload.
func benchFlag() evaluator.Flag {
	return evaluator.Flag{Key: "checkout-banner", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, RolloutPercent: 25, AllowlistUsers: []string{"user-123"},
			AllowlistRegions: []string{"us-west"}, Value: []byte(`{"title":"Fast checkout"}`)}}}
}

func startedProvider(b *testing.B, rdb redis.UniversalClient, opts ...provider.Option) *provider.Provider {
	b.Helper()
	_, err := store.New(rdb).Upsert(b.Context(), benchFlag())
	require.NoError(b, err)
	p := provider.New(rdb, opts...)
	require.NoError(b, p.Init(of.EvaluationContext{}))
	b.Cleanup(p.Shutdown)
	return p
}

// BenchmarkProvider measures the provider's methods called directly, as the
// SDK calls them. Cases named …NoAlloc must report 0 allocs/op.
func BenchmarkProvider(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client(b)
	snap := startedProvider(b, rdb)
	ctx := context.Background()
	rollout := of.FlattenedContext{"targetingKey": "user-98765", "region": "eu-central"}
	// The reference for the snapshot path: the evaluator alone on the same
	// flag and input (BenchmarkEvaluate's work), measured in the same run.
	compiled, err := evaluator.Compile(benchFlag())
	require.NoError(b, err)
	in := evaluator.Input{Environment: "production", Subject: "user-98765", Region: "eu-central"}
	b.Run("EvaluatorReferenceNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resultSink = compiled.Evaluate(in)
		}
	})
	b.Run("SnapshotBooleanNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = snap.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
		}
	})
	b.Run("SnapshotBooleanParallelNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var d of.BoolResolutionDetail
			for pb.Next() {
				d = snap.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
			}
			_ = d
		})
	})
	b.Run("SnapshotObject", func(b *testing.B) {
		b.ReportAllocs()
		hit := of.FlattenedContext{"targetingKey": "user-123"}
		for b.Loop() {
			objectSink = snap.ObjectEvaluation(ctx, "checkout-banner", nil, hit)
		}
	})
	direct := startedProvider(b, rdb, provider.WithDirectReads())
	b.Run("DirectBoolean", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = direct.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
		}
	})
	// The reference: one PING on the same client against the same server.
	b.Run("DirectPingReference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			errSink = rdb.Ping(ctx).Err()
		}
	})
}

// BenchmarkPropagation measures write-to-served latency: a store write
// followed by ten subscribed providers (each with its own connection)
// serving the new definition. Each provider reports when its snapshot has
// the change (its PROVIDER_CONFIGURATION_CHANGED event), and the benchmark
// checks the value is served. It reports p50 and p99 over every provider
// and write, in milliseconds.
func BenchmarkPropagation(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	w := store.New(srv.Client(b))
	_, err := w.Upsert(ctx, benchFlag())
	require.NoError(b, err)
	const n = 10
	providers := make([]*provider.Provider, n)
	for i := range providers {
		providers[i] = startedProvider(b, srv.Client(b), provider.WithResyncInterval(time.Hour))
	}
	// Setting up wrote the flag ten times: let those changes arrive and
	// drop their events.
	time.Sleep(200 * time.Millisecond)
	for _, p := range providers {
		for len(p.EventChannel()) > 0 {
			<-p.EventChannel()
		}
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		subject := fmt.Sprintf("new-user-%d", i)
		f := benchFlag()
		env := f.Environments["production"]
		env.AllowlistUsers = []string{subject}
		f.Environments["production"] = env
		start := time.Now()
		_, err := w.Upsert(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range providers {
			for ev := range p.EventChannel() {
				if ev.EventType == of.ProviderConfigChange {
					break
				}
			}
			lat = append(lat, time.Since(start))
			if !p.BooleanEvaluation(ctx, "checkout-banner", false, of.FlattenedContext{"targetingKey": subject}).Value {
				b.Fatalf("change event before the change is served")
			}
		}
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
