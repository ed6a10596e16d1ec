package store_test

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

func TestUpsertKeepLargeAllowlists(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		full := store.New(rdb)
		f := banner()
		prod := f.Environments["production"]
		for i := range 50 {
			prod.AllowlistUsers = append(prod.AllowlistUsers, fmt.Sprintf("member-%02d", i))
		}
		f.Environments["production"] = prod
		_, err := full.Upsert(ctx, f)
		require.NoError(t, err)

		partial := store.New(rdb, store.WithLargeSetThreshold(10))
		got, err := partial.Get(ctx, f.Key)
		require.NoError(t, err)
		require.EqualValues(t, 52, got.Environments["production"].LargeUsers)

		// Without the option the partial definition is refused.
		_, err = partial.Upsert(ctx, got)
		require.ErrorIs(t, err, store.ErrLargeAllowlist)

		// With it, the switch flips and the large allowlist stays whole; the
		// small one (regions) is written as given.
		env := got.Environments["production"]
		env.Enabled, env.AllowlistRegions = false, []string{"eu-west"}
		got.Environments["production"] = env
		stored, err := partial.Upsert(ctx, got, store.KeepLargeAllowlists(), store.IfVersion(got.Version), store.Actor("alice"))
		require.NoError(t, err)
		assert.Equal(t, got.Version+1, stored.Version)
		back, err := full.Get(ctx, f.Key)
		require.NoError(t, err)
		assert.False(t, back.Environments["production"].Enabled)
		assert.Len(t, back.Environments["production"].AllowlistUsers, 52)
		assert.Equal(t, []string{"eu-west"}, back.Environments["production"].AllowlistRegions)
		entries, err := full.Audit(ctx, f.Key, 1)
		require.NoError(t, err)
		assert.Equal(t, "alice", entries[0].Actor)

		// Removing the environment removes its large allowlist too.
		delete(got.Environments, "production")
		got.Version = stored.Version
		_, err = partial.Upsert(ctx, got, store.KeepLargeAllowlists(), store.IfVersion(stored.Version))
		require.NoError(t, err)
		n, err := rdb.Exists(ctx, "feature-flags:flag:checkout-banner:environment:production:users").Result()
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}
