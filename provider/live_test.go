package provider_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

func onFlag(key string, users ...string) evaluator.Flag {
	return evaluator.Flag{Key: key, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, AllowlistUsers: users}}}
}

// outsideRollout returns a subject whose bucket is not below percent.
func outsideRollout(flag, env string, percent int) string {
	for i := 0; ; i++ {
		s := fmt.Sprintf("outsider-%d", i)
		if referenceBucket(flag, env, s) >= percent {
			return s
		}
	}
}

func isOn(ctx context.Context, c *of.Client, flag, subject string) bool {
	v, _ := c.BooleanValue(ctx, flag, false, of.NewEvaluationContext(subject, nil))
	return v
}

func TestStoreWriteReachesSubscribedProviders(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	s := store.New(rdb)
	_, err := s.Upsert(ctx, onFlag("f", "alice"))
	require.NoError(t, err)

	var clients []*of.Client
	var logs []*eventLog
	for range 10 {
		p := provider.New(srv.Client(t), provider.WithResyncInterval(time.Hour))
		domain := newDomain(t)
		require.NoError(t, of.SetNamedProviderAndWait(domain, p))
		t.Cleanup(p.Shutdown)
		c := of.NewClient(domain)
		clients = append(clients, c)
		logs = append(logs, watchEvents(c))
		require.True(t, isOn(ctx, c, "f", "alice"))
		require.False(t, isOn(ctx, c, "f", "bob"))
	}
	_, err = s.Upsert(ctx, onFlag("f", "bob"))
	require.NoError(t, err)
	for i, c := range clients {
		eventually(t, 2*time.Second, "provider sees bob", func() bool { return isOn(ctx, c, "f", "bob") })
		assert.False(t, isOn(ctx, c, "f", "alice"))
		d := logs[i].waitFor(t, of.ProviderConfigChange, time.Second, nil)
		assert.Equal(t, []string{"f"}, d.FlagChanges)
	}
	require.NoError(t, s.Delete(ctx, "f"))
	for _, c := range clients {
		eventually(t, 2*time.Second, "flag deleted", func() bool {
			d, _ := c.BooleanValueDetails(ctx, "f", false, of.NewEvaluationContext("bob", nil))
			return d.ErrorCode == of.FlagNotFoundCode
		})
	}
}

func TestRawWriteServedWithinOneResync(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", tutorial.CheckoutBanner()))
	const interval = 300 * time.Millisecond
	c := bind(t, provider.New(rdb, provider.WithResyncInterval(interval)))
	events := watchEvents(c)
	carol := outsideRollout("checkout-banner", "production", 25)
	require.False(t, isOn(ctx, c, "checkout-banner", carol))

	// Another client writes like redis-cli: no notice, no keyspace events.
	require.NoError(t, rdb.SAdd(ctx, "feature-flags:flag:checkout-banner:environment:production:users", carol).Err())
	start := time.Now()
	eventually(t, 3*interval, "raw SADD served", func() bool { return isOn(ctx, c, "checkout-banner", carol) })
	t.Logf("raw SADD served after %v (resync every %v)", time.Since(start), interval)
	d := events.waitFor(t, of.ProviderConfigChange, time.Second, nil)
	assert.Equal(t, []string{"checkout-banner"}, d.FlagChanges)

	// A raw HSET, the kill switch of the tutorial's layout, likewise.
	require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:checkout-banner", "defaultEnabled", "false").Err())
	start = time.Now()
	eventually(t, 3*interval, "raw HSET served", func() bool { return !isOn(ctx, c, "checkout-banner", carol) })
	t.Logf("raw HSET served after %v (resync every %v)", time.Since(start), interval)
	require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:checkout-banner", "defaultEnabled", "true").Err())
	eventually(t, 3*interval, "raw HSET undone", func() bool { return isOn(ctx, c, "checkout-banner", carol) })

	// A flag created by the tutorial's app appears, one deleted by hand disappears.
	other := tutorial.CheckoutBanner()
	other.Key = "new-flag"
	require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", other))
	eventually(t, 3*interval, "new flag served", func() bool { return isOn(ctx, c, "new-flag", "user-123") })
	require.NoError(t, rdb.SRem(ctx, "feature-flags:index", "new-flag").Err())
	require.NoError(t, rdb.Del(ctx, "feature-flags:flag:new-flag").Err())
	eventually(t, 3*interval, "deleted flag gone", func() bool {
		d, _ := c.BooleanValueDetails(ctx, "new-flag", false, of.NewEvaluationContext("user-123", nil))
		return d.ErrorCode == of.FlagNotFoundCode
	})
}

func TestKeyspaceNotificationsServeRawWrites(t *testing.T) {
	srv := redistest.Start(t, redistest.WithKeyspaceNotifications())
	rdb := srv.Client(t)
	ctx := t.Context()
	require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", tutorial.CheckoutBanner()))
	c := bind(t, provider.New(rdb, provider.WithResyncInterval(time.Hour)))
	dave := outsideRollout("checkout-banner", "production", 25)
	require.False(t, isOn(ctx, c, "checkout-banner", dave))
	require.NoError(t, rdb.SAdd(ctx, "feature-flags:flag:checkout-banner:environment:production:users", dave).Err())
	eventually(t, 2*time.Second, "keyspace notification served", func() bool { return isOn(ctx, c, "checkout-banner", dave) })
	require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:checkout-banner", "defaultEnabled", "false").Err())
	eventually(t, 2*time.Second, "kill switch served", func() bool { return !isOn(ctx, c, "checkout-banner", "user-123") })
}

// TestRedisKilledDuringLoad kills redis-server with SIGKILL while eight
// goroutines evaluate, and restarts it on the same port.
func TestRedisKilledDuringLoad(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	setup := srv.Client(t)
	for i := range 20 {
		_, err := store.New(setup).Upsert(ctx, onFlag(fmt.Sprintf("flag-%d", i), "alice"))
		require.NoError(t, err)
	}
	rdb := redis.NewClient(srv.Options())
	t.Cleanup(func() { _ = rdb.Close() })
	c := bind(t, provider.New(rdb, provider.WithResyncInterval(time.Hour)))
	events := watchEvents(c)

	load := startEvalLoad(ctx, c, 8)
	t.Cleanup(load.halt) // on an early failure
	time.Sleep(100 * time.Millisecond)
	killed := time.Now()
	srv.Kill()
	events.waitFor(t, of.ProviderStale, time.Second, nil)
	t.Logf("STALE %v after SIGKILL", time.Since(killed))
	time.Sleep(300 * time.Millisecond) // keep evaluating while Redis is down

	load.halt()   // the load ran through the outage; what follows changes the answers
	srv.Restart() // empty: nothing was persisted
	// A change made while the provider was disconnected: alice is gone,
	// bob is in.
	for i := range 20 {
		_, err := store.New(setup).Upsert(ctx, onFlag(fmt.Sprintf("flag-%d", i), "bob"))
		require.NoError(t, err)
	}
	events.waitFor(t, of.ProviderReady, 10*time.Second, nil)
	t.Logf("%d evaluations during the outage test, %d failures", load.evals.Load(), load.failures.Load())
	assert.Zero(t, load.failures.Load(), "flags already loaded keep answering")
	assert.Greater(t, load.evals.Load(), int64(1000))
	assert.Equal(t, 1, events.count(of.ProviderStale), "one outage, one STALE")
	eventually(t, 2*time.Second, "change made while disconnected is served", func() bool {
		return isOn(ctx, c, "flag-3", "bob") && !isOn(ctx, c, "flag-3", "alice")
	})
}

func TestColdStartWithRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	_, err := store.New(srv.Client(t)).Upsert(ctx, onFlag("f", "alice"))
	require.NoError(t, err)
	srv.Kill()

	rdb := redis.NewClient(srv.Options())
	t.Cleanup(func() { _ = rdb.Close() })
	p := provider.New(rdb, provider.WithInitTimeout(300*time.Millisecond))
	t.Cleanup(p.Shutdown)
	domain := newDomain(t)
	start := time.Now()
	err = of.SetNamedProviderAndWait(domain, p)
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Less(t, elapsed, 2*time.Second, "Init gives up within its timeout")
	t.Logf("SetProviderAndWait failed after %v: %v", elapsed, err)
	c := of.NewClient(domain)
	events := watchEvents(c)
	d, _ := c.BooleanValueDetails(ctx, "f", true, of.NewEvaluationContext("alice", nil))
	assert.True(t, d.Value, "the caller's default")
	assert.Equal(t, of.ProviderNotReadyCode, d.ErrorCode)

	srv.Restart()
	_, err = store.New(srv.Client(t)).Upsert(ctx, onFlag("f", "alice"))
	require.NoError(t, err)
	events.waitFor(t, of.ProviderReady, 10*time.Second, nil)
	// The provider may have loaded the empty restarted server just before
	// the write; the write's change notice then brings the flag.
	eventually(t, 2*time.Second, "flag served after READY", func() bool { return isOn(ctx, c, "f", "alice") })
	assert.Equal(t, of.ReadyState, c.State())
}

func TestFallbackFileServesColdStart(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	_, err := store.New(srv.Client(t)).Upsert(ctx, onFlag("f", "alice"))
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "flags.json")

	// A first process loads the flags and writes the file.
	first := provider.New(srv.Client(t), provider.WithFallbackFile(file))
	require.NoError(t, first.Init(of.EvaluationContext{}))
	first.Shutdown()
	srv.Kill()

	rdb := redis.NewClient(srv.Options())
	t.Cleanup(func() { _ = rdb.Close() })
	p := provider.New(rdb, provider.WithFallbackFile(file), provider.WithInitTimeout(200*time.Millisecond))
	t.Cleanup(p.Shutdown)
	domain := newDomain(t)
	c := of.NewClient(domain)
	events := watchEvents(c)
	require.NoError(t, of.SetNamedProviderAndWait(domain, p))
	assert.True(t, isOn(ctx, c, "f", "alice"), "served from the fallback file")
	events.waitFor(t, of.ProviderStale, 2*time.Second, nil)
	eventually(t, time.Second, "state is STALE", func() bool { return c.State() == of.StaleState })

	srv.Restart()
	_, err = store.New(srv.Client(t)).Upsert(ctx, onFlag("f", "bob"))
	require.NoError(t, err)
	events.waitFor(t, of.ProviderReady, 10*time.Second, nil)
	eventually(t, time.Second, "fresh flags served", func() bool { return isOn(ctx, c, "f", "bob") })
}

func TestLifecycle(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	_, err := store.New(rdb).Upsert(ctx, onFlag("f", "alice"))
	require.NoError(t, err)

	t.Run("shutdown twice, init after shutdown, no goroutine left", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		p := provider.New(rdb)
		require.NoError(t, p.Init(of.EvaluationContext{}))
		assert.True(t, p.BooleanEvaluation(ctx, "f", false, of.FlattenedContext{"targetingKey": "alice"}).Value)
		p.Shutdown()
		p.Shutdown()
		goleak.VerifyNone(t, before)
		require.NoError(t, p.Init(of.EvaluationContext{}))
		assert.True(t, p.BooleanEvaluation(ctx, "f", false, of.FlattenedContext{"targetingKey": "alice"}).Value)
		require.NoError(t, p.ShutdownWithContext(ctx))
		goleak.VerifyNone(t, before)
	})
	t.Run("one provider bound to several domains", func(t *testing.T) {
		p := provider.New(rdb)
		t.Cleanup(p.Shutdown)
		for range 3 {
			domain := newDomain(t)
			require.NoError(t, of.SetNamedProviderAndWait(domain, p))
			assert.True(t, isOn(ctx, of.NewClient(domain), "f", "alice"))
		}
	})
	t.Run("init honours its context", func(t *testing.T) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		p := provider.New(dead, provider.WithInitTimeout(time.Minute))
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := p.InitWithContext(cctx, of.EvaluationContext{})
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "err = %v", err)
		p.Shutdown()
	})
}
