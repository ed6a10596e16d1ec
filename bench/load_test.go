package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// BenchmarkLoad measures loading every flag from a real redis-server, for
// 1,000, 10,000 and 100,000 tutorial flags of three environments each (a
// 25 % rollout, two allowlisted users, one region and a small payload per
// environment):
//
//   - Snapshot: the provider's Init — subscribe, the batched full load,
//     compilation into the immutable snapshot — what an application waits
//     for at start;
//   - Store: store.LoadAll alone, the batched reads and decoding.
//
// Besides ns/op it reports ns/flag, heap-B/flag (the heap the snapshot, or
// the loaded records, keep after a GC, divided by the number of flags) and
// round-trips (commands and pipelines sent). Per-flag figures that stay
// flat from 1,000 to 100,000 flags show that loading grows linearly.
// README.md ("Load time and memory") has the figures.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			if n > 10_000 && os.Getenv(loadLargeEnv) != "1" {
				b.Skipf("set %s=1 to load %d flags (about a minute on 2 cores: writing them, then both loads)", loadLargeEnv, n)
			}
			srv := redistest.Start(b)
			rdb := srv.Client(b)
			loadPopulate(b, rdb, n)
			rt := &loadRoundTrips{}
			rdb.AddHook(rt)

			b.Run("Snapshot", func(b *testing.B) {
				var heap uint64
				var trips int64
				for b.Loop() {
					b.StopTimer()
					before := loadHeap()
					rt.n.Store(0)
					// The default init timeout (5 s) is too short for 100,000 flags.
					p := provider.New(rdb, provider.WithEnvironment("staging"), provider.WithInitTimeout(10*time.Minute))
					b.StartTimer()
					err := p.Init(of.EvaluationContext{})
					if err != nil {
						p.Shutdown()
						b.Fatal(err)
					}
					b.StopTimer()
					trips = rt.n.Load()
					heap = loadHeapDelta(before)
					d := p.BooleanEvaluation(context.Background(), loadFlagKey(n-1), false, of.FlattenedContext{"targetingKey": "user-1"})
					if !d.Value {
						b.Fatalf("flag not served after the load: %+v", d)
					}
					p.Shutdown()
					b.StartTimer()
				}
				loadReport(b, n, heap, trips)
			})

			b.Run("Store", func(b *testing.B) {
				s := store.New(rdb)
				var heap uint64
				var trips int64
				for b.Loop() {
					b.StopTimer()
					before := loadHeap()
					rt.n.Store(0)
					b.StartTimer()
					recs, err := s.LoadAll(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					trips = rt.n.Load()
					heap = loadHeapDelta(before)
					if len(recs) != n || recs[n-1].Err != nil {
						b.Fatalf("loaded %d records, want %d", len(recs), n)
					}
					runtime.KeepAlive(recs)
					b.StartTimer()
				}
				loadReport(b, n, heap, trips)
			})
		})
	}
}

// loadLargeEnv turns on the 100,000-flag case, which takes longer than CI's
// budget for one benchmark run once.
const loadLargeEnv = "REDISFLAGS_BENCH_LARGE"

func loadReport(b *testing.B, n int, heap uint64, trips int64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/flag")
	b.ReportMetric(float64(heap)/float64(n), "heap-B/flag")
	b.ReportMetric(float64(trips), "round-trips")
}

// loadHeap returns the live heap after a full collection.
func loadHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func loadHeapDelta(before uint64) uint64 {
	if after := loadHeap(); after > before {
		return after - before
	}
	return 0
}

func loadFlagKey(i int) string { return fmt.Sprintf("flag-%06d", i) }

var loadEnvs = []string{"production", "staging", "development"}

// loadPopulate writes n flags in the tutorial's layout with raw pipelined
// commands (2,000 flags per pipeline), not one transaction per flag, so that
// 100,000 flags take seconds to write.
func loadPopulate(tb testing.TB, rdb redis.UniversalClient, n int) {
	tb.Helper()
	ctx := context.Background()
	const batch = 2000
	const at = "2026-03-19T12:00:00.000Z"
	envNames := make([]any, len(loadEnvs))
	for i, e := range loadEnvs {
		envNames[i] = e
	}
	for start := 0; start < n; start += batch {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			keys := make([]any, 0, batch)
			for i := start; i < min(start+batch, n); i++ {
				key := loadFlagKey(i)
				keys = append(keys, key)
				base := store.DefaultKeyPrefix + ":flag:" + key
				p.HSet(ctx, base, "description", "load benchmark flag "+strconv.Itoa(i), "defaultEnabled", "true", "updatedAt", at, "version", "1")
				p.SAdd(ctx, base+":environments", envNames...)
				for _, e := range loadEnvs {
					eb := base + ":environment:" + e
					p.HSet(ctx, eb, "enabled", "true", "rolloutPercent", "25",
						"value", `{"title":"Fast checkout","color":"green"}`, "updatedAt", at)
					p.SAdd(ctx, eb+":users", "user-1", "user-2")
					p.SAdd(ctx, eb+":regions", "us-west")
				}
			}
			p.SAdd(ctx, store.DefaultKeyPrefix+":index", keys...)
			return nil
		})
		require.NoError(tb, err)
	}
}

// loadRoundTrips counts round trips: one per command or pipeline sent.
type loadRoundTrips struct{ n atomic.Int64 }

func (h *loadRoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *loadRoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *loadRoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}
