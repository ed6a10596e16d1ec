package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
)

// A 200,000-member allowlist is never read whole by a public route (before:
// GET /api/flags/{key} sent SMEMBERS, ~3 MB per answer, blocking Redis
// while it built each reply): the answer holds the count, a first page and
// a cursor; the paged route walks the rest with SSCAN.
func TestAttackLargeAllowlistIsPagedOnPublicRoutes(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ts := startServer(t, rdb, "adm")
	_, err := ts.store.Upsert(t.Context(), evaluator.Flag{Key: "big", Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, AllowlistUsers: []string{"u-0"}, AllowlistRegions: []string{"eu"}}}})
	require.NoError(t, err)
	const n = 200_000
	key := ts.store.Prefix() + ":flag:big:environment:production:users"
	require.EqualValues(t, 1, rdb.SCard(t.Context(), key).Val(), "the users key is %s", key)
	for i := 1; i < n; i += 10_000 {
		members := make([]any, 0, 10_000)
		for j := i; j < min(i+10_000, n); j++ {
			members = append(members, fmt.Sprintf("u-%d", j))
		}
		require.NoError(t, rdb.SAdd(t.Context(), key, members...).Err())
	}

	var maxPing time.Duration
	var mu sync.Mutex
	done := make(chan struct{})
	var pinger sync.WaitGroup
	pinger.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			_ = rdb.Ping(t.Context()).Err()
			mu.Lock()
			maxPing = max(maxPing, time.Since(start))
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})
	var wg sync.WaitGroup
	sizes := make([]int, 10)
	for i := range 10 {
		wg.Go(func() {
			resp, body := ts.do(t, "GET", "/api/flags/big", nil, "Authorization", "")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			sizes[i] = len(body)
		})
	}
	wg.Wait()
	close(done)
	pinger.Wait()
	t.Logf("10 concurrent GETs of a %d-member allowlist: answers %v bytes; slowest PING %v", n, sizes, maxPing)
	for _, s := range sizes {
		assert.Less(t, s, 16<<10, "the answer is a page, not the allowlist")
	}
	assert.Less(t, maxPing, 200*time.Millisecond, "Redis stayed responsive")

	resp, body := ts.do(t, "GET", "/api/flags/big", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Environments map[string]struct {
			AllowlistUsers       []string `json:"allowlistUsers"`
			AllowlistUsersCount  int64    `json:"allowlistUsersCount"`
			AllowlistUsersCursor string   `json:"allowlistUsersCursor"`
			AllowlistRegions     []string `json:"allowlistRegions"`
		} `json:"environments"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	env := doc.Environments["production"]
	assert.EqualValues(t, n, env.AllowlistUsersCount)
	assert.NotEmpty(t, env.AllowlistUsers)
	assert.LessOrEqual(t, len(env.AllowlistUsers), 4*PublicPage)
	assert.NotEqual(t, "0", env.AllowlistUsersCursor)
	assert.Equal(t, []string{"eu"}, env.AllowlistRegions, "small lists unchanged")

	// Walk the paged route to the end: every member, once each at least.
	seen := map[string]bool{}
	for _, m := range env.AllowlistUsers {
		seen[m] = true
	}
	cursor, pages := env.AllowlistUsersCursor, 0
	for cursor != "0" {
		resp, body := ts.do(t, "GET", "/api/flags/big/environments/production/users?count=1000&cursor="+cursor, nil, "Authorization", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var p struct {
			Members []string `json:"members"`
			Cursor  string   `json:"cursor"`
			Count   int64    `json:"count"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &p))
		require.EqualValues(t, n, p.Count)
		for _, m := range p.Members {
			seen[m] = true
		}
		cursor = p.Cursor
		pages++
		require.Less(t, pages, 10_000)
	}
	assert.Len(t, seen, n)
	for _, bad := range []string{"count=0", "count=1001", "cursor=x"} {
		resp, body := ts.do(t, "GET", "/api/flags/big/environments/production/users?"+bad, nil, "Authorization", "")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", bad, body)
	}
	resp, _ = ts.do(t, "GET", "/api/flags/nope/environments/production/users", nil, "Authorization", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// The admin route still reads the definition whole.
	resp, body = ts.do(t, "GET", "/api/admin/flags", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var all []evaluator.Flag
	require.NoError(t, json.Unmarshal([]byte(body), &all))
	users := all[0].Environments["production"].AllowlistUsers
	sort.Strings(users)
	assert.Len(t, users, n)
}
