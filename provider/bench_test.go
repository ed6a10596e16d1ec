package provider_test

import (
	"context"
	"fmt"
	"os"
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
// followed by subscribed providers (each with its own connection) serving
// the new definition. Each provider reports when its snapshot has the
// change (a PROVIDER_CONFIGURATION_CHANGED event naming the flag), and the
// benchmark checks the value is served. It reports p50 and p99 over every
// provider and write, in milliseconds.
//
//   - flags=1/providers=10: ten providers over the one flag written.
//   - flags=N/during-resync: a provider (one per process, as applications
//     run it) over N tutorial flags (× 3 environments) that reads every
//     flag again without pause
//     (WithResyncBudget(0), the shortest interval), so that each write
//     lands while a resync is being read (issue 18: changes keep their
//     latency during resyncs); in-resync-% is the share of writes made
//     while a read of every flag was out (the rest fell in the 10 ms
//     between two), full-loads/op how many such reads the provider merged
//     per write. 100,000 flags with
//     REDISFLAGS_BENCH_LARGE=1.
func BenchmarkPropagation(b *testing.B) {
	b.Run("flags=1/providers=10", func(b *testing.B) {
		srv := redistest.Start(b)
		providers := make([]*provider.Provider, 10)
		for i := range providers {
			providers[i] = startedProvider(b, srv.Client(b), provider.WithResyncInterval(time.Hour))
		}
		measurePropagation(b, store.New(srv.Client(b)), providers)
	})
	sizes := []int{10_000}
	if os.Getenv("REDISFLAGS_BENCH_LARGE") != "" {
		sizes = append(sizes, 100_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("flags=%d/during-resync", n), func(b *testing.B) {
			srv := redistest.Start(b)
			writeManyFlags(b, srv.BulkClient(b), n, 3)
			providers := make([]*provider.Provider, 1)
			for i := range providers {
				providers[i] = startedProvider(b, srv.BulkClient(b),
					provider.WithResyncBudget(0), provider.WithResyncInterval(0),
					provider.WithInitTimeout(5*time.Minute))
			}
			// Wait until each provider has merged a resync: from then on
			// one is always being read.
			for _, p := range providers {
				for provider.FullLoads(p) == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			before := int64(0)
			for _, p := range providers {
				before += provider.FullLoads(p)
			}
			measurePropagation(b, store.New(srv.Client(b)), providers)
			loads := -before
			for _, p := range providers {
				loads += provider.FullLoads(p)
			}
			b.ReportMetric(float64(loads)/float64(b.N), "full-loads/op")
		})
	}
}

// measurePropagation writes benchFlag with a new allowlisted user per
// iteration and waits for every provider to serve it.
func measurePropagation(b *testing.B, w *store.Store, providers []*provider.Provider) {
	ctx := context.Background()
	// Setting up wrote the flag once per provider: let those changes
	// arrive and drop their events.
	time.Sleep(200 * time.Millisecond)
	for _, p := range providers {
		for len(p.EventChannel()) > 0 {
			<-p.EventChannel()
		}
	}
	var lat []time.Duration
	i, busy := 0, 0
	for b.Loop() {
		i++
		subject := fmt.Sprintf("new-user-%d", i)
		f := benchFlag()
		env := f.Environments["production"]
		env.AllowlistUsers = []string{subject}
		f.Environments["production"] = env
		if provider.BulkRunning(providers[0]) {
			busy++
		}
		start := time.Now()
		_, err := w.Upsert(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range providers {
			for ev := range p.EventChannel() {
				if ev.EventType == of.ProviderConfigChange && slices.Contains(ev.FlagChanges, f.Key) {
					break
				}
			}
			lat = append(lat, time.Since(start))
			if !p.BooleanEvaluation(ctx, f.Key, false, of.FlattenedContext{"targetingKey": subject}).Value {
				b.Fatalf("change event before the change is served")
			}
		}
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	if len(providers) == 1 {
		b.ReportMetric(100*float64(busy)/float64(i), "in-resync-%")
	}
}
