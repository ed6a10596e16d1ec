package provider_test

import (
	"fmt"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// TestProviderOnCluster serves flags from a Redis Cluster of three
// primaries through a ClusterClient, in both modes, with the hash-tagged
// prefix "{feature-flags}" (docs/design.md §7).
//
// Change notices: PUBLISH on a cluster is broadcast to every node, so the
// subscription sees them whichever node it is on. Keyspace notifications
// are node-local; they reach the provider because go-redis opens the
// subscription on the node serving the slot of the first channel,
// "{feature-flags}:changes", which is the slot of every key of the flag set.
func TestProviderOnCluster(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.WithKeyspaceNotifications())
	const prefix = "{feature-flags}"
	ctx := t.Context()
	s := store.New(cl.Client(t), store.WithKeyPrefix(prefix))
	for i := range 20 {
		_, err := s.Upsert(ctx, onFlag(fmt.Sprintf("flag-%d", i), "alice"))
		require.NoError(t, err)
	}

	modes := []struct {
		name string
		opts []provider.Option
	}{
		{"snapshot", nil},
		{"direct", []provider.Option{provider.WithDirectReads()}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			opts := append([]provider.Option{provider.WithKeyPrefix(prefix), provider.WithResyncInterval(time.Hour)}, m.opts...)
			c := bind(t, provider.New(cl.Client(t), opts...))
			flag := "flag-" + m.name
			for i := range 20 {
				require.True(t, isOn(ctx, c, fmt.Sprintf("flag-%d", i), "alice"))
			}
			require.False(t, isOn(ctx, c, "flag-3", "bob"))

			// A store write is served: by the change notice (snapshot) or
			// the next read (direct).
			_, err := s.Upsert(ctx, onFlag(flag, "bob"))
			require.NoError(t, err)
			eventually(t, 2*time.Second, "new flag served", func() bool { return isOn(ctx, c, flag, "bob") })
			_, err = s.Upsert(ctx, onFlag(flag, "carol"))
			require.NoError(t, err)
			eventually(t, 2*time.Second, "update served", func() bool { return isOn(ctx, c, flag, "carol") && !isOn(ctx, c, flag, "bob") })
			d, err := c.BooleanValueDetails(ctx, flag, false, of.NewEvaluationContext("carol", nil))
			require.NoError(t, err)
			assert.Equal(t, int64(2), d.FlagMetadata["version"])

			// A raw write that publishes nothing, seen through the keyspace
			// notification of the node that holds the flag set.
			dave := outsideRollout(flag, "production", 0)
			require.NoError(t, cl.Client(t).SAdd(ctx, prefix+":flag:"+flag+":environment:production:users", dave).Err())
			eventually(t, 2*time.Second, "raw SADD served", func() bool { return isOn(ctx, c, flag, dave) })

			require.NoError(t, s.Delete(ctx, flag))
			eventually(t, 2*time.Second, "deleted flag gone", func() bool {
				d, _ := c.BooleanValueDetails(ctx, flag, false, of.NewEvaluationContext("carol", nil))
				return d.ErrorCode == of.FlagNotFoundCode
			})
		})
	}
}
