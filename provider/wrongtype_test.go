package provider_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/provider"
)

// wrongTypes are the keys of flag "broken" overwritten with another type
// of value, as a careless redis-cli session leaves them.
var wrongTypes = []struct {
	name, key string
	breakIt   func(t *testing.T, rdb redis.UniversalClient, key string)
}{
	{"flag hash as a list", "feature-flags:flag:broken", func(t *testing.T, rdb redis.UniversalClient, k string) {
		require.NoError(t, rdb.Del(t.Context(), k).Err())
		require.NoError(t, rdb.RPush(t.Context(), k, "x").Err())
	}},
	{"environments set as a string", "feature-flags:flag:broken:environments", func(t *testing.T, rdb redis.UniversalClient, k string) {
		require.NoError(t, rdb.Set(t.Context(), k, "x", 0).Err())
	}},
	{"environment hash as a list", "feature-flags:flag:broken:environment:production", func(t *testing.T, rdb redis.UniversalClient, k string) {
		require.NoError(t, rdb.Del(t.Context(), k).Err())
		require.NoError(t, rdb.RPush(t.Context(), k, "x").Err())
	}},
	{"users set as a hash", "feature-flags:flag:broken:environment:production:users", func(t *testing.T, rdb redis.UniversalClient, k string) {
		require.NoError(t, rdb.Del(t.Context(), k).Err())
		require.NoError(t, rdb.HSet(t.Context(), k, "x", "y").Err())
	}},
}

// syncBuffer is a log destination tests read while the provider writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeWrongTypeFlags(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	require.NoError(t, rdb.FlushAll(t.Context()).Err())
	for _, key := range []string{"broken", "kill", "good"} {
		f := tutorial.CheckoutBanner()
		f.Key = key
		require.NoError(t, tutorial.Write(t.Context(), rdb, "feature-flags", f))
	}
}

// checkBroken: "broken" answers PARSE_ERROR naming its key, "good" answers.
func checkBroken(t *testing.T, c *of.Client, key string) {
	t.Helper()
	ec := of.NewEvaluationContext("user-123", nil)
	d, err := c.BooleanValueDetails(t.Context(), "broken", false, ec)
	require.Error(t, err)
	assert.Equal(t, of.ParseErrorCode, d.ErrorCode, "%+v", d)
	assert.Contains(t, d.ErrorMessage, key)
	assert.Contains(t, d.ErrorMessage, "WRONGTYPE")
	assert.True(t, c.Boolean(t.Context(), "good", false, ec), "an unrelated flag still answers")
}

// TestWrongTypedKeyIsThatFlagsParseError: a key of one flag holding another
// type of value makes that flag a PARSE_ERROR naming the key, logged with
// the key, in both modes: Init succeeds, nothing goes STALE, and every
// other flag keeps being served, including a kill switch thrown
// afterwards, by the running refresher (the raw writes here publish no
// notice, so the resync finds them).
func TestWrongTypedKeyIsThatFlagsParseError(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ec := of.NewEvaluationContext("user-123", nil)
	for _, wt := range wrongTypes {
		t.Run(wt.name, func(t *testing.T) {
			for _, mode := range []struct {
				name string
				opts []provider.Option
			}{
				{"snapshot", []provider.Option{provider.WithResyncInterval(100 * time.Millisecond)}},
				{"direct", []provider.Option{provider.WithDirectReads()}},
			} {
				t.Run(mode.name, func(t *testing.T) {
					// Broken before Init.
					writeWrongTypeFlags(t, rdb)
					wt.breakIt(t, rdb, wt.key)
					logs := &syncBuffer{}
					opts := append([]provider.Option{provider.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, mode.opts...)
					p := provider.New(rdb, opts...)
					require.NoError(t, p.Init(of.EvaluationContext{}), "Init must not fail for one bad key")
					c := bind(t, p)
					events := watchEvents(c)
					checkBroken(t, c, wt.key)
					if mode.name != "direct" {
						assert.Contains(t, logs.String(), wt.key, "the log names the key")
					}
					assert.True(t, c.Boolean(t.Context(), "kill", false, ec))

					// Kill switch thrown by a raw write, then repaired and
					// broken again while running.
					require.NoError(t, rdb.HSet(t.Context(), "feature-flags:flag:kill", "defaultEnabled", "false").Err())
					eventually(t, 5*time.Second, "kill switch served", func() bool { return !c.Boolean(t.Context(), "kill", true, ec) })
					writeWrongTypeFlags(t, rdb)
					eventually(t, 5*time.Second, "repaired flag served", func() bool { return c.Boolean(t.Context(), "broken", false, ec) })
					wt.breakIt(t, rdb, wt.key)
					eventually(t, 5*time.Second, "broken again", func() bool {
						d, _ := c.BooleanValueDetails(t.Context(), "broken", false, ec)
						return d.ErrorCode == of.ParseErrorCode
					})
					checkBroken(t, c, wt.key)
					require.NoError(t, rdb.HSet(t.Context(), "feature-flags:flag:kill", "defaultEnabled", "false").Err())
					eventually(t, 5*time.Second, "kill switch served with a broken flag beside it", func() bool { return !c.Boolean(t.Context(), "kill", true, ec) })
					assert.Zero(t, events.count(of.ProviderStale), "no STALE for a bad key")
					assert.Zero(t, events.count(of.ProviderError))
					assert.NotContains(t, logs.String(), "lost Redis")
				})
			}
		})
	}
}

// TestInvalidEnvironmentNameInTheSetModesAgree: a name in a flag's stored
// environments set that is not a valid environment name (written by hand)
// spoils only that name: both modes serve the flag's valid environments
// alike, and the snapshot logs the bad name.
func TestInvalidEnvironmentNameInTheSetModesAgree(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	writeWrongTypeFlags(t, rdb)
	require.NoError(t, rdb.SAdd(t.Context(), "feature-flags:flag:broken:environments", "bad name").Err())
	ec := of.NewEvaluationContext("user-123", nil)
	for _, mode := range []struct {
		name string
		opts []provider.Option
	}{
		{"snapshot", nil},
		{"direct", []provider.Option{provider.WithDirectReads()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			logs := &syncBuffer{}
			opts := append([]provider.Option{provider.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, mode.opts...)
			p := provider.New(rdb, opts...)
			require.NoError(t, p.Init(of.EvaluationContext{}))
			c := bind(t, p)
			d, err := c.BooleanValueDetails(t.Context(), "broken", false, ec)
			require.NoError(t, err, "the valid environment answers in %s mode", mode.name)
			assert.True(t, d.Value)
			assert.Equal(t, of.TargetingMatchReason, d.Reason, "%+v", d)
			if mode.name == "snapshot" {
				assert.Contains(t, logs.String(), "bad name", "the snapshot logs the bad name")
			}
		})
	}
}

// TestLostRedisSaysWhatIsServed: a provider that loaded no flag, on losing
// Redis, does not claim to serve "the last flags"; one that did says how
// many it serves.
func TestLostRedisSaysWhatIsServed(t *testing.T) {
	for _, withFlag := range []bool{false, true} {
		srv := redistest.Start(t)
		rdb := srv.Client(t)
		if withFlag {
			writeWrongTypeFlags(t, rdb)
		}
		logs := &syncBuffer{}
		p := provider.New(rdb, provider.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		require.NoError(t, p.Init(of.EvaluationContext{}))
		srv.Kill()
		eventually(t, 10*time.Second, "STALE logged", func() bool { return strings.Contains(logs.String(), "lost Redis") })
		p.Shutdown()
		if withFlag {
			assert.Contains(t, logs.String(), "serving the last snapshot (3 flags)")
		} else {
			assert.Contains(t, logs.String(), "it held no flags, so evaluations answer the callers' defaults")
			assert.NotContains(t, logs.String(), "serving the last snapshot")
		}
	}
}
