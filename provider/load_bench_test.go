package provider_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// writeManyFlags stores n tutorial-layout flags with envs environments each
// (a 25% rollout, two allowlisted users, one region, a small payload), in
// pipelined batches.
func writeManyFlags(tb testing.TB, rdb redis.UniversalClient, n, envs int) {
	tb.Helper()
	ctx := context.Background()
	const batch = 500
	for start := 0; start < n; start += batch {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(start+batch, n); i++ {
				key := fmt.Sprintf("flag-%06d", i)
				base := "feature-flags:flag:" + key
				p.HSet(ctx, base, "description", "benchmark flag", "defaultEnabled", "true", "updatedAt", "2026-03-19T12:00:00.000Z", "version", "1")
				for e := range envs {
					name := "env-" + strconv.Itoa(e)
					p.SAdd(ctx, base+":environments", name)
					p.HSet(ctx, base+":environment:"+name, "enabled", "true", "rolloutPercent", "25",
						"value", `{"title":"Fast checkout","color":"green"}`, "updatedAt", "2026-03-19T12:00:00.000Z")
					p.SAdd(ctx, base+":environment:"+name+":users", "user-1", "user-2")
					p.SAdd(ctx, base+":environment:"+name+":regions", "us-west")
				}
				p.SAdd(ctx, "feature-flags:index", key)
			}
			return nil
		})
		require.NoError(tb, err)
	}
}

// BenchmarkSnapshotLoad measures Init (the full batched load and compile),
// the heap the snapshot keeps and the allocations the load makes, per flag,
// for flags × 3 environments. 100,000 flags run with REDISFLAGS_BENCH_LARGE=1.
func BenchmarkSnapshotLoad(b *testing.B) {
	sizes := []int{1000, 10000}
	if os.Getenv("REDISFLAGS_BENCH_LARGE") != "" {
		sizes = append(sizes, 100000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("flags=%d/envs=3", n), func(b *testing.B) {
			srv := redistest.Start(b)
			rdb := srv.Client(b)
			writeManyFlags(b, rdb, n, 3)
			var heap, mallocs, loads uint64
			for b.Loop() {
				var before, loaded, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				// 100,000 flags take longer than the default init deadline.
				p := provider.New(rdb, provider.WithInitTimeout(10*time.Minute))
				if err := p.Init(of.EvaluationContext{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.ReadMemStats(&loaded)
				mallocs += loaded.Mallocs - before.Mallocs
				loads++
				runtime.GC()
				runtime.ReadMemStats(&after)
				if after.HeapAlloc > before.HeapAlloc {
					heap = after.HeapAlloc - before.HeapAlloc
				}
				if d := p.BooleanEvaluation(context.Background(), "flag-000000", false, of.FlattenedContext{"targetingKey": "user-1", "environment": "env-2"}); !d.Value {
					b.Fatalf("flag not served after load: %+v", d)
				}
				p.Shutdown()
				b.StartTimer()
			}
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(heap)/float64(n), "heap-B/flag")
			if loads > 0 {
				b.ReportMetric(float64(mallocs)/float64(loads)/float64(n), "allocs/flag")
			}
		})
	}
}
