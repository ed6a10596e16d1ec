package store

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

// writeBigFlags stores n flags of one environment whose users set has
// members members each.
func writeBigFlags(t *testing.T, rdb redis.UniversalClient, n, members int) {
	ctx := t.Context()
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			key := fmt.Sprintf("big-%02d", i)
			base := "feature-flags:flag:" + key
			p.HSet(ctx, base, "defaultEnabled", "true")
			p.SAdd(ctx, base+":environments", "production")
			p.HSet(ctx, base+":environment:production", "enabled", "true")
			users := make([]any, members)
			for m := range users {
				users[m] = key + "-user-" + strconv.Itoa(m)
			}
			p.SAdd(ctx, base+":environment:production:users", users...)
			p.SAdd(ctx, "feature-flags:index", key)
		}
		return nil
	})
	require.NoError(t, err)
}

// The script returns at most scriptBudget fields and members per call and
// no set above scriptSetCap: a batch over the budget is asked again for the
// rest, and a flag with a larger set is read by the pipelined path. Either
// way every flag loads whole.
func TestLoadScriptBudgetAndLargeSets(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		const n, members = 12, 9000 // over one call's budget
		require.Greater(t, n*members, scriptBudget)
		writeBigFlags(t, rdb, n, members)
		huge := make([]any, scriptSetCap+1)
		for m := range huge {
			huge[m] = "h" + strconv.Itoa(m)
		}
		require.NoError(t, rdb.SAdd(t.Context(), "feature-flags:flag:big-07:environment:production:regions", huge...).Err())

		calls := &scriptHook{}
		rdb.AddHook(calls)
		s := New(rdb)
		flags, err := s.List(t.Context())
		require.NoError(t, err)
		require.Len(t, flags, n)
		for i, f := range flags {
			assert.Len(t, f.Environments["production"].AllowlistUsers, members, f.Key)
			if i == 7 {
				assert.Len(t, f.Environments["production"].AllowlistRegions, scriptSetCap+1)
			}
		}
		assert.Greater(t, calls.scripts, 1, "a batch over the budget takes more than one script call")
		assert.Positive(t, calls.transactions, "the flag with a set above the cap is read with MULTI/EXEC")

		// With a threshold the large set is left in Redis, counted by the
		// script; the flag needs no other read.
		calls.transactions = 0
		rec, err := New(rdb, WithLargeSetThreshold(scriptSetCap)).Load(t.Context(), "big-07")
		require.NoError(t, err)
		require.NoError(t, rec[0].Err)
		assert.Equal(t, int64(scriptSetCap+1), rec[0].Flag.Environments["production"].LargeRegions)
		assert.Zero(t, calls.transactions)
	})
}

// scriptHook counts the load script's calls and the transactions sent.
type scriptHook struct{ scripts, transactions int }

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n == "evalsha" || n == "eval" {
			h.scripts++
		}
		return next(ctx, cmd)
	}
}
func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			h.transactions++
		}
		return next(ctx, cmds)
	}
}

// A server that refuses the script (here an ACL without EVAL and EVALSHA)
// is read the pipelined way, with the same records.
func TestLoadWithoutScriptsReadsThePipelinedWay(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := t.Context()
	writeBigFlags(t, admin, 3, 2)
	require.NoError(t, admin.SAdd(ctx, "feature-flags:flag:big-01:environment:production:regions", "eu").Err())
	want, err := New(admin).LoadAll(ctx)
	require.NoError(t, err)

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "noscript", "on", ">pw", "~feature-flags:*", "-@all",
		"+hello", "+ping", "+smembers", "+hgetall", "+multi", "+exec").Err())
	opts := srv.Options()
	opts.Username, opts.Password = "noscript", "pw"
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb)
	got, err := s.LoadAll(ctx)
	require.NoError(t, err)
	assert.True(t, s.noScript.Load(), "the refusal is remembered")
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Fingerprint, got[i].Fingerprint, want[i].Key)
		assert.Equal(t, want[i].Flag, got[i].Flag, want[i].Key)
	}
}

// LoadCost is what a load really costs Redis, on both paths, with and
// without a large-set threshold: the provider's paced resync sizes its
// chunks by it (issue 18).
func TestLoadCostMatchesCommandstats(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	const n = 48
	keys := make([]string, n)
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range keys {
			keys[i] = fmt.Sprintf("cost-%02d", i)
			base := "feature-flags:flag:" + keys[i]
			p.HSet(ctx, base, "defaultEnabled", "true", "updatedAt", "2026-03-19T12:00:00.000Z")
			for e := range 3 {
				name := "env-" + strconv.Itoa(e)
				p.SAdd(ctx, base+":environments", name)
				p.HSet(ctx, base+":environment:"+name, "enabled", "true", "rolloutPercent", "25")
				p.SAdd(ctx, base+":environment:"+name+":users", "user-1")
				p.SAdd(ctx, base+":environment:"+name+":regions", "us-west")
			}
			p.SAdd(ctx, "feature-flags:index", keys[i])
		}
		return nil
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		large    int64
		noScript bool
	}{
		{"script/threshold", 10_000, false},
		{"script/no-threshold", 0, false},
		{"pipelined/threshold", 10_000, true},
		{"pipelined/no-threshold", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(rdb, WithLargeSetThreshold(tc.large)).WithLoadBatch(24)
			s.noScript.Store(tc.noScript)
			_, err := s.Load(ctx, keys...) // loads the scripts
			require.NoError(t, err)
			before := total(redistest.CommandCalls(t, rdb))
			recs, err := s.Load(ctx, keys...)
			require.NoError(t, err)
			require.Len(t, recs, n)
			used := total(redistest.CommandCalls(t, rdb)) - before - 1 // the first INFO
			assert.InDelta(t, s.LoadCost(3)*n, float64(used), 0.5, "LoadCost(3) × %d flags against commandstats", n)
		})
	}
}

// total sums INFO commandstats' calls.
func total(calls map[string]int64) int64 {
	var n int64
	for _, v := range calls {
		n += v
	}
	return n
}

// A load whose context is done fails; it never returns records it did not
// read (the batch workers used to stop quietly, leaving them empty).
func TestLoadWithADoneContextFails(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	writeBigFlags(t, rdb, 600, 1)
	keys, err := New(rdb).Keys(t.Context())
	require.NoError(t, err)
	require.Len(t, keys, 600)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, s := range map[string]*Store{"workers": New(rdb), "one at a time": New(rdb).WithLoadBatch(4)} {
		recs, err := s.Load(ctx, keys...)
		assert.ErrorIs(t, err, context.Canceled, name)
		assert.Zero(t, len(recs), "%s: no records come back", name)
	}
}
