package redistest

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Each runs fn twice as subtests: "miniredis" against an embedded miniredis,
// and "redis-server" against a real redis-server started for the subtest
// (skipped, or failed under REDISFLAGS_REQUIRE_REDIS=1, when redis-server is
// not installed). Both servers are empty and private to the subtest.
func Each(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		fn(t, c)
	})
	t.Run("redis-server", func(t *testing.T) {
		s := Start(t)
		fn(t, s.Client(t))
	})
}
