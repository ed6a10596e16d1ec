package release_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/store"
)

func flagAt(key string, pct int) evaluator.Flag {
	return evaluator.Flag{Key: key, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, RolloutPercent: pct}, "staging": {Enabled: true, RolloutPercent: 100}}}
}

// TestSchedulersApplyEachChangeOnce: three schedulers on one Redis apply
// 200 due changes, each exactly once (one audit entry each).
func TestSchedulersApplyEachChangeOnce(t *testing.T) {
	// A real redis-server only: three appliers contending on miniredis
	// under -race take minutes, which proves nothing more.
	func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		st := store.New(rdb)
		for i := range 10 {
			_, err := st.Upsert(ctx, flagAt(fmt.Sprintf("f%d", i), 0))
			require.NoError(t, err)
		}
		ids := map[string]bool{}
		for i := range 200 {
			pct := i % 101
			c, err := st.Schedule(ctx, store.ScheduledChange{Flag: fmt.Sprintf("f%d", i%10), At: "2026-01-01T00:00:00Z",
				Op: store.OpPatch, Patch: &store.Patch{Environment: "production", RolloutPercent: &pct}, ScheduledBy: "ana"})
			require.NoError(t, err)
			ids[c.ID] = true
		}
		var scheds []*release.Scheduler
		for range 3 {
			s := release.NewScheduler(st, release.WithPollInterval(20*time.Millisecond))
			s.Start()
			scheds = append(scheds, s)
		}
		require.Eventually(t, func() bool {
			l, err := st.ListScheduled(ctx, "")
			return err == nil && len(l) == 0
		}, 90*time.Second, 50*time.Millisecond)
		for _, s := range scheds {
			s.Close()
			s.Close()
		}
		entries, err := st.Audit(ctx, "", 0)
		require.NoError(t, err)
		count := map[string]int{}
		for _, e := range entries {
			for id := range ids {
				if strings.Contains(e.Note, id) {
					count[id]++
				}
			}
		}
		for id := range ids {
			assert.Equal(t, 1, count[id], "change %s", id)
		}
	}(t, redistest.Start(t).Client(t))
}

func TestSchedulerSyncsRolloutPercentAndPauses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		st := store.New(rdb)
		t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		var now atomic.Int64
		now.Store(t0.UnixMilli())
		clock := func() time.Time { return time.UnixMilli(now.Load()).UTC() }
		_, err := st.Upsert(ctx, flagAt("ramp", 0))
		require.NoError(t, err)
		_, err = release.SetRollout(ctx, st, "ramp", "production", "ana",
			evaluator.Rollout{From: 5, To: 55, Start: t0.Format(time.RFC3339), End: t0.Add(50 * time.Hour).Format(time.RFC3339)}, clock())
		require.NoError(t, err)
		pct := func() int {
			f, err := st.Get(ctx, "ramp")
			require.NoError(t, err)
			return f.Environments["production"].RolloutPercent
		}
		assert.Equal(t, 5, pct(), "SetRollout writes the current percent at once")
		s := release.NewScheduler(st, release.WithSchedulerClock(clock))
		now.Store(t0.Add(20 * time.Hour).UnixMilli())
		require.NoError(t, s.SyncRollouts(ctx))
		assert.Equal(t, 25, pct(), "the tutorial's field follows the rollout")

		_, err = release.Pause(ctx, st, "ramp", "production", "ben", clock())
		require.NoError(t, err)
		now.Store(t0.Add(30 * time.Hour).UnixMilli())
		require.NoError(t, s.SyncRollouts(ctx))
		assert.Equal(t, 25, pct(), "paused")
		_, err = release.Resume(ctx, st, "ramp", "production", "ben", clock())
		require.NoError(t, err)
		require.NoError(t, s.SyncRollouts(ctx))
		assert.Equal(t, 25, pct(), "resumed where it stopped")
		now.Store(t0.Add(40 * time.Hour).UnixMilli())
		require.NoError(t, s.SyncRollouts(ctx))
		assert.Equal(t, 35, pct(), "and goes on, 10 hours later by the pause")

		f, err := release.Rollback(ctx, st, "ramp", "production", "ben", 0)
		require.NoError(t, err)
		assert.Nil(t, f.Environments["production"].Rollout)
		assert.Equal(t, 0, f.Environments["production"].RolloutPercent)
		_, err = release.Pause(ctx, st, "ramp", "production", "ben", clock())
		require.ErrorIs(t, err, release.ErrNoRollout)

		expired := flagAt("old", 0)
		expired.ExpiresAt = "2026-06-01"
		_, err = st.Upsert(ctx, expired)
		require.NoError(t, err)
		n, err := s.NoticeKillDates(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		n, err = s.NoticeKillDates(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, n, "noticed once")
	})
}

type apiClient struct {
	t   *testing.T
	srv *httptest.Server
}

func (c apiClient) do(actor, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd *bytes.Reader
	if s, ok := body.(string); ok {
		rd = bytes.NewReader([]byte(s))
	} else {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	require.NoError(c.t, err)
	if actor != "" {
		req.Header.Set("X-Test-Actor", actor)
	}
	resp, err := c.srv.Client().Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestAPIFourEyes: under a production policy an edit becomes a request, its
// author cannot approve it, another person's approval applies exactly it,
// a stale one is refused, and an emergency off goes through, audited.
func TestAPIFourEyes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		st := store.New(rdb, store.WithOutbox())
		_, err := st.Upsert(ctx, flagAt("banner", 10))
		require.NoError(t, err)
		h := release.NewHandler(release.NewService(st, nil), release.WithActorFunc(func(r *http.Request) (string, bool) {
			a := r.Header.Get("X-Test-Actor") // the test's stand-in for authentication
			return a, a != ""
		}))
		srv := httptest.NewServer(h)
		defer srv.Close()
		c := apiClient{t, srv}

		code, _ := c.do("", "GET", "/schedules", nil)
		assert.Equal(t, http.StatusUnauthorized, code)
		code, _ = c.do("ana", "PUT", "/policies/production", map[string]bool{"requireApproval": true, "emergencyOff": true})
		require.Equal(t, http.StatusOK, code)

		// Staging only: no approval needed.
		edit := flagAt("banner", 10)
		env := edit.Environments["staging"]
		env.RolloutPercent = 50
		edit.Environments["staging"] = env
		code, out := c.do("ana", "PUT", "/flags/banner", edit)
		require.Equal(t, http.StatusOK, code, "%v", out)

		edit = flagAt("banner", 40)
		edit.Environments["staging"] = env
		code, out = c.do("ana", "PUT", "/flags/banner", edit)
		require.Equal(t, http.StatusAccepted, code, "%v", out)
		req := out["request"].(map[string]any)
		id, digest := req["id"].(string), req["digest"].(string)
		f, err := st.Get(ctx, "banner")
		require.NoError(t, err)
		assert.Equal(t, 10, f.Environments["production"].RolloutPercent, "a request writes nothing")

		code, out = c.do("ana", "POST", "/requests/"+id+"/approve", map[string]string{"digest": digest})
		assert.Equal(t, http.StatusForbidden, code, "the author cannot approve: %v", out)
		code, out = c.do("ben", "POST", "/requests/"+id+"/approve", map[string]string{"digest": digest})
		require.Equal(t, http.StatusOK, code, "%v", out)
		assert.Equal(t, "applied", out["state"])
		f, err = st.Get(ctx, "banner")
		require.NoError(t, err)
		assert.Equal(t, 40, f.Environments["production"].RolloutPercent)
		assert.Equal(t, 50, f.Environments["staging"].RolloutPercent)

		// Stale: the flag changes between request and approval.
		edit2 := f.Clone()
		e := edit2.Environments["production"]
		e.RolloutPercent = 90
		edit2.Environments["production"] = e
		code, out = c.do("ana", "PUT", "/flags/banner", edit2)
		require.Equal(t, http.StatusAccepted, code)
		id2 := out["request"].(map[string]any)["id"].(string)
		off := f.Clone()
		e = off.Environments["production"]
		e.Enabled = false
		off.Environments["production"] = e
		code, out = c.do("cy", "PUT", "/flags/banner", off)
		require.Equal(t, http.StatusOK, code, "an emergency off is applied at once: %v", out)
		assert.Equal(t, true, out["emergency"])
		code, _ = c.do("ben", "POST", "/requests/"+id2+"/approve", nil)
		assert.Equal(t, http.StatusConflict, code, "a stale request cannot be applied")
		code, out = c.do("ben", "GET", "/requests/"+id2, nil)
		require.Equal(t, http.StatusOK, code)
		assert.Equal(t, "stale", out["state"])
		f, err = st.Get(ctx, "banner")
		require.NoError(t, err)
		assert.False(t, f.Environments["production"].Enabled)
		assert.Equal(t, 40, f.Environments["production"].RolloutPercent)
		entries, err := st.Audit(ctx, "banner", 0)
		require.NoError(t, err)
		var notes []string
		for _, e := range entries {
			if e.Note != "" {
				notes = append(notes, e.Actor+": "+e.Note)
			}
		}
		assert.Contains(t, notes, "cy: emergency off")
		assert.Contains(t, notes, "ben: request "+id+" by ana, approved by ben")

		// Schedules through the API.
		code, out = c.do("ana", "POST", "/schedules", map[string]any{"flag": "banner", "at": "2030-01-01T00:00:00Z", "op": "delete"})
		require.Equal(t, http.StatusCreated, code, "%v", out)
		sid := out["id"].(string)
		code, out = c.do("ben", "DELETE", "/schedules/"+sid, nil)
		require.Equal(t, http.StatusOK, code)
		assert.Equal(t, "cancelled", out["state"])
		assert.Equal(t, "ben", out["cancelledBy"])
		code, out = c.do("ana", "POST", "/schedules", `{"flag":"banner","at":"later","op":"delete"}`)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.NotEmpty(t, out["problems"])
		code, _ = c.do("ana", "POST", "/schedules", strings.Repeat(" ", release.MaxBodyBytes+1)+"{}")
		assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	})
}
