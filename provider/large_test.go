package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// populate adds user-1 … user-n to key server-side, in steps of 100,000 so
// no single script blocks the server for long.
func populate(ctx context.Context, t testing.TB, rdb redis.UniversalClient, key string, n int) {
	t.Helper()
	const script = `for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('SADD', KEYS[1], 'user-' .. i) end return 1`
	for lo := 1; lo <= n; lo += 100_000 {
		require.NoError(t, rdb.Eval(ctx, script, []string{key}, lo, min(lo+99_999, n)).Err())
	}
}

func largeFlag(percent int) evaluator.Flag {
	return evaluator.Flag{Key: "beta", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, RolloutPercent: percent},
	}}
}

func TestLargeAllowlistStaysInRedisAndAnswersExactly(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		_, err := s.Upsert(ctx, largeFlag(0))
		require.NoError(t, err)
		users := "feature-flags:flag:beta:environment:production:users"
		populate(ctx, t, rdb, users, 1000)
		opts = append(opts, provider.WithLargeAllowlists(100, time.Minute))
		c := bind(t, provider.New(rdb, opts...))
		for i := 0; i <= 1100; i += 7 {
			subject := fmt.Sprintf("user-%d", i)
			d, err := c.BooleanValueDetails(ctx, "beta", false, of.NewEvaluationContext(subject, nil))
			require.NoError(t, err)
			member := i >= 1 && i <= 1000
			require.Equal(t, member, d.Value, subject)
			if member {
				require.Equal(t, of.TargetingMatchReason, d.Reason)
				require.Equal(t, "allowlist-user", d.FlagMetadata["evaluationReason"])
			}
		}
		// A write through the store (whose change notice drops cached
		// answers) that removes user-7 from the list is served at once,
		// despite the minute-long cache.
		require.True(t, c.Boolean(ctx, "beta", false, of.NewEvaluationContext("user-7", nil)))
		full, err := s.Get(ctx, "beta")
		require.NoError(t, err)
		env := full.Environments["production"]
		env.AllowlistUsers = env.AllowlistUsers[:0]
		for i := 8; i <= 1000; i++ {
			env.AllowlistUsers = append(env.AllowlistUsers, fmt.Sprintf("user-%d", i))
		}
		full.Environments["production"] = env
		_, err = s.Upsert(ctx, full)
		require.NoError(t, err)
		eventually(t, 5*time.Second, "user-7 removed", func() bool {
			return !c.Boolean(ctx, "beta", true, of.NewEvaluationContext("user-7", nil))
		})
		assert.True(t, c.Boolean(ctx, "beta", false, of.NewEvaluationContext("user-8", nil)))
	})
}

// TestPrerequisiteWithLargeAllowlistAsksRedis: a flag whose prerequisite
// keeps its allowlist in Redis is evaluated exactly, in both modes — the
// prerequisite's membership is asked of Redis, not taken as unknown.
func TestPrerequisiteWithLargeAllowlistAsksRedis(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		_, err := s.Upsert(ctx, largeFlag(0))
		require.NoError(t, err)
		populate(ctx, t, rdb, "feature-flags:flag:beta:environment:production:users", 500)
		_, err = s.Upsert(ctx, evaluator.Flag{Key: "beta-checkout", DefaultEnabled: true,
			Environments:   map[string]evaluator.Environment{"production": {Enabled: true}},
			Variants:       map[string]json.RawMessage{"new": json.RawMessage(`"new"`), "old": json.RawMessage(`"old"`)},
			DefaultVariant: "new", OffVariant: "old",
			Prerequisites: []evaluator.Prerequisite{{Flag: "beta", Variant: "on"}},
		})
		require.NoError(t, err)
		// And a prerequisite in a 50 % rollout: met exactly for the
		// subjects in its bucket range.
		_, err = s.Upsert(ctx, evaluator.Flag{Key: "half", DefaultEnabled: true,
			Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 50}}})
		require.NoError(t, err)
		_, err = s.Upsert(ctx, evaluator.Flag{Key: "half-child", DefaultEnabled: true,
			Environments:   map[string]evaluator.Environment{"production": {Enabled: true}},
			Variants:       map[string]json.RawMessage{"yes": json.RawMessage(`true`), "no": json.RawMessage(`false`)},
			DefaultVariant: "yes", OffVariant: "no",
			Prerequisites: []evaluator.Prerequisite{{Flag: "half", Variant: "on"}},
		})
		require.NoError(t, err)
		opts = append(opts, provider.WithLargeAllowlists(100, time.Minute))
		c := bind(t, provider.New(rdb, opts...))
		for _, tc := range []struct {
			subject, want string
		}{{"user-1", "new"}, {"user-250", "new"}, {"user-500", "new"}, {"user-501", "old"}, {"someone", "old"}} {
			d, err := c.StringValueDetails(ctx, "beta-checkout", "default", of.NewEvaluationContext(tc.subject, nil))
			require.NoError(t, err, tc.subject)
			assert.Equal(t, tc.want, d.Value, tc.subject)
		}
		for i := range 200 {
			subject := fmt.Sprintf("s-%d", i)
			on, err := c.BooleanValue(ctx, "half-child", false, of.NewEvaluationContext(subject, nil))
			require.NoError(t, err, subject)
			require.Equal(t, referenceBucket("half", "production", subject) < 50, on, subject)
		}
	})
}

func TestStoreRefusesToWriteADefinitionLoadedWithoutItsLargeAllowlist(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		_, err := store.New(rdb).Upsert(ctx, largeFlag(10))
		require.NoError(t, err)
		populate(ctx, t, rdb, "feature-flags:flag:beta:environment:production:users", 500)
		partial, err := store.New(rdb, store.WithLargeSetThreshold(100)).Get(ctx, "beta")
		require.NoError(t, err)
		assert.Equal(t, int64(500), partial.Environments["production"].LargeUsers)
		assert.Empty(t, partial.Environments["production"].AllowlistUsers)
		_, err = store.New(rdb).Upsert(ctx, partial)
		require.True(t, errors.Is(err, store.ErrLargeAllowlist), "%v", err)
		n, err := rdb.SCard(ctx, "feature-flags:flag:beta:environment:production:users").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(500), n, "nothing written")
	})
}

// TestFiveMillionMemberAllowlistCostsUnderOneMiB: the provider's heap grows
// by less than 1 MiB for a 5,000,000-member allowlist, and its answers for
// members and non-members match SISMEMBER.
func TestFiveMillionMemberAllowlistCostsUnderOneMiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 5,000,000-member allowlist")
	}
	srv := redistest.Start(t)
	rdb := srv.BulkClient(t)
	ctx := t.Context()
	_, err := store.New(rdb).Upsert(ctx, largeFlag(0))
	require.NoError(t, err)
	key := "feature-flags:flag:beta:environment:production:users"
	populate(ctx, t, rdb, key, 5_000_000)
	n, err := rdb.SCard(ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, int64(5_000_000), n)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := provider.New(rdb)
	c := bind(t, p)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d bytes for a %d-member allowlist", grown, n)
	assert.Less(t, grown, int64(1<<20))

	for i := 0; i < 2000; i++ {
		subject := fmt.Sprintf("user-%d", i*2503+1) // members up to 5,000,000 and past it
		want, err := rdb.SIsMember(ctx, key, subject).Result()
		require.NoError(t, err)
		got := c.Boolean(ctx, "beta", false, of.NewEvaluationContext(subject, nil))
		require.Equal(t, want, got, subject)
	}
}

// BenchmarkLargeAllowlist is the cost of one evaluation of a flag whose
// 5,000,000-member allowlist stays in Redis (the size
// TestFiveMillionMemberAllowlistCostsUnderOneMiB measures the heap for):
// a member answered from the provider's cache, and a member and a
// non-member with every answer asked of the real redis-server (SISMEMBER,
// the cache expiring at once). Each case checks its answer after the loop.
func BenchmarkLargeAllowlist(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.BulkClient(b)
	ctx := context.Background()
	_, err := store.New(rdb).Upsert(ctx, largeFlag(0))
	require.NoError(b, err)
	populate(ctx, b, rdb, "feature-flags:flag:beta:environment:production:users", 5_000_000)
	for _, tc := range []struct {
		name    string
		ttl     time.Duration
		subject string
		want    bool
	}{
		{"CacheHit", time.Hour, "user-4242", true},
		{"CacheMiss", time.Nanosecond, "user-4242", true},
		{"CacheMissNonMember", time.Nanosecond, "not-a-member", false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := provider.New(rdb, provider.WithLargeAllowlists(10_000, tc.ttl))
			domain := fmt.Sprintf("large-%s-%d", tc.name, domains.Add(1))
			require.NoError(b, of.SetNamedProviderAndWait(domain, p))
			defer p.Shutdown()
			fc := of.FlattenedContext{of.TargetingKey: tc.subject}
			b.ReportAllocs()
			for b.Loop() {
				benchSink = p.BooleanEvaluation(ctx, "beta", false, fc)
			}
			if benchSink.Value != tc.want || benchSink.Error() != nil {
				b.Fatalf("%s: got %v (%v), want %v", tc.subject, benchSink.Value, benchSink.Error(), tc.want)
			}
		})
	}
}

var benchSink of.BoolResolutionDetail
