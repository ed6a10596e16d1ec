package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// seedFlags imports the tutorial sample and the LaunchDarkly sample under
// the default prefix of srv: six flags, plain and rich.
func seedFlags(t *testing.T, srv *redistest.Server) []string {
	t.Helper()
	mustRunCLI(t, "import", "testdata/flags.json", "--redis-url", srv.URL(), "--actor", "tester")
	mustRunCLI(t, "import", "testdata/launchdarkly.json", "--format", "launchdarkly", "--redis-url", srv.URL(), "--actor", "tester")
	keys := indexOf(t, srv, store.DefaultKeyPrefix)
	require.Len(t, keys, 6)
	return keys
}

// withoutStamps returns f without what a write sets (version, updatedAt).
func withoutStamps(f evaluator.Flag) evaluator.Flag {
	f = f.Clone()
	f.Version, f.UpdatedAt = 0, ""
	for name, e := range f.Environments {
		e.UpdatedAt = ""
		f.Environments[name] = e
	}
	return f
}

// TestCopyToHashTaggedPrefix copies every flag from "feature-flags" to
// "{feature-flags}" on the same server, another database, another server
// and a Redis Cluster (seeded with a node that does not serve the flags'
// slot), and checks that every copy loads equal to its source.
func TestCopyToHashTaggedPrefix(t *testing.T) {
	srv := redistest.Start(t)
	keys := seedFlags(t, srv)
	other := redistest.Start(t)
	cluster := redistest.StartCluster(t)
	var seed *redistest.Server
	owner := cluster.NodeOf(t, "{feature-flags}:index")
	for _, n := range cluster.Nodes {
		if n != owner {
			seed = n
		}
	}

	tests := []struct {
		name   string
		to     []string
		prefix string
		dst    func(t *testing.T) redis.UniversalClient
	}{
		{"same server", nil, "{feature-flags}", func(t *testing.T) redis.UniversalClient { return srv.Client(t) }},
		{"same server, same prefix, another database", []string{"--to-redis-url", "redis://" + srv.Addr() + "/1"}, "feature-flags",
			func(t *testing.T) redis.UniversalClient {
				o := srv.Options()
				o.DB = 1
				c := redis.NewClient(o)
				t.Cleanup(func() { _ = c.Close() })
				return c
			}},
		{"another server", []string{"--to-redis-url", other.URL()}, "{feature-flags}", func(t *testing.T) redis.UniversalClient { return other.Client(t) }},
		{"redis cluster", []string{"--to-redis-url", "redis://" + seed.Addr()}, "{feature-flags}", func(t *testing.T) redis.UniversalClient { return cluster.Client(t) }},
	}
	from := store.New(srv.Client(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"copy", "--redis-url", srv.URL(), "--to-key-prefix", tt.prefix, "--actor", "migrator"}, tt.to...)
			out := mustRunCLI(t, args...)
			assert.Equal(t, fmt.Sprintf("copied 6 flag(s) from %q to %q\n", "feature-flags", tt.prefix), out)

			to := store.New(tt.dst(t), store.WithKeyPrefix(tt.prefix))
			index, err := tt.dst(t).SMembers(t.Context(), tt.prefix+":index").Result()
			require.NoError(t, err)
			slices.Sort(index)
			assert.Equal(t, keys, index)
			for _, k := range keys {
				want, err := from.Get(t.Context(), k)
				require.NoError(t, err)
				got, err := to.Get(t.Context(), k)
				require.NoError(t, err)
				assert.Equal(t, withoutStamps(want), withoutStamps(got), "flag %q", k)
				assert.Equal(t, int64(1), got.Version, "flag %q: a new flag at the destination", k)
				audit, err := to.Audit(t.Context(), k, 1)
				require.NoError(t, err)
				require.Len(t, audit, 1, "flag %q: the copy is audited at the destination", k)
				assert.Equal(t, "migrator", audit[0].Actor, "flag %q", k)
			}

			out = mustRunCLI(t, args...)
			assert.Equal(t, fmt.Sprintf("copied 6 flag(s) from %q to %q\n", "feature-flags", tt.prefix), out, "copying again replaces")
			got, err := to.Get(t.Context(), keys[0])
			require.NoError(t, err)
			assert.Equal(t, int64(2), got.Version)
		})
	}
}

// TestCopyRefusesAPrefixOntoItself: the same prefix on the same server and
// database is refused however the server is named, and nothing is written.
func TestCopyRefusesAPrefixOntoItself(t *testing.T) {
	srv := redistest.Start(t)
	seedFlags(t, srv)
	rdb := srv.Client(t)
	before := redistest.Dump(t, rdb)
	tests := []struct {
		name string
		args []string
	}{
		{"no --to-redis-url", []string{"--to-key-prefix", "feature-flags"}},
		{"the same URL", []string{"--to-key-prefix", "feature-flags", "--to-redis-url", srv.URL()}},
		{"another name for the server", []string{"--to-key-prefix", "feature-flags", "--to-redis-url", fmt.Sprintf("redis://localhost:%d", srv.Port())}},
		{"a hash-tagged prefix onto itself", []string{"--key-prefix", "{feature-flags}", "--to-key-prefix", "{feature-flags}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCLI(t, append([]string{"copy", "--redis-url", srv.URL()}, tt.args...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "is the source prefix on the same server and database")
			assert.Empty(t, out)
			assert.Equal(t, before, redistest.Dump(t, rdb), "nothing written")
		})
	}

	_, stderr, err := runCLI(t, "copy", "--redis-url", srv.URL())
	assert.ErrorIs(t, err, errUsage)
	assert.Contains(t, stderr, "--to-key-prefix is required")
	assert.Equal(t, before, redistest.Dump(t, rdb))
}

// TestCopyDryRunListsAndWritesNothing: --dry-run names each flag the copy
// would create or replace at the destination, and writes nothing.
func TestCopyDryRunListsAndWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	base := []string{"--redis-url", srv.URL()}
	mustRunCLI(t, append([]string{"flags", "set", "a", "--env", "production", "--enabled"}, base...)...)
	mustRunCLI(t, append([]string{"flags", "set", "b", "--env", "production", "--enabled"}, base...)...)
	mustRunCLI(t, append([]string{"flags", "set", "b", "--key-prefix", "{feature-flags}", "--description", "old"}, base...)...)
	before := redistest.Dump(t, rdb)
	out := mustRunCLI(t, append([]string{"copy", "--to-key-prefix", "{feature-flags}", "--dry-run"}, base...)...)
	assert.Contains(t, out, "create   a")
	assert.Contains(t, out, "replace  b")
	assert.Contains(t, out, "1 to create, 1 to replace; nothing written")
	assert.Equal(t, before, redistest.Dump(t, rdb))
}
