package store_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

func rolloutBanner() evaluator.Flag {
	f := banner()
	env := f.Environments["production"]
	env.Rollout = &evaluator.Rollout{From: 1, Steps: []evaluator.RolloutStep{{At: "2026-12-01T00:00:00Z", Percent: 5}, {At: "2026-12-02T00:00:00Z", Percent: 25}}}
	f.Environments["production"] = env
	return f
}

func TestRolloutStoredReadAndIndexed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		stored, err := s.Upsert(ctx, rolloutBanner())
		require.NoError(t, err)
		got, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, stored, got)
		require.NotNil(t, got.Environments["production"].Rollout)
		keys, err := s.RolloutFlags(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"checkout-banner"}, keys)

		facts, err := s.ReadFacts(ctx, "checkout-banner", "production", "u1", "")
		require.NoError(t, err)
		require.NotNil(t, facts.Rollout, "direct reads see the rollout")
		assert.Equal(t, 25, facts.Rollout.PercentAt(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)))

		_, err = s.Upsert(ctx, banner())
		require.NoError(t, err)
		keys, err = s.RolloutFlags(ctx)
		require.NoError(t, err)
		assert.Empty(t, keys, "a flag without a rollout leaves the set")

		// A stored rollout that does not parse fails the flag, naming the field.
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:checkout-banner:environment:production", "rollout", `{"from":50,"to":1,"start":"2026-12-01T00:00:00Z","end":"2026-12-02T00:00:00Z"}`).Err())
		_, err = s.Get(ctx, "checkout-banner")
		var de *store.DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, "environments.production.rollout", de.Field)
	})
}

func TestScheduledChangeAppliedExactlyOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb, store.WithOutbox())
		_, err := s.Upsert(ctx, banner(), store.Actor("ana"))
		require.NoError(t, err)
		pct := 60
		c, err := s.Schedule(ctx, store.ScheduledChange{Flag: "checkout-banner", At: "2026-01-01T00:00:00Z", Op: store.OpPatch,
			Patch: &store.Patch{Environment: "production", RolloutPercent: &pct}, ScheduledBy: "ana"})
		require.NoError(t, err)
		list, err := s.ListScheduled(ctx, "")
		require.NoError(t, err)
		require.Len(t, list, 1)

		ids, err := s.ClaimDue(ctx, time.Now(), time.Minute, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{c.ID}, ids)
		again, err := s.ClaimDue(ctx, time.Now(), time.Minute, 10)
		require.NoError(t, err)
		assert.Empty(t, again, "a claimed change is not claimed again within its lease")

		// Eight appliers race; exactly one applies.
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied, notPending := 0, 0
		for range 8 {
			wg.Go(func() {
				_, err := s.ApplyScheduled(ctx, c.ID)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					applied++
				case errors.Is(err, store.ErrNotPending):
					notPending++
				default:
					t.Errorf("apply: %v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, applied)
		assert.Equal(t, 7, notPending)
		got, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, 60, got.Environments["production"].RolloutPercent)
		assert.Equal(t, int64(2), got.Version)
		entries, err := s.Audit(ctx, "checkout-banner", 0)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		assert.Equal(t, "ana", entries[0].Actor)
		assert.Contains(t, entries[0].Note, "scheduled by ana at "+c.CreatedAt+", applied at ")
		assert.Contains(t, entries[0].Note, c.ID)
		done, err := s.GetScheduled(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, store.StateApplied, done.State)
		assert.Equal(t, int64(2), done.AppliedVersion)
		list, err = s.ListScheduled(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, list)
		require.ErrorIs(t, s.CancelScheduled(ctx, c.ID, "ben"), store.ErrNotPending, "an applied change cannot be cancelled")

		events, err := s.ReadOutbox(ctx, "", 100)
		require.NoError(t, err)
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
		}
		assert.Equal(t, []string{store.EventFlagUpdated, store.EventScheduleCreated, store.EventFlagUpdated}, types)
	})
}

func TestScheduledChangeCancelledAndFailed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		c, err := s.Schedule(ctx, store.ScheduledChange{Flag: "checkout-banner", At: "2026-01-01T00:00:00Z", Op: store.OpDelete, ScheduledBy: "ana"})
		require.NoError(t, err)
		require.NoError(t, s.CancelScheduled(ctx, c.ID, "ben"))
		_, err = s.ApplyScheduled(ctx, c.ID)
		require.ErrorIs(t, err, store.ErrNotPending)
		_, err = s.Get(ctx, "checkout-banner")
		require.NoError(t, err, "a cancelled delete deletes nothing")

		on := true
		bad, err := s.Schedule(ctx, store.ScheduledChange{Flag: "checkout-banner", At: "2026-01-01T00:00:00Z", Op: store.OpPatch,
			Patch: &store.Patch{Environment: "dev", Enabled: &on}, ScheduledBy: "ana"})
		require.NoError(t, err)
		_, err = s.ApplyScheduled(ctx, bad.ID)
		require.ErrorIs(t, err, evaluator.ErrInvalid)
		got, err := s.GetScheduled(ctx, bad.ID)
		require.NoError(t, err)
		assert.Equal(t, store.StateFailed, got.State)
		assert.Contains(t, got.Error, "environments.dev")

		_, err = s.Schedule(ctx, store.ScheduledChange{Flag: "checkout-banner", At: "soon", Op: "explode"})
		var ve *evaluator.ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Len(t, ve.Problems, 2)
	})
}

func TestChangeRequestFourEyes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb, store.WithOutbox())
		_, err := s.Upsert(ctx, banner(), store.Actor("ana"))
		require.NoError(t, err)
		proposed := banner()
		env := proposed.Environments["production"]
		env.RolloutPercent = 75
		env.Value = json.RawMessage(`{"title":"Faster checkout"}`)
		proposed.Environments["production"] = env
		r, err := s.CreateRequest(ctx, store.Request{Op: store.OpUpsert, After: &proposed, Author: "ana"})
		require.NoError(t, err)
		assert.Equal(t, int64(1), r.BaseVersion)
		assert.Contains(t, string(r.Before), `"rolloutPercent":25`)

		_, err = s.ApproveRequest(ctx, r.ID, "ana", "")
		require.ErrorIs(t, err, store.ErrSelfApproval, "the author cannot approve")
		_, err = s.ApproveRequest(ctx, r.ID, " ANA ", "")
		require.ErrorIs(t, err, store.ErrSelfApproval, "not even spelled otherwise")
		_, err = s.ApproveRequest(ctx, r.ID, "ben", "0000")
		require.ErrorIs(t, err, store.ErrDigestMismatch)
		got, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.Version, "nothing written by refused approvals")

		done, err := s.ApproveRequest(ctx, r.ID, "ben", r.Digest)
		require.NoError(t, err)
		assert.Equal(t, store.StateApplied, done.State)
		got, err = s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		want := proposed.Clone()
		want.Version, want.UpdatedAt = got.Version, got.UpdatedAt
		for name, e := range want.Environments {
			e.UpdatedAt = got.Environments[name].UpdatedAt
			want.Environments[name] = e
		}
		assert.Equal(t, want, got, "approval writes exactly the reviewed definition")
		_, err = s.ApproveRequest(ctx, r.ID, "cy", "")
		require.ErrorIs(t, err, store.ErrNotPending, "a request applies once")
		entries, err := s.Audit(ctx, "checkout-banner", 0)
		require.NoError(t, err)
		require.Len(t, entries, 3)
		assert.Equal(t, "ben", entries[0].Actor)
		assert.Equal(t, "request "+r.ID+" by ana, approved by ben", entries[0].Note)
		assert.Equal(t, "request.created", entries[1].Op)

		// A request made stale by a later edit cannot be applied.
		r2, err := s.CreateRequest(ctx, store.Request{Op: store.OpDelete, Flag: "checkout-banner", Author: "ana"})
		require.NoError(t, err)
		_, err = s.Upsert(ctx, banner(), store.Actor("cy"))
		require.NoError(t, err)
		_, err = s.ApproveRequest(ctx, r2.ID, "ben", "")
		require.ErrorIs(t, err, store.ErrStale)
		_, err = s.Get(ctx, "checkout-banner")
		require.NoError(t, err, "a stale delete deletes nothing")
		st, err := s.GetRequest(ctx, r2.ID)
		require.NoError(t, err)
		assert.Equal(t, store.StateStale, st.State)
		_, err = s.ApproveRequest(ctx, r2.ID, "ben", "")
		require.ErrorIs(t, err, store.ErrNotPending)

		r3, err := s.CreateRequest(ctx, store.Request{Op: store.OpDelete, Flag: "checkout-banner", Author: "ana"})
		require.NoError(t, err)
		require.ErrorIs(t, s.RejectRequest(ctx, r3.ID, "ana", "no"), store.ErrSelfApproval)
		require.NoError(t, s.RejectRequest(ctx, r3.ID, "ben", "not now"))
		st, err = s.GetRequest(ctx, r3.ID)
		require.NoError(t, err)
		assert.Equal(t, store.StateRejected, st.State)
		assert.Equal(t, "not now", st.ReviewComment)
		pending, err := s.ListRequests(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, pending)
	})
}

func TestOutboxOnlyWhenOn(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		_, err := store.New(rdb).Upsert(ctx, banner())
		require.NoError(t, err)
		n, err := rdb.Exists(ctx, "feature-flags:outbox").Result()
		require.NoError(t, err)
		assert.Zero(t, n)
		s := store.New(rdb, store.WithOutbox())
		first, err := s.NoticeExpired(ctx, "checkout-banner", "2026-01-01")
		require.NoError(t, err)
		assert.True(t, first)
		first, err = s.NoticeExpired(ctx, "checkout-banner", "2026-01-01")
		require.NoError(t, err)
		assert.False(t, first, "one notice per kill date")
		ok, err := s.Lease(ctx, "webhook:a", "r1", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = s.Lease(ctx, "webhook:a", "r2", time.Minute)
		require.NoError(t, err)
		assert.False(t, ok)
		events, err := s.ReadOutbox(ctx, "", 10)
		require.NoError(t, err)
		require.Len(t, events, 1)
		assert.Equal(t, store.EventFlagExpired, events[0].Type)
		require.ErrorIs(t, s.AdvanceOutboxCursor(ctx, "a", "r2", events[0].ID), store.ErrLeaseLost)
		require.NoError(t, s.AdvanceOutboxCursor(ctx, "a", "r1", events[0].ID))
		cur, err := s.OutboxCursor(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, events[0].ID, cur)
	})
}

func TestScheduledChangesOfOneFlagApplyInDueOrder(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		_, err := s.Upsert(ctx, banner())
		require.NoError(t, err)
		off, on := false, true
		first, err := s.Schedule(ctx, store.ScheduledChange{Flag: "checkout-banner", At: "2026-01-01T00:00:00Z", Op: store.OpPatch, Patch: &store.Patch{DefaultEnabled: &off}, ScheduledBy: "ana"})
		require.NoError(t, err)
		second, err := s.Schedule(ctx, store.ScheduledChange{Flag: "checkout-banner", At: "2026-01-01T00:00:01Z", Op: store.OpPatch, Patch: &store.Patch{DefaultEnabled: &on}, ScheduledBy: "ana"})
		require.NoError(t, err)
		_, err = s.ApplyScheduled(ctx, second.ID)
		require.ErrorIs(t, err, store.ErrNotFirst, "the later change waits for the earlier")
		ids, err := s.ClaimDue(ctx, time.Now(), time.Minute, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{first.ID, second.ID}, ids, "and is due again at once")
		_, err = s.ApplyScheduled(ctx, first.ID)
		require.NoError(t, err)
		_, err = s.ApplyScheduled(ctx, second.ID)
		require.NoError(t, err)
		f, err := s.Get(ctx, "checkout-banner")
		require.NoError(t, err)
		assert.True(t, f.DefaultEnabled, "off, then on")
		n, err := rdb.Exists(ctx, "feature-flags:schedule-of:checkout-banner").Result()
		require.NoError(t, err)
		assert.Zero(t, n, "the flag's pending set is emptied")
	})
}
