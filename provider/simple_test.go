package provider_test

import (
	"fmt"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
)

// TestSimpleFlagsAreKillSwitches: `SET feature:new_checkout_flow false` by
// any client turns the flag off, in both modes (snapshot mode through the
// periodic resync here; keyspace notifications make it faster where the
// server has them on).
func TestSimpleFlagsAreKillSwitches(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		require.NoError(t, rdb.Set(ctx, "feature:new_checkout_flow", "true", 0).Err())
		require.NoError(t, rdb.Set(ctx, "feature:canary", "30", 0).Err())
		require.NoError(t, rdb.Set(ctx, "feature:broken", "maybe", 0).Err())
		require.NoError(t, rdb.Set(ctx, "feature:not:a:flag", "true", 0).Err())
		opts = append(opts, provider.WithSimpleFlags("feature:"), provider.WithResyncInterval(50*time.Millisecond))
		c := bind(t, provider.New(rdb, opts...))
		ec := of.NewEvaluationContext("user-1", nil)

		d, err := c.BooleanValueDetails(ctx, "new_checkout_flow", false, ec)
		require.NoError(t, err)
		assert.True(t, d.Value)
		assert.Equal(t, "on", d.Variant)
		assert.Equal(t, of.StaticReason, d.Reason)

		require.NoError(t, rdb.Set(ctx, "feature:new_checkout_flow", "false", 0).Err())
		eventually(t, 5*time.Second, "the kill switch is served", func() bool {
			return !c.Boolean(ctx, "new_checkout_flow", true, ec)
		})

		on := 0
		for i := range 1000 {
			s := fmt.Sprintf("user-%d", i)
			d, err := c.BooleanValueDetails(ctx, "canary", false, of.NewEvaluationContext(s, nil))
			require.NoError(t, err)
			require.Equal(t, of.SplitReason, d.Reason)
			require.Equal(t, evaluator.BucketMD5("canary", s) < 30, d.Value, s)
			if d.Value {
				on++
			}
		}
		assert.InDelta(t, 300, on, 60)

		d, _ = c.BooleanValueDetails(ctx, "broken", true, ec)
		assert.Equal(t, of.ParseErrorCode, d.ErrorCode)
		d, _ = c.BooleanValueDetails(ctx, "absent", true, ec)
		assert.Equal(t, of.FlagNotFoundCode, d.ErrorCode)
	})
}
