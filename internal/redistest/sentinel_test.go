package redistest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

func TestSentinelPromotesTheReplicaWhenThePrimaryDies(t *testing.T) {
	s := redistest.StartSentinel(t)
	ctx := t.Context()
	addr, err := s.PrimaryAddr(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.Primary.Addr(), addr)

	rdb := s.Client(t)
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())
	require.Eventually(t, func() bool {
		v, _ := s.Replica.Do(ctx, "GET", "k")
		return v == "v"
	}, 5*time.Second, 10*time.Millisecond, "replicated")

	killed := time.Now()
	s.Primary.Kill()
	addr = s.WaitForFailover(t, s.Primary.Addr(), 15*time.Second)
	t.Logf("failover %v after SIGKILL", time.Since(killed))
	assert.Equal(t, s.Replica.Addr(), addr)
	require.Eventually(t, func() bool { return rdb.Set(ctx, "k", "w", 0).Err() == nil }, 5*time.Second, 20*time.Millisecond,
		"the failover client writes to the new primary")
	v, err := s.Replica.Do(ctx, "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "w", v)
}
