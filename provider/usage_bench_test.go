package provider_test

import (
	"context"
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
