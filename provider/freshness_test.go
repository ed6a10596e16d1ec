package provider_test

import (
	"context"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// freshServer starts a redis-server with keyspace notifications off (so
// that they tell nothing) and n tutorial flags.
func freshServer(t *testing.T, n int) (*redistest.Server, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	require.NoError(t, admin.ConfigSet(t.Context(), "notify-keyspace-events", "").Err())
	writeManyFlags(t, admin, n, 3)
	return srv, admin
}

var env0User1 = of.FlattenedContext{"targetingKey": "user-1", "environment": "env-0"}

// served reports whether p serves value for flag to user-1 in env-0.
func served(p *provider.Provider, flag string, value bool) func() bool {
	return func() bool {
		return p.BooleanEvaluation(context.Background(), flag, !value, env0User1).Value == value
	}
}

// Issue 18: with client tracking (the default) and no keyspace
// notifications, raw writes that publish nothing — a changed field, a new
// flag, a deleted flag, a FLUSHALL — are served at once; with tracking off
// and a resync an hour away, the same raw write is not (tracking is what
// told it).
func TestRawWritesAreToldByClientTracking(t *testing.T) {
	srv, admin := freshServer(t, 20)
	ctx := t.Context()
	disable := func(flag string, enabled string) {
		require.NoError(t, admin.HSet(ctx, "feature-flags:flag:"+flag+":environment:env-0", "enabled", enabled).Err())
	}

	off := provider.New(srv.Client(t), provider.WithClientTracking(false), provider.WithResyncInterval(time.Hour))
	require.NoError(t, off.Init(of.EvaluationContext{}))
	t.Cleanup(off.Shutdown)
	p := provider.New(srv.Client(t), provider.WithResyncInterval(time.Hour))
	require.NoError(t, p.Init(of.EvaluationContext{}))
	t.Cleanup(p.Shutdown)
	require.True(t, served(p, "flag-000003", true)())

	disable("flag-000003", "false")
	require.Eventually(t, served(p, "flag-000003", false), 5*time.Second, time.Millisecond, "a raw HSET is served")
	time.Sleep(300 * time.Millisecond)
	assert.True(t, served(off, "flag-000003", true)(), "without tracking (and no notices, no keyspace events) the raw write waits for the resync")

	// A flag written raw, as the tutorial's app creates one.
	require.NoError(t, admin.HSet(ctx, "feature-flags:flag:raw-new", "defaultEnabled", "true", "updatedAt", "2026-03-19T12:00:00.000Z").Err())
	require.NoError(t, admin.SAdd(ctx, "feature-flags:index", "raw-new").Err())
	require.Eventually(t, func() bool { return !notFound(p, "raw-new") }, 5*time.Second, time.Millisecond, "a flag created raw is served")

	// A flag deleted raw.
	keys, err := admin.Keys(ctx, "feature-flags:flag:flag-000004*").Result()
	require.NoError(t, err)
	require.NoError(t, admin.Del(ctx, keys...).Err())
	require.NoError(t, admin.SRem(ctx, "feature-flags:index", "flag-000004").Err())
	require.Eventually(t, func() bool {
		return notFound(p, "flag-000004")
	}, 5*time.Second, time.Millisecond, "a flag deleted raw is gone")

	// Everything flushed: Redis invalidates every key at once.
	require.NoError(t, admin.FlushAll(ctx).Err())
	require.Eventually(t, func() bool {
		return notFound(p, "flag-000005")
	}, 5*time.Second, time.Millisecond, "a FLUSHALL empties the snapshot")
	flags, err := p.Flags(ctx)
	require.NoError(t, err)
	assert.Empty(t, flags)
}

// Issue 18: without tracking or keyspace notifications, the paced resync
// finds raw writes — a changed field, a deleted flag, a new one — within a
// cycle: 40 flags × 17 commands at 4,000 commands/s is a fifth of a
// second.
func TestPacedResyncFindsRawWrites(t *testing.T) {
	srv, admin := freshServer(t, 40)
	ctx := t.Context()
	p := provider.New(srv.Client(t), provider.WithClientTracking(false),
		provider.WithResyncInterval(50*time.Millisecond), provider.WithResyncBudget(4000))
	require.NoError(t, p.Init(of.EvaluationContext{}))
	t.Cleanup(p.Shutdown)

	require.NoError(t, admin.HSet(ctx, "feature-flags:flag:flag-000039:environment:env-0", "enabled", "false").Err())
	require.Eventually(t, served(p, "flag-000039", false), 10*time.Second, 5*time.Millisecond, "the sweep finds the raw HSET")

	keys, err := admin.Keys(ctx, "feature-flags:flag:flag-000001*").Result()
	require.NoError(t, err)
	require.NoError(t, admin.Del(ctx, keys...).Err())
	require.NoError(t, admin.SRem(ctx, "feature-flags:index", "flag-000001").Err())
	require.NoError(t, admin.HSet(ctx, "feature-flags:flag:raw-new", "defaultEnabled", "true", "updatedAt", "2026-03-19T12:00:00.000Z").Err())
	require.NoError(t, admin.SAdd(ctx, "feature-flags:index", "raw-new").Err())
	require.Eventually(t, func() bool {
		return notFound(p, "flag-000001") &&
			!notFound(p, "raw-new")
	}, 10*time.Second, 5*time.Millisecond, "the sweep finds the flag deleted and the flag created raw")
	assert.True(t, served(p, "flag-000002", true)(), "the others stay")
}

// notFound reports whether p answers FLAG_NOT_FOUND for flag (a flag
// without the asked environment, as raw-new, answers DEFAULT).
func notFound(p *provider.Provider, flag string) bool {
	d := p.BooleanEvaluation(context.Background(), flag, false, env0User1)
	return d.ResolutionError.Error() != "" && d.Reason == of.ErrorReason && d.ResolutionDetail().ErrorCode == of.FlagNotFoundCode
}
