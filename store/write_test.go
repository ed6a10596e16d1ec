package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// beforeExec runs fn (once, or every time when always) just before a
// MULTI/EXEC pipeline is sent, and counts the transactions sent.
type beforeExec struct {
	mu     sync.Mutex
	fn     func(ctx context.Context)
	always bool
	txs    atomic.Int64
}

func (h *beforeExec) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *beforeExec) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// UpsertAll's bulk script counts as a transaction.
		if a := cmd.Args(); cmd.Name() == "eval" && len(a) > 1 && strings.Contains(fmt.Sprint(a[1]), "fingerprint") {
			h.run(ctx)
		}
		return next(ctx, cmd)
	}
}

func (h *beforeExec) run(ctx context.Context) {
	h.txs.Add(1)
	h.mu.Lock()
	fn := h.fn
	if !h.always {
		h.fn = nil
	}
	h.mu.Unlock()
	if fn != nil {
		fn(ctx)
	}
}
func (h *beforeExec) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			h.run(ctx)
		}
		return next(ctx, cmds)
	}
}

func small(key string) evaluator.Flag {
	return evaluator.Flag{Key: key, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, RolloutPercent: 10, AllowlistUsers: []string{"u-" + key}},
	}}
}

// A write of another flag between a write's reads and its EXEC (it adds to
// the index) does not make the write retry: only the flag's own keys are
// WATCHed.
func TestWritesOfDifferentFlagsNeverConflict(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		other := store.New(rdb)
		h := &beforeExec{}
		hooked := redis.NewClient(rdb.(*redis.Client).Options())
		t.Cleanup(func() { _ = hooked.Close() })
		hooked.AddHook(h)
		h.fn = func(ctx context.Context) {
			_, err := other.Upsert(ctx, small("other-flag"))
			assert.NoError(t, err)
			require.NoError(t, other.Delete(ctx, "other-flag"))
			_, err = other.Upsert(ctx, small("third-flag"))
			assert.NoError(t, err)
		}
		_, err := store.New(hooked).Upsert(ctx, small("mine"))
		require.NoError(t, err)
		assert.Equal(t, int64(1), h.txs.Load(), "one EXEC: the index changed under the write, which did not retry")
		members, err := rdb.SMembers(ctx, "feature-flags:index").Result()
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"mine", "third-flag"}, members)
	})
}

func TestAttackSixteenParallelCreatesOfDistinctFlagsAllSucceedFirstTime(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		h := &beforeExec{}
		rdb.AddHook(h)
		s := store.New(rdb)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range 16 {
			wg.Go(func() {
				if _, err := s.Upsert(ctx, small(fmt.Sprintf("flag-%d", i)), store.IfAbsent()); err != nil {
					failed.Add(1)
					t.Error(err)
				}
			})
		}
		wg.Wait()
		assert.Zero(t, failed.Load())
		assert.Equal(t, int64(16), h.txs.Load(), "no write retried")
		n, err := rdb.SCard(ctx, "feature-flags:index").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(16), n)
	})
}

func TestAttackIfAbsentLetsExactlyOneOf120CreatorsWin(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		var wg sync.WaitGroup
		var won, exists atomic.Int64
		var winner atomic.Value
		for i := range 120 {
			wg.Go(func() {
				f := small("contested")
				f.Description = fmt.Sprintf("creator %d", i)
				_, err := s.Upsert(ctx, f, store.IfAbsent())
				switch {
				case err == nil:
					won.Add(1)
					winner.Store(f.Description)
				case errors.Is(err, store.ErrExists):
					exists.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(1), won.Load())
		assert.Equal(t, int64(119), exists.Load())
		got, err := s.Get(ctx, "contested")
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.Version, "written once")
		assert.Equal(t, winner.Load(), got.Description)
	})
}

func TestIfExistsRefusesToCreate(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, small("absent"), store.IfExists())
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.Empty(t, keysOf(t, rdb), "nothing written")
		_, err = s.Upsert(ctx, small("absent"))
		require.NoError(t, err)
		got, err := s.Upsert(ctx, small("absent"), store.IfExists())
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Version)
	})
}

func TestUpsertAllWritesTwentyThousandFlagsInOneTransaction(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		h := &beforeExec{}
		// Moving 20,000 flags in one transaction on a busy machine: generous
		// timeouts.
		opts := *rdb.(*redis.Client).Options()
		opts.ReadTimeout, opts.WriteTimeout = time.Minute, time.Minute
		rdb = redis.NewClient(&opts)
		t.Cleanup(func() { _ = rdb.Close() })
		rdb.AddHook(h)
		s := store.New(rdb)
		n := 20000
		if strings.Contains(t.Name(), "miniredis") {
			n = 2000 // miniredis' Lua is slow; the figure that matters is Redis'
		}
		flags := make([]evaluator.Flag, n)
		for i := range flags {
			flags[i] = small(fmt.Sprintf("bulk-%05d", i))
		}
		start := time.Now()
		stored, err := s.UpsertAll(ctx, flags, store.Actor("importer"))
		require.NoError(t, err)
		t.Logf("%d flags in one transaction: %v", n, time.Since(start))
		require.Len(t, stored, n)
		assert.Equal(t, int64(1), h.txs.Load(), "one script, no conflict")
		count, err := rdb.SCard(ctx, "feature-flags:index").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(len(flags)), count)
		audit, err := rdb.XLen(ctx, "feature-flags:audit").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(n), audit, "one audit entry per flag")
		got, err := s.Get(ctx, "bulk-01234")
		require.NoError(t, err)
		assert.Equal(t, []string{"u-bulk-01234"}, got.Environments["production"].AllowlistUsers)
	})
}

func TestUpsertAllWritesNothingWhenOneFlagIsInvalid(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		bad1 := small("bad-one")
		bad1.Environments["production"] = evaluator.Environment{RolloutPercent: 101}
		bad2 := small("bad-two")
		bad2.Environments["production"] = evaluator.Environment{RolloutPercent: -1}
		_, err := s.UpsertAll(ctx, []evaluator.Flag{small("good"), bad1, small("good-too"), bad2})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bad-one")
		assert.Contains(t, err.Error(), "bad-two")
		assert.Contains(t, err.Error(), "rolloutPercent")
		var ve *evaluator.ValidationError
		assert.ErrorAs(t, err, &ve)
		assert.Empty(t, keysOf(t, rdb), "nothing written")

		_, err = s.UpsertAll(ctx, []evaluator.Flag{small("twice"), small("twice")})
		require.ErrorContains(t, err, `"twice": given twice`)
		assert.Empty(t, keysOf(t, rdb), "nothing written")
	})
}

// A concurrent write of one of the batch's flags between its reads and its
// EXEC aborts the EXEC; the whole batch is read again and written, on top
// of the concurrent write.
func TestUpsertAllRetriesWholeBatchAfterAConcurrentWrite(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		other := store.New(rdb)
		h := &beforeExec{}
		hooked := redis.NewClient(rdb.(*redis.Client).Options())
		t.Cleanup(func() { _ = hooked.Close() })
		hooked.AddHook(h)
		h.fn = func(ctx context.Context) {
			_, err := other.Upsert(ctx, small("b"))
			assert.NoError(t, err)
		}
		stored, err := store.New(hooked).UpsertAll(ctx, []evaluator.Flag{small("a"), small("b"), small("c")})
		require.NoError(t, err)
		assert.Equal(t, int64(2), h.txs.Load(), "the first script wrote nothing, the second applied")
		assert.Equal(t, []int64{1, 2, 1}, []int64{stored[0].Version, stored[1].Version, stored[2].Version})
		got, err := other.Get(ctx, "b")
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Version, "the batch wrote over the concurrent write, not beside it")
	})
}

func TestUpsertAllRefusesMoreThanItsBound(t *testing.T) {
	s := store.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	_, err := s.UpsertAll(t.Context(), make([]evaluator.Flag, store.MaxUpsertAll+1))
	require.ErrorIs(t, err, store.ErrBatchTooLarge)
}

// A flag whose keys have the wrong type (an environment set stored as a
// string, the flag hash as a list) is repaired by writing it: the write
// deletes the wrong keys instead of failing on them, and the audit entry
// keeps what it replaced.
func TestUpsertRepairsWrongTypedKeys(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, rdb.Set(ctx, "feature-flags:flag:typo:environments", "x", 0).Err())
		require.NoError(t, rdb.RPush(ctx, "feature-flags:flag:typo", "a").Err())
		s := store.New(rdb)
		stored, err := s.Upsert(ctx, small("typo"), store.Actor("fixer"))
		require.NoError(t, err)
		assert.Equal(t, int64(1), stored.Version)
		got, err := s.Get(ctx, "typo")
		require.NoError(t, err)
		assert.True(t, got.Environments["production"].Enabled)
		entries, err := s.Audit(ctx, "typo", 1)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		assert.Contains(t, string(entries[0].Before), "WRONGTYPE", "the audit says what was replaced")
	})
}
