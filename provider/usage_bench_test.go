package provider_test

import (
	"context"
	"slices"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// BenchmarkUsage measures what evaluation counting adds to the snapshot
// boolean path: the same flag and context with counting off (the
// reference) and on, in the same run. Both must report 0 allocs/op; the
// difference is the counting's cost (bench/README.md).
func BenchmarkUsage(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()
	off := startedProvider(b, srv.Client(b))
	on := startedProvider(b, srv.Client(b), provider.WithUsageCounts(time.Second))
	rollout := of.FlattenedContext{"targetingKey": "user-98765", "region": "eu-central"}
	b.Run("SnapshotBooleanCountingOffNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = off.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
		}
	})
	b.Run("SnapshotBooleanCountingOnNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = on.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
		}
	})
	// Paired: blocks of 256 evaluations with counting off and on, timed in
	// alternation, so that both sides of each pair meet the same machine
	// load; the median difference per evaluation is "overhead-ns".
	b.Run("CountingOverheadPaired", func(b *testing.B) {
		const block = 256
		timeBlock := func(p *provider.Provider) time.Duration {
			t0 := time.Now()
			for range block {
				boolSink = p.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
			}
			return time.Since(t0)
		}
		var diffs []float64
		i := 0
		for b.Loop() {
			// Alternate which side runs first, so that neither gains from
			// its position in the pair (a warm cache, a fresh time slice).
			var dOff, dOn time.Duration
			if i%2 == 0 {
				dOff, dOn = timeBlock(off), timeBlock(on)
			} else {
				dOn, dOff = timeBlock(on), timeBlock(off)
			}
			i++
			diffs = append(diffs, float64(dOn-dOff)/block)
		}
		slices.Sort(diffs)
		b.ReportMetric(diffs[len(diffs)/2], "overhead-ns")
	})
	b.Run("SnapshotBooleanCountingOnParallelNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var d of.BoolResolutionDetail
			for pb.Next() {
				d = on.BooleanEvaluation(ctx, "checkout-banner", false, rollout)
			}
			_ = d
		})
	})
}
