package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/store"
)

// wrongTypeShapes are the keys of one tutorial flag overwritten with another
// type of value, as a careless redis-cli session leaves them: the field the
// error names and the command that breaks the key.
var wrongTypeShapes = []struct {
	name, field, key string
	breakIt          func(p redis.Pipeliner, key string)
}{
	{"flag hash stored as a list", "definition", "feature-flags:flag:broken",
		func(p redis.Pipeliner, k string) {
			p.Del(context.Background(), k)
			p.RPush(context.Background(), k, "x")
		}},
	{"environments set stored as a string", "environments", "feature-flags:flag:broken:environments",
		func(p redis.Pipeliner, k string) {
			p.Del(context.Background(), k)
			p.Set(context.Background(), k, "x", 0)
		}},
	{"environment hash stored as a list", "environments.production", "feature-flags:flag:broken:environment:production",
		func(p redis.Pipeliner, k string) {
			p.Del(context.Background(), k)
			p.RPush(context.Background(), k, "x")
		}},
	{"users set stored as a hash", "environments.production.allowlistUsers", "feature-flags:flag:broken:environment:production:users",
		func(p redis.Pipeliner, k string) {
			p.Del(context.Background(), k)
			p.HSet(context.Background(), k, "x", "y")
		}},
}

// TestWrongTypedKeyFailsOnlyItsFlag: one key of one flag holding another
// type of value fails that flag with a DecodeError naming the key (a
// PARSE_ERROR to the provider), and every other flag loads, with and
// without a large-allowlist threshold, and in a direct read.
func TestWrongTypedKeyFailsOnlyItsFlag(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	for _, shape := range wrongTypeShapes {
		t.Run(shape.name, func(t *testing.T) {
			ctx := t.Context()
			require.NoError(t, rdb.FlushAll(ctx).Err())
			for _, key := range []string{"a-good", "broken", "z-good"} {
				f := tutorial.CheckoutBanner()
				f.Key = key
				require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", f))
			}
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { shape.breakIt(p, shape.key); return nil })
			require.NoError(t, err)

			for _, opts := range [][]store.Option{nil, {store.WithLargeSetThreshold(1000)}} {
				s := store.New(rdb, opts...)
				recs, err := s.LoadAll(ctx)
				require.NoError(t, err, "one wrong-typed key must not fail the load")
				require.Len(t, recs, 3)
				for _, r := range recs {
					if r.Key != "broken" {
						require.NoError(t, r.Err, r.Key)
						assert.True(t, r.Flag.Environments["production"].Enabled, r.Key)
						continue
					}
					checkWrongType(t, r.Err, shape.field, shape.key)
					assert.NotZero(t, r.Fingerprint)
				}
				// Direct reads of the same flag fail the same way; the
				// others answer.
				_, err = s.ReadFacts(ctx, "broken", "production", "user-123", "us-east")
				checkWrongType(t, err, shape.field, shape.key)
				d, err := s.ReadFacts(ctx, "z-good", "production", "user-123", "us-east")
				require.NoError(t, err)
				assert.True(t, d.EnvEnabled)
			}
		})
	}
}

func checkWrongType(t *testing.T, err error, field, key string) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrCorrupt)
	var de *store.DecodeError
	require.True(t, errors.As(err, &de), "%v", err)
	assert.Equal(t, "broken", de.Flag)
	assert.Equal(t, field, de.Field)
	assert.Equal(t, key, de.Value, "the error names the key")
	assert.Contains(t, err.Error(), "WRONGTYPE")
}
