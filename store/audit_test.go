package store_test

import (
	"context"
	"encoding/json"
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

func fixedClock() func() time.Time {
	return func() time.Time { return time.Date(2026, 3, 19, 12, 0, 0, 0, time.UTC) }
}

func TestIfVersionMismatchWritesNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		_, err = s.Upsert(ctx, banner())
		require.NoError(t, err) // version 2
		before := redistest.Dump(t, rdb)

		changed := banner()
		changed.Description = "changed"
		_, err = s.Upsert(ctx, changed, store.IfVersion(1), store.Actor("alice"))
		require.ErrorIs(t, err, store.ErrVersionMismatch)
		assert.Contains(t, err.Error(), `"checkout-banner"`)
		assert.Contains(t, err.Error(), "stored version is 2, not 1")
		err = s.Delete(ctx, "checkout-banner", store.IfVersion(3), store.Actor("alice"))
		require.ErrorIs(t, err, store.ErrVersionMismatch)
		assert.Equal(t, before, redistest.Dump(t, rdb), "a stale version writes nothing, audit included")

		stored, err := s.Upsert(ctx, changed, store.IfVersion(2))
		require.NoError(t, err)
		assert.Equal(t, int64(3), stored.Version)
		require.NoError(t, s.Delete(ctx, "checkout-banner", store.IfVersion(3)))
		_, err = s.Get(ctx, "checkout-banner")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestIfVersionZeroCreatesOnlyNewFlags(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner(), store.IfVersion(0))
		require.NoError(t, err)
		_, err = s.Upsert(ctx, banner(), store.IfVersion(0))
		assert.ErrorIs(t, err, store.ErrVersionMismatch)
	})
}

func TestIfVersionLetsOneOfTwoRacingWritersWin(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				f := banner()
				f.Description = fmt.Sprintf("writer %d", i)
				_, err := s.Upsert(ctx, f, store.IfVersion(1), store.Actor(f.Description))
				switch {
				case err == nil:
					wins.Add(1)
				case assert.ErrorIs(t, err, store.ErrVersionMismatch):
					losses.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), wins.Load())
		assert.Equal(t, int32(7), losses.Load())
		entries, err := s.Audit(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, entries, 2, "the set-up write and the one racing write that happened")
		assert.Equal(t, "unknown", entries[1].Actor, "the set-up write names no actor")
		assert.Contains(t, entries[0].Actor, "writer ")
	})
}

func TestAuditRecordsWhoWhenWhat(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb, store.WithClock(fixedClock()))
		first, err := s.Upsert(ctx, banner(), store.Actor("alice"))
		require.NoError(t, err)
		next := banner()
		next.Environments["production"] = evaluator.Environment{Enabled: true, RolloutPercent: 50}
		second, err := s.Upsert(ctx, next, store.Actor("bob"))
		require.NoError(t, err)
		other := banner()
		other.Key = "other"
		_, err = s.Upsert(ctx, other, store.Actor("carol"))
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, "checkout-banner", store.Actor("dave")))

		all, err := s.Audit(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, all, 4)
		assert.Equal(t, []string{"dave", "carol", "bob", "alice"}, []string{all[0].Actor, all[1].Actor, all[2].Actor, all[3].Actor}, "newest first")

		got, err := s.Audit(ctx, "checkout-banner", 0)
		require.NoError(t, err)
		require.Len(t, got, 3)
		del, up2, up1 := got[0], got[1], got[2]

		assert.Equal(t, "alice", up1.Actor)
		assert.Equal(t, "upsert", up1.Op)
		assert.Equal(t, "checkout-banner", up1.Flag)
		assert.Equal(t, "2026-03-19T12:00:00.000Z", up1.Time)
		assert.JSONEq(t, "null", string(up1.Before), "created")
		assert.Equal(t, withEmptyLists(first), decodeFlag(t, up1.After))

		assert.Equal(t, "bob", up2.Actor)
		assert.Equal(t, withEmptyLists(first), decodeFlag(t, up2.Before), "before is what the write replaced")
		assert.Equal(t, withEmptyLists(second), decodeFlag(t, up2.After))

		assert.Equal(t, "delete", del.Op)
		assert.Equal(t, "dave", del.Actor)
		assert.Equal(t, withEmptyLists(second), decodeFlag(t, del.Before))
		assert.JSONEq(t, "null", string(del.After))

		last, err := s.Audit(ctx, "checkout-banner", 1)
		require.NoError(t, err)
		require.Len(t, last, 1)
		assert.Equal(t, del.ID, last[0].ID)
		two, err := s.Audit(ctx, "", 2)
		require.NoError(t, err)
		assert.Len(t, two, 2)
	})
}

// withEmptyLists is f with nil allowlists as empty ones, as audit entries
// hold them.
func withEmptyLists(f evaluator.Flag) evaluator.Flag {
	f = f.Clone()
	for name, e := range f.Environments {
		if e.AllowlistUsers == nil {
			e.AllowlistUsers = []string{}
		}
		if e.AllowlistRegions == nil {
			e.AllowlistRegions = []string{}
		}
		f.Environments[name] = e
	}
	return f
}

func decodeFlag(t *testing.T, raw json.RawMessage) evaluator.Flag {
	t.Helper()
	var f evaluator.Flag
	require.NoError(t, json.Unmarshal(raw, &f))
	return f
}

func TestAuditScansPastOtherFlagsInBatches(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner(), store.Actor("first"))
		require.NoError(t, err)
		noisy := banner()
		noisy.Key = "noisy"
		for range 1200 { // more than two XREVRANGE batches
			_, err := s.Upsert(ctx, noisy, store.Actor("bot"))
			require.NoError(t, err)
		}
		got, err := s.Audit(ctx, "checkout-banner", 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "first", got[0].Actor)
	})
}

func TestWriteWithoutActorIsAuditedAsUnknown(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, "checkout-banner"))
		entries, err := s.Audit(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, entries, 2, "every write is audited")
		assert.Equal(t, []string{"delete", "upsert"}, []string{entries[0].Op, entries[1].Op})
		assert.Equal(t, "unknown", entries[0].Actor)
		assert.Equal(t, "unknown", entries[1].Actor)
	})
}

func TestAuditKeepsCorruptDataItReplaced(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb, store.WithKeyPrefix("ff"))
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		require.NoError(t, rdb.HSet(ctx, "ff:flag:checkout-banner:environment:production", "rolloutPercent", "abc").Err())
		_, err = s.Upsert(ctx, banner(), store.Actor("fixer"))
		require.NoError(t, err)
		got, err := s.Audit(ctx, "checkout-banner", 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		var before struct {
			Corrupt string `json:"corrupt"`
			Stored  struct {
				Environments map[string]struct {
					Hash map[string]string `json:"hash"`
				} `json:"environments"`
			} `json:"stored"`
		}
		require.NoError(t, json.Unmarshal(got[0].Before, &before))
		assert.Contains(t, before.Corrupt, "environments.production.rolloutPercent")
		assert.Equal(t, "abc", before.Stored.Environments["production"].Hash["rolloutPercent"])
		assert.Equal(t, "ff:audit", s.AuditStream())
	})
}

func TestAuditRecordsLargeAllowlistsAsCounts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		f := banner()
		users := make([]string, store.AuditMaxMembers+1)
		for i := range users {
			users[i] = fmt.Sprintf("user-%06d", i)
		}
		prod := f.Environments["production"]
		prod.AllowlistUsers = users
		f.Environments["production"] = prod
		_, err := s.Upsert(ctx, f, store.Actor("bulk"))
		require.NoError(t, err)
		f.Description = "again"
		_, err = s.Upsert(ctx, f, store.Actor("bulk"))
		require.NoError(t, err)
		got, err := s.Audit(ctx, "checkout-banner", 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		for _, side := range []json.RawMessage{got[0].Before, got[0].After} {
			var def struct {
				Description  string `json:"description"`
				Environments map[string]struct {
					Users   json.RawMessage `json:"allowlistUsers"`
					Regions json.RawMessage `json:"allowlistRegions"`
					Value   json.RawMessage `json:"value"`
				} `json:"environments"`
			}
			require.NoError(t, json.Unmarshal(side, &def))
			assert.JSONEq(t, `{"count":10001}`, string(def.Environments["production"].Users))
			assert.JSONEq(t, `["us-west"]`, string(def.Environments["production"].Regions))
			assert.Equal(t, `{"title":"Fast checkout","n":12345678901234567890}`, string(def.Environments["production"].Value), "the payload is kept exactly")
			assert.JSONEq(t, `[]`, string(def.Environments["staging"].Users))
		}
		assert.Less(t, len(got[0].Before)+len(got[0].After), 2000, "the members are not copied")
	})
}

// txRecorder keeps the commands of every MULTI/EXEC pipeline.
type txRecorder struct {
	mu  sync.Mutex
	txs [][]string
}

func (h *txRecorder) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *txRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *txRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			var names []string
			for _, c := range cmds {
				var args []string
				for _, a := range c.Args() {
					args = append(args, fmt.Sprint(a))
				}
				names = append(names, strings.ToLower(strings.Join(args, " ")))
			}
			h.mu.Lock()
			h.txs = append(h.txs, names)
			h.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

func TestAuditEntryIsPartOfTheWriteTransaction(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		h := &txRecorder{}
		rdb.AddHook(h)
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner(), store.Actor("alice"))
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, "checkout-banner", store.Actor("alice")))
		h.mu.Lock()
		defer h.mu.Unlock()
		require.Len(t, h.txs, 2)
		for _, tx := range h.txs {
			assert.Equal(t, "multi", tx[0])
			assert.Equal(t, "exec", tx[len(tx)-1])
			var add string
			for _, c := range tx {
				if strings.HasPrefix(c, "eval") && strings.Contains(c, "xadd") {
					add = c
				}
			}
			assert.Contains(t, add, "feature-flags:audit feature-flags:audit:bytes 100000 67108864", "audit append inside MULTI/EXEC, trimmed by entries and bytes: %q", add)
			assert.Contains(t, add, " actor alice ")
		}
	})
}

// 50 writes of a flag of 1 MB (1.7 MB of audit each, before and after,
// without the bound) leave the audit stream within its byte bound: each
// definition above AuditMaxDefinition is recorded as its summary, and the
// stream is trimmed by its byte count.
func TestAttackAuditStreamIsBoundedInBytes(t *testing.T) {
	s0 := redistest.Start(t)
	rdb := s0.Client(t)
	ctx := t.Context()
	s := store.New(rdb)
	big := make([]string, 0, 40000)
	for i := range 40000 {
		big = append(big, fmt.Sprintf("user-%020d", i))
	}
	for i := range 50 {
		f := banner()
		f.Description = fmt.Sprint("write ", i)
		env := f.Environments["production"]
		env.AllowlistUsers = big[:listedMembers()]
		f.Environments["production"] = env
		_, err := s.Upsert(ctx, f, store.Actor("alice"))
		require.NoError(t, err)
	}
	entries, err := s.Audit(ctx, "checkout-banner", 0)
	require.NoError(t, err)
	require.Len(t, entries, 50)
	var after map[string]any
	require.NoError(t, json.Unmarshal(entries[0].After, &after))
	assert.Equal(t, true, after["truncated"], "a definition above the bound is summarized")
	assert.Equal(t, "checkout-banner", after["flagKey"])
	assert.NotEmpty(t, after["sha256"])
	mem, err := rdb.MemoryUsage(ctx, "feature-flags:audit").Result()
	require.NoError(t, err)
	t.Logf("audit stream after 50 writes of a %d-member allowlist: %d bytes", listedMembers(), mem)
	assert.Less(t, mem, int64(1<<20), "a few KiB per entry, not the definition")

	// The byte bound trims the oldest entries: entries of ~130 KiB each
	// (a 60 KiB description before and after) fill AuditMaxBytes after
	// about 500 writes.
	desc := strings.Repeat("d", 60<<10)
	for i := range 600 {
		f := small("bulky")
		f.Description = fmt.Sprint(i, desc)
		_, err := s.Upsert(ctx, f, store.Actor("bob"))
		require.NoError(t, err)
	}
	n, err := rdb.XLen(ctx, "feature-flags:audit").Result()
	require.NoError(t, err)
	total, err := rdb.Get(ctx, "feature-flags:audit:bytes").Int64()
	require.NoError(t, err)
	t.Logf("after 600 writes of ~120 KiB entries: %d entries, %d bytes counted", n, total)
	assert.LessOrEqual(t, total, int64(store.AuditMaxBytes))
	assert.Less(t, n, int64(600), "the oldest entries were trimmed")
	assert.Greater(t, total, int64(store.AuditMaxBytes)*9/10, "trimmed to the bound, not far below it")
	mem, err = rdb.MemoryUsage(ctx, "feature-flags:audit").Result()
	require.NoError(t, err)
	assert.Less(t, mem, int64(store.AuditMaxBytes)*5/4, "Redis' own size of the stream stays near the bound")
}

// listedMembers is an allowlist size whose definition is above
// AuditMaxDefinition but whose members are still listed (below
// AuditMaxMembers).
func listedMembers() int { return store.AuditMaxMembers - 1 }
