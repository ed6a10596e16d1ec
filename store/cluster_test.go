package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/store"
)

// clusterPrefix is the hash-tagged prefix: every key of the flag set hashes
// on "feature-flags" alone, so the whole set lives in one slot, on one node,
// and WATCH/MULTI/EXEC over a flag's keys and the index is allowed.
const clusterPrefix = "{feature-flags}"

// TestStoreOnCluster runs the store's writes and reads through a
// ClusterClient over three primaries. The subtests share one cluster (it
// takes a couple of seconds to form).
func TestStoreOnCluster(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.WithKeyspaceNotifications())
	cc := cl.Client(t)
	owner := cl.NodeOf(t, clusterPrefix+":index")

	t.Run("upsert, get, list, delete with a hash-tagged prefix", func(t *testing.T) {
		ctx := t.Context()
		s := store.New(cc, store.WithKeyPrefix(clusterPrefix))
		for i := range 300 { // more than one load batch
			_, err := s.Upsert(ctx, copyFixture(fmt.Sprintf("flag-%03d", i)))
			require.NoError(t, err)
		}
		stored, err := s.Upsert(ctx, copyFixture("flag-007"))
		require.NoError(t, err)
		assert.Equal(t, int64(2), stored.Version)
		got, err := s.Get(ctx, "flag-007")
		require.NoError(t, err)
		sameDefinition(t, copyFixture("flag-007"), got)
		assert.Equal(t, int64(2), got.Version)
		flags, err := s.List(ctx)
		require.NoError(t, err)
		assert.Len(t, flags, 300)

		facts, err := s.ReadFacts(ctx, "flag-007", "production", "user-2", "")
		require.NoError(t, err)
		assert.True(t, facts.UserListed)
		assert.Equal(t, int64(2), facts.Version)

		require.NoError(t, s.Delete(ctx, "flag-007"))
		_, err = s.Get(ctx, "flag-007")
		require.ErrorIs(t, err, store.ErrNotFound)
		flags, err = s.List(ctx)
		require.NoError(t, err)
		assert.Len(t, flags, 299)

		// Every key of the flag set is on the node that serves the tag.
		for _, n := range cl.Nodes {
			keys, err := n.Client(t).Keys(ctx, clusterPrefix+"*").Result()
			require.NoError(t, err)
			if n == owner {
				assert.NotEmpty(t, keys)
			} else {
				assert.Empty(t, keys, "node %s holds none of the flag set", n.Addr())
			}
		}
	})

	t.Run("an untagged prefix spreads a flag over slots and writes are refused", func(t *testing.T) {
		ctx := t.Context()
		s := store.New(cc) // "feature-flags": P:index and P:flag:K hash to different slots
		_, err := s.Upsert(ctx, copyFixture("spread"))
		require.Error(t, err, "WATCH over keys of several slots")
		t.Logf("upsert with an untagged prefix on Cluster: %v", err)
		for _, k := range []string{"feature-flags:index", "feature-flags:flag:spread", "feature-flags:flag:spread:environments"} {
			n, err := cc.Exists(ctx, k).Result() // one key at a time: EXISTS a b is CROSSSLOT
			require.NoError(t, err)
			assert.Zero(t, n, "nothing written: %s", k)
		}
	})

	t.Run("copy migrates an untagged prefix to the tagged one", func(t *testing.T) {
		ctx := t.Context()
		// The tutorial's app writes on a single Redis…
		single := redistest.Start(t).Client(t)
		require.NoError(t, tutorial.Write(ctx, single, store.DefaultKeyPrefix, tutorial.CheckoutBanner()))
		_, err := store.New(single).Upsert(ctx, copyFixture("other"))
		require.NoError(t, err)
		// …and the flags move to the cluster under the tagged prefix.
		to := store.New(cc, store.WithKeyPrefix("{migrated}"))
		n, err := store.Copy(ctx, store.New(single), to)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		want, err := store.New(single).List(ctx)
		require.NoError(t, err)
		got, err := to.List(ctx)
		require.NoError(t, err)
		require.Len(t, got, 2)
		for i := range want {
			sameDefinition(t, want[i], got[i])
		}
	})

	t.Run("PUBLISH reaches every node, keyspace notifications only the owner's", func(t *testing.T) {
		ctx := t.Context()
		s := store.New(cc, store.WithKeyPrefix(clusterPrefix))
		type sub struct {
			node *redistest.Server
			ps   *redis.PubSub
		}
		var subs []sub
		for _, n := range cl.Nodes {
			ps := n.Client(t).PSubscribe(ctx, s.ChangesChannel(), s.KeyspacePattern())
			t.Cleanup(func() { _ = ps.Close() })
			for range 2 {
				_, err := ps.ReceiveTimeout(ctx, time.Second) // the two confirmations
				require.NoError(t, err)
			}
			subs = append(subs, sub{n, ps})
		}
		_, err := s.Upsert(ctx, copyFixture("noticed"))
		require.NoError(t, err)
		for _, sb := range subs {
			notices, keyspace := drain(ctx, sb.ps, 300*time.Millisecond, s.ChangesChannel())
			assert.Equal(t, 1, notices, "change notice on node %s", sb.node.Addr())
			if sb.node == owner {
				assert.Positive(t, keyspace, "keyspace notifications on the owning node")
			} else {
				assert.Zero(t, keyspace, "no keyspace notifications on node %s", sb.node.Addr())
			}
		}
	})
}

// drain counts the messages on channel and the others received within d.
func drain(ctx context.Context, ps *redis.PubSub, d time.Duration, channel string) (onChannel, others int) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		msg, err := ps.ReceiveTimeout(ctx, left)
		if err != nil {
			return
		}
		if m, ok := msg.(*redis.Message); ok {
			// A PSUBSCRIBE on the channel name itself delivers with Pattern set.
			if m.Channel == channel {
				onChannel++
			} else {
				others++
			}
		}
	}
}
