package store_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/store"
)

// copyFixture is a flag this project writes: payload, both allowlists, two
// environments.
func copyFixture(key string) evaluator.Flag {
	return evaluator.Flag{
		Key: key, Description: "copy me", DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 25, Value: json.RawMessage(`{"title":"Fast checkout"}`),
				AllowlistUsers: []string{"user-1", "user-2"}, AllowlistRegions: []string{"us-west"}},
			"staging": {Enabled: false, RolloutPercent: 100},
		},
	}
}

// sameDefinition compares two definitions but for what a copy renews:
// version and updatedAt.
func sameDefinition(t *testing.T, want, got evaluator.Flag) {
	t.Helper()
	want, got = want.Clone(), got.Clone()
	want.Version, got.Version = 0, 0
	want.UpdatedAt, got.UpdatedAt = "", ""
	for _, f := range []*evaluator.Flag{&want, &got} {
		for name, env := range f.Environments {
			env.UpdatedAt = ""
			f.Environments[name] = env
		}
	}
	assert.Equal(t, want, got)
}

func TestCopyCopiesEveryFlagToAnotherPrefix(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		from := store.New(rdb)
		require.NoError(t, tutorial.Write(ctx, rdb, store.DefaultKeyPrefix, tutorial.CheckoutBanner()))
		for i := range 3 {
			_, err := from.Upsert(ctx, copyFixture(fmt.Sprintf("flag-%d", i)))
			require.NoError(t, err)
		}
		// An index entry without a flag (a half-finished hand delete) is not a flag.
		require.NoError(t, rdb.SAdd(ctx, "feature-flags:index", "ghost").Err())
		to := store.New(rdb, store.WithKeyPrefix("{feature-flags}"))

		n, err := store.Copy(ctx, from, to)
		require.NoError(t, err)
		assert.Equal(t, 4, n)
		want, err := from.List(ctx)
		require.NoError(t, err)
		got, err := to.List(ctx)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			sameDefinition(t, want[i], got[i])
			assert.Equal(t, int64(1), got[i].Version, "a new flag in the destination")
		}

		// Copying again replaces, bumping the destination's versions.
		n, err = store.Copy(ctx, from, to)
		require.NoError(t, err)
		assert.Equal(t, 4, n)
		f, err := to.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, int64(2), f.Version)
	})
}

func TestCopyWritesNothingWhenAFlagDoesNotParse(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		from := store.New(rdb)
		for _, k := range []string{"a-good", "b-bad", "c-good"} {
			_, err := from.Upsert(ctx, copyFixture(k))
			require.NoError(t, err)
		}
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:b-bad:environment:production", "rolloutPercent", "abc").Err())
		to := store.New(rdb, store.WithKeyPrefix("copy"))

		n, err := store.Copy(ctx, from, to)
		require.Error(t, err)
		assert.Zero(t, n)
		assert.ErrorIs(t, err, store.ErrCorrupt)
		var de *store.DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, "b-bad", de.Flag)
		keys, err := rdb.Keys(ctx, "copy:*").Result()
		require.NoError(t, err)
		assert.Empty(t, keys, "nothing written, not even the good flags")
	})
}

func TestCopyLoadsLargeAllowlistsWhole(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		f := copyFixture("big")
		f.Environments["production"] = evaluator.Environment{Enabled: true,
			AllowlistUsers: []string{"u1", "u2", "u3", "u4", "u5"}}
		_, err := store.New(rdb).Upsert(ctx, f)
		require.NoError(t, err)
		// A source store that would leave the allowlist in Redis.
		from := store.New(rdb, store.WithLargeSetThreshold(2))
		to := store.New(rdb, store.WithKeyPrefix("copy"))
		n, err := store.Copy(ctx, from, to)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		got, err := to.Get(ctx, "big")
		require.NoError(t, err)
		assert.Equal(t, []string{"u1", "u2", "u3", "u4", "u5"}, got.Environments["production"].AllowlistUsers)
	})
}

func TestCopyAcrossServers(t *testing.T) {
	src, dst := redistest.Start(t), redistest.Start(t)
	ctx := t.Context()
	from := store.New(src.Client(t))
	for i := range 600 { // more than one load batch
		_, err := from.Upsert(ctx, copyFixture(fmt.Sprintf("flag-%03d", i)))
		require.NoError(t, err)
	}
	to := store.New(dst.Client(t))
	n, err := store.Copy(ctx, from, to)
	require.NoError(t, err)
	assert.Equal(t, 600, n)
	got, err := to.List(ctx)
	require.NoError(t, err)
	require.Len(t, got, 600)
	sameDefinition(t, copyFixture("flag-599"), got[599])
}
