package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// Every latency benchmark evaluates the equivalent flag (equivalent_test.go)
// for subjects user-0 … user-1023 in turn, with contexts built before the
// timed loop, so that rollout hits, misses and the two allow lists all
// take their share. The results are kept in the sinks below. README.md
// ("Evaluation latency") has the figures and how they were taken.

var (
	resultSink   evaluator.Result
	detailSink   of.BoolResolutionDetail
	valueSink    bool
	errSink      error
	parallelSink atomic.Int64
)

// mask turns a running counter into a subject index.
const mask = benchSubjects - 1

// BenchmarkLatency measures redisflags in-process: the evaluator alone, and
// the provider's snapshot path as the OpenFeature SDK calls it (the
// snapshot is loaded from a miniredis; evaluation touches only memory).
func BenchmarkLatency(b *testing.B) {
	compiled, err := evaluator.Compile(equivalentFlag())
	require.NoError(b, err)
	in := evaluatorInputs(benchSubjects)
	b.Run("EvaluatorNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			resultSink = compiled.Evaluate(in[i&mask])
			i++
		}
	})

	p := startedProvider(b, miniredisClient(b))
	ctx := context.Background()
	fc := flatContexts(benchSubjects)
	b.Run("SnapshotBooleanNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			detailSink = p.BooleanEvaluation(ctx, eqFlag, false, fc[i&mask])
			i++
		}
	})
}

// domains numbers the OpenFeature domains the benchmarks bind, so that no
// run (-count) re-binds a domain another run used.
var domains atomic.Int64

func newDomain(b *testing.B) string {
	return fmt.Sprintf("%s#%d", b.Name(), domains.Add(1))
}

// BenchmarkClient measures what an application pays: client.BooleanValue
// through go-sdk, with redisflags (snapshot mode) and with go-sdk's
// in-memory provider on the same flag shape ("memprovider-shaped": the same
// lists, the same bucket, the same reason, variant and shared metadata),
// and on a static flag ("memprovider-static": the SDK's floor, no targeting
// at all), and LaunchDarkly's SDK behind go-sdk as LaunchDarkly's
// OpenFeature provider puts it there ("launchdarkly-shaped", see
// ldprovider_test.go: what an application on LaunchDarkly's OpenFeature
// provider pays today). The cases are named provider=… so that
// `benchstat -col /provider` puts them side by side. Each provider has a
// domain of its own; the SDK is shut down when the benchmark ends.
func BenchmarkClient(b *testing.B) {
	defer of.Shutdown()
	rdb := miniredisClient(b)
	storeFlag(b, rdb)
	ours := provider.New(rdb)
	b.Cleanup(ours.Shutdown)
	oursDomain, memDomain := newDomain(b), newDomain(b)
	require.NoError(b, of.SetNamedProviderAndWait(oursDomain, ours))
	require.NoError(b, of.SetNamedProviderAndWait(memDomain, memprovider.NewInMemoryProvider(memFlags())))
	ldDomain := newDomain(b)
	require.NoError(b, of.SetNamedProviderAndWait(ldDomain, ldShapedProvider{ldClient(b)}))
	cases := []struct {
		name   string
		client *of.Client
		flag   string
	}{
		{"provider=redisflags", of.NewClient(oursDomain), eqFlag},
		{"provider=memprovider-shaped", of.NewClient(memDomain), eqFlag},
		{"provider=memprovider-static", of.NewClient(memDomain), "static"},
		{"provider=launchdarkly-shaped", of.NewClient(ldDomain), eqFlag},
	}
	ctx := context.Background()
	ec := evaluationContexts(benchSubjects)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				valueSink, errSink = c.client.BooleanValue(ctx, c.flag, false, ec[i&mask])
				i++
			}
		})
	}
}

// BenchmarkParallel measures throughput with every core evaluating
// (b.RunParallel, one goroutine per GOMAXPROCS): ns/op is wall time per
// evaluation over all goroutines, so on n cores a path that scales
// perfectly shows 1/n of its BenchmarkLatency time.
func BenchmarkParallel(b *testing.B) {
	defer of.Shutdown()
	rdb := miniredisClient(b)
	p := startedProvider(b, rdb)
	domain := newDomain(b)
	require.NoError(b, of.SetNamedProviderAndWait(domain, p))
	client := of.NewClient(domain)
	ctx := context.Background()
	fc := flatContexts(benchSubjects)
	ec := evaluationContexts(benchSubjects)
	b.Run("SnapshotBooleanNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var on int64
			for i := 0; pb.Next(); i++ {
				if p.BooleanEvaluation(ctx, eqFlag, false, fc[i&mask]).Value {
					on++
				}
			}
			parallelSink.Add(on)
		})
	})
	b.Run("Client-redisflags", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var on int64
			for i := 0; pb.Next(); i++ {
				if v, _ := client.BooleanValue(ctx, eqFlag, false, ec[i&mask]); v {
					on++
				}
			}
			parallelSink.Add(on)
		})
	})
	lc := ldClient(b)
	lctx := ldContexts(benchSubjects)
	b.Run("launchdarkly-BoolVariation", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var on int64
			for i := 0; pb.Next(); i++ {
				if v, _ := lc.BoolVariation(eqFlag, lctx[i&mask], false); v {
					on++
				}
			}
			parallelSink.Add(on)
		})
	})
}

// BenchmarkDirect measures direct reads (provider.WithDirectReads: one
// MULTI/EXEC round trip of HGETALL, SMEMBERS of the environment names, HMGET, SISMEMBER, SISMEMBER per
// evaluation) against miniredis and against a real redis-server started for
// the benchmark, each next to a PING on the same client and server: the
// floor of any round trip. A missing redis-server skips that server (fails
// under REDISFLAGS_REQUIRE_REDIS=1).
func BenchmarkDirect(b *testing.B) {
	servers := []struct {
		name   string
		client func(b *testing.B) redis.UniversalClient
	}{
		{"miniredis", func(b *testing.B) redis.UniversalClient { return miniredisClient(b) }},
		{"redis-server", func(b *testing.B) redis.UniversalClient { return redistest.Start(b).Client(b) }},
	}
	for _, s := range servers {
		b.Run("server="+s.name, func(b *testing.B) {
			rdb := s.client(b)
			p := startedProvider(b, rdb, provider.WithDirectReads())
			ctx := context.Background()
			fc := flatContexts(benchSubjects)
			b.Run("op=Boolean", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					detailSink = p.BooleanEvaluation(ctx, eqFlag, false, fc[i&mask])
					i++
				}
			})
			b.Run("op=Ping", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					errSink = rdb.Ping(ctx).Err()
				}
			})
		})
	}
}
