package provider_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// MinimalACL is the README's Redis ACL for redisflags with the default key
// prefix: the keys and channels of the prefix only, and the commands the
// provider (read) and the CLI and serve (write) send.
var MinimalACL = []string{
	"~feature-flags:*", "&feature-flags:*",
	// connection
	"+ping", "+hello", "+select",
	// the provider: load, direct reads, change notices
	"+smembers", "+sismember", "+scard", "+hgetall", "+hmget", "+hget", "+exists", "+type",
	"+eval", "+evalsha", "+multi", "+exec", "+discard",
	"+subscribe", "+unsubscribe", "+psubscribe", "+punsubscribe",
	// writers (CLI, serve): transactions, change notices, the audit stream
	"+watch", "+unwatch", "+del", "+hset", "+sadd", "+srem", "+publish",
	"+xadd", "+xrange", "+xrevrange", "+xlen", "+xdel", "+incrby", "+decrby",
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Under an ACL user limited to the prefix's keys and channels, the
// provider, in both modes, loads, evaluates and follows changes; the
// refused keyspace PSUBSCRIBE (optional) is logged and does not end the
// session (before: NOPERM killed it, over and over). The store's writes —
// what the CLI and serve do — work too.
func TestProviderAndWritesWorkUnderAPrefixLimitedACL(t *testing.T) {
	srv := redistest.Start(t, redistest.WithKeyspaceNotifications())
	admin := srv.Client(t)
	ctx := t.Context()
	args := append([]any{"ACL", "SETUSER", "flags", "on", ">flags-pw", "resetkeys", "resetchannels", "-@all"}, toAnys(MinimalACL)...)
	require.NoError(t, admin.Do(ctx, args...).Err())

	opts := srv.Options()
	opts.Username, opts.Password = "flags", "flags-pw"
	opts.ReadTimeout = 5 * time.Second
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	require.Error(t, rdb.Get(ctx, "other:key").Err(), "the ACL is in force: other keys are refused")

	st := store.New(rdb)
	flag := func(key string, on bool) evaluator.Flag {
		return evaluator.Flag{Key: key, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": {Enabled: on, RolloutPercent: 100, AllowlistUsers: []string{"u1"}, Value: json.RawMessage(`{"a":1}`)}}}
	}
	_, err := st.UpsertAll(ctx, []evaluator.Flag{flag("kill-switch", true), flag("other", true)}, store.Actor("acl-test"))
	require.NoError(t, err)
	_, err = st.Upsert(ctx, flag("third", true), store.Actor("acl-test"), store.IfAbsent())
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, "third", store.Actor("acl-test")))
	entries, err := st.Audit(ctx, "", 0)
	require.NoError(t, err)
	assert.Len(t, entries, 4)

	for _, mode := range []struct {
		name string
		opts []provider.Option
	}{{"snapshot", nil}, {"direct", []provider.Option{provider.WithDirectReads()}}} {
		t.Run(mode.name, func(t *testing.T) {
			var logs lockedBuffer
			p := provider.New(rdb, append(mode.opts, provider.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))...)
			c := bind(t, p)
			ec := of.NewEvaluationContext("u2", nil)
			require.True(t, c.Boolean(ctx, "kill-switch", false, ec))
			_, err := st.Upsert(ctx, flag("kill-switch", false))
			require.NoError(t, err)
			eventually(t, 5*time.Second, "the kill switch reaches the provider through the change notice", func() bool {
				return !c.Boolean(ctx, "kill-switch", true, ec)
			})
			_, err = st.Upsert(ctx, flag("kill-switch", true))
			require.NoError(t, err)
			eventually(t, 5*time.Second, "and back", func() bool { return c.Boolean(ctx, "kill-switch", false, ec) })
			if mode.name == "snapshot" {
				assert.Contains(t, logs.String(), "refused the keyspace-notification subscription")
				assert.Equal(t, 1, strings.Count(logs.String(), "refused the keyspace-notification"), "one session, asked once")
				assert.NotContains(t, logs.String(), "lost Redis")
			}
		})
	}
}

func toAnys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
