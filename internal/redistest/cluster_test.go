package redistest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

func TestStartClusterServesEverySlot(t *testing.T) {
	c := redistest.StartCluster(t)
	require.Len(t, c.Nodes, 3)
	cc := c.Client(t)
	ctx := t.Context()
	// Keys in many slots: every node takes some.
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		require.NoError(t, cc.Set(ctx, k, k, 0).Err())
		v, err := cc.Get(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, k, v)
	}
	owners := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		owners[c.NodeOf(t, k).Addr()] = true
	}
	assert.Len(t, owners, 3, "keys spread over the three primaries")
	// One hash tag, one slot, one node.
	assert.Equal(t, c.NodeOf(t, "{feature-flags}:index").Addr(), c.NodeOf(t, "{feature-flags}:flag:x:environments").Addr())
}
