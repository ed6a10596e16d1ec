package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/store"
)

func banner() evaluator.Flag {
	return evaluator.Flag{
		Key:            "checkout-banner",
		Description:    "Fast checkout",
		DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 25, Value: json.RawMessage(`{ "title" : "Fast checkout", "n": 12345678901234567890 }`),
				AllowlistUsers: []string{"user-123", "user-7"}, AllowlistRegions: []string{"us-west"}},
			"staging": {Enabled: true, RolloutPercent: 100},
		},
	}
}

func keysOf(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	ks, err := rdb.Keys(t.Context(), "*").Result()
	require.NoError(t, err)
	sort.Strings(ks)
	return ks
}

func TestTutorialWritesLoad(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", tutorial.CheckoutBanner()))
		got, err := store.New(rdb).Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, "checkout-banner", got.Key)
		assert.Equal(t, "Show the fast-checkout banner", got.Description)
		assert.True(t, got.DefaultEnabled)
		assert.Equal(t, tutorial.UpdatedAt, got.UpdatedAt)
		assert.Zero(t, got.Version, "the tutorial stores no version")
		prod := got.Environments["production"]
		assert.True(t, prod.Enabled)
		assert.Equal(t, 25, prod.RolloutPercent)
		assert.JSONEq(t, `{"title":"Fast checkout"}`, string(prod.Value))
		assert.Equal(t, []string{"user-123"}, prod.AllowlistUsers)
		assert.Equal(t, []string{"us-west"}, prod.AllowlistRegions)
		assert.Equal(t, tutorial.UpdatedAt, prod.UpdatedAt)
		assert.Equal(t, 100, got.Environments["staging"].RolloutPercent)
	})
}

func TestUpsertWritesTutorialLayout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		clock := func() time.Time { return time.Date(2026, 3, 19, 12, 0, 0, 7_000_000, time.FixedZone("x", 3600)) }
		s := store.New(rdb, store.WithClock(clock))
		stored, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		assert.Equal(t, int64(1), stored.Version)
		assert.Equal(t, "2026-03-19T11:00:00.007Z", stored.UpdatedAt)

		h, err := rdb.HGetAll(ctx, "feature-flags:flag:checkout-banner").Result()
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"description": "Fast checkout", "defaultEnabled": "true",
			"updatedAt": "2026-03-19T11:00:00.007Z", "version": "1"}, h)
		e, err := rdb.HGetAll(ctx, "feature-flags:flag:checkout-banner:environment:production").Result()
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"enabled": "true", "rolloutPercent": "25",
			"value": `{"title":"Fast checkout","n":12345678901234567890}`, "updatedAt": "2026-03-19T11:00:00.007Z"}, e)
		e, err = rdb.HGetAll(ctx, "feature-flags:flag:checkout-banner:environment:staging").Result()
		require.NoError(t, err)
		assert.Equal(t, "null", e["value"], "no payload is stored as JSON null")
		assert.Equal(t, []string{
			"feature-flags:audit",
			"feature-flags:audit:bytes",
			"feature-flags:flag:checkout-banner",
			"feature-flags:flag:checkout-banner:environment:production",
			"feature-flags:flag:checkout-banner:environment:production:regions",
			"feature-flags:flag:checkout-banner:environment:production:users",
			"feature-flags:flag:checkout-banner:environment:staging",
			"feature-flags:flag:checkout-banner:environments",
			"feature-flags:index",
		}, keysOf(t, rdb))

		got, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, stored, got)
	})
}

func TestUpsertRemovesOldEnvironmentsAndBumpsVersion(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb, store.WithKeyPrefix("ff"))
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		next := banner()
		delete(next.Environments, "production")
		next.Environments["dev"] = evaluator.Environment{Enabled: true, AllowlistUsers: []string{"dana"}}
		stored, err := s.Upsert(ctx, next)
		require.NoError(t, err)
		assert.Equal(t, int64(2), stored.Version)
		assert.Equal(t, []string{
			"ff:audit",
			"ff:audit:bytes",
			"ff:flag:checkout-banner",
			"ff:flag:checkout-banner:environment:dev",
			"ff:flag:checkout-banner:environment:dev:users",
			"ff:flag:checkout-banner:environment:staging",
			"ff:flag:checkout-banner:environments",
			"ff:index",
		}, keysOf(t, rdb))
	})
}

func TestUpsertInvalidWritesNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		before := keysOf(t, rdb)
		bad := banner()
		bad.Environments["production"] = evaluator.Environment{RolloutPercent: 101}
		_, err = s.Upsert(ctx, bad)
		var v *evaluator.ValidationError
		require.ErrorAs(t, err, &v)
		assert.Contains(t, err.Error(), "environments.production.rolloutPercent")
		assert.Contains(t, err.Error(), "checkout-banner")
		assert.Equal(t, before, keysOf(t, rdb))
		got, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, 25, got.Environments["production"].RolloutPercent)
	})
}

func TestUpsertPublishesChange(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		sub := rdb.Subscribe(ctx, s.ChangesChannel())
		defer sub.Close()
		_, err := sub.Receive(ctx)
		require.NoError(t, err)
		_, err = s.Upsert(ctx, banner())
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, "checkout-banner"))
		for _, want := range []store.Change{{Op: "upsert", FlagKey: "checkout-banner", Version: 1}, {Op: "delete", FlagKey: "checkout-banner"}} {
			msg, err := sub.ReceiveMessage(ctx)
			require.NoError(t, err)
			c, err := store.ParseChange(msg.Payload)
			require.NoError(t, err)
			assert.Equal(t, want, c)
		}
	})
}

func TestDeleteRemovesEverything(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		other := banner()
		other.Key = "other"
		_, err = s.Upsert(ctx, other)
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, "checkout-banner"))
		for _, k := range keysOf(t, rdb) {
			assert.NotContains(t, k, "checkout-banner")
		}
		_, err = s.Get(ctx, "checkout-banner")
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, s.Delete(ctx, "checkout-banner"), store.ErrNotFound)
		flags, err := s.List(ctx)
		require.NoError(t, err)
		require.Len(t, flags, 1)
		assert.Equal(t, "other", flags[0].Key)
	})
}

func TestCorruptFieldsNameFlagAndField(t *testing.T) {
	tests := []struct {
		name, key, field, value, wantField string
	}{
		{"percent abc", "feature-flags:flag:f:environment:production", "rolloutPercent", "abc", "environments.production.rolloutPercent"},
		{"percent 101", "feature-flags:flag:f:environment:production", "rolloutPercent", "101", "environments.production.rolloutPercent"},
		{"percent -1", "feature-flags:flag:f:environment:production", "rolloutPercent", "-1", "environments.production.rolloutPercent"},
		{"value not JSON", "feature-flags:flag:f:environment:production", "value", "{title", "environments.production.value"},
		{"enabled yes", "feature-flags:flag:f:environment:production", "enabled", "yes", "environments.production.enabled"},
		{"defaultEnabled 1", "feature-flags:flag:f", "defaultEnabled", "1", "defaultEnabled"},
		{"version x", "feature-flags:flag:f", "version", "x", "version"},
	}
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				require.NoError(t, rdb.FlushAll(ctx).Err())
				s := store.New(rdb)
				for _, k := range []string{"f", "good"} {
					f := banner()
					f.Key = k
					_, err := s.Upsert(ctx, f)
					require.NoError(t, err)
				}
				require.NoError(t, rdb.HSet(ctx, tt.key, tt.field, tt.value).Err())
				_, err := s.Get(ctx, "f")
				var de *store.DecodeError
				require.ErrorAs(t, err, &de)
				assert.ErrorIs(t, err, store.ErrCorrupt)
				assert.Equal(t, "f", de.Flag)
				assert.Equal(t, tt.wantField, de.Field)
				assert.Equal(t, tt.value, de.Value)
				flags, err := s.List(ctx)
				assert.ErrorAs(t, err, &de)
				require.Len(t, flags, 1, "the good flag still loads")
				assert.Equal(t, "good", flags[0].Key)
			})
		}
	})
}

func TestMissingOptionalFieldsAreTolerated(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:bare", "defaultEnabled", "true").Err())
		require.NoError(t, rdb.SAdd(ctx, "feature-flags:flag:bare:environments", "production").Err())
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:bare:environment:production", "enabled", "true").Err())
		require.NoError(t, rdb.SAdd(ctx, "feature-flags:index", "bare").Err())
		f, err := store.New(rdb).Get(ctx, "bare")
		require.NoError(t, err)
		env := f.Environments["production"]
		assert.True(t, env.Enabled)
		assert.Zero(t, env.RolloutPercent)
		assert.Nil(t, env.Value)
		assert.Empty(t, f.Description)
	})
}

// countingHook counts round trips: one per command or pipeline sent.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func TestListUsesBoundedRoundTrips(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		const n = 1000
		for i := range n {
			f := tutorial.CheckoutBanner()
			f.Key = fmt.Sprintf("flag-%04d", i)
			require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", f))
		}
		h := &countingHook{}
		rdb.AddHook(h)
		flags, err := store.New(rdb).List(ctx)
		require.NoError(t, err)
		require.Len(t, flags, n)
		assert.Equal(t, "flag-0000", flags[0].Key)
		// 1 for the index + 2 per batch of 256: 9 for 1000 flags with 2
		// environments each, where one read per key would be 1+1000·(2+3·2).
		assert.LessOrEqual(t, h.n.Load(), int64(9))
		assert.Equal(t, []string{"user-123"}, flags[999].Environments["production"].AllowlistUsers)
	})
}

func TestConcurrentUpsertsNeverMix(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					f := banner()
					f.Environments = map[string]evaluator.Environment{fmt.Sprintf("env-%d-%d", w, i): {Enabled: true}}
					_, err := s.Upsert(ctx, f)
					assert.NoError(t, err)
				}
			}()
		}
		wg.Wait()
		got, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Len(t, got.Environments, 1, "each upsert replaces the whole flag")
		assert.Equal(t, int64(40), got.Version, "every write counted once")
		envKeys, err := rdb.Keys(ctx, "feature-flags:flag:checkout-banner:environment:*").Result()
		require.NoError(t, err)
		assert.Len(t, envKeys, 1, "old environments' keys are gone")
	})
}

func TestReadFactsMatchesCompiledEvaluation(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", tutorial.CheckoutBanner()))
		s := store.New(rdb)
		def, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		c, err := evaluator.Compile(def)
		require.NoError(t, err)
		for i := range 300 {
			in := evaluator.Input{Environment: []string{"production", "staging", "nowhere"}[i%3], Subject: fmt.Sprintf("user-%d", i), Region: []string{"", "us-west", "eu"}[i%3]}
			if i == 0 {
				in.Subject = "user-123"
			}
			facts, err := s.ReadFacts(ctx, "checkout-banner", in.Environment, in.Subject, in.Region)
			require.NoError(t, err)
			assert.Equal(t, c.Evaluate(in), evaluator.Decide(facts.Facts), "input %+v", in)
		}
		_, err = s.ReadFacts(ctx, "nope", "production", "u", "")
		assert.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:checkout-banner:environment:production", "rolloutPercent", "abc").Err())
		_, err = s.ReadFacts(ctx, "checkout-banner", "production", "u", "")
		var de *store.DecodeError
		require.True(t, errors.As(err, &de))
		assert.Equal(t, "environments.production.rolloutPercent", de.Field)
	})
}
