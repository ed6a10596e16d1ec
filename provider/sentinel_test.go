package provider_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// ackWriter upserts one flag over and over and checks, from the versions
// the store acknowledges, that no acknowledged write is lost: versions of
// one flag only grow, so an acknowledged version at or below the previous
// one means the writes in between were lost (a failover to a replica that
// had not received them).
type ackWriter struct {
	flag  string
	store *store.Store
	// confirm, when set, runs after each upsert; the write counts as
	// acknowledged only when it succeeds.
	confirm func(ctx context.Context) error

	// Written by run only; read after it returns.
	acked, failed, unconfirmed, lost int64
	lastErr                          error
	last                             int64     // last acknowledged version
	firstAfter                       time.Time // first acknowledgement after the primary died
	ackedBefore, ackedAfterReady     atomic.Int64
}

func (w *ackWriter) run(ctx context.Context, stop <-chan struct{}, killed, ready *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
		f := onFlag(w.flag, "alice")
		f.Description = "write " + strconv.Itoa(i)
		stored, err := w.store.Upsert(ctx, f)
		if err != nil {
			w.failed++
			w.lastErr = err
			continue
		}
		if w.confirm != nil {
			if err := w.confirm(ctx); err != nil {
				w.unconfirmed++
				w.lastErr = err
				continue
			}
		}
		w.acked++
		if stored.Version <= w.last {
			w.lost += w.last - stored.Version + 1
		}
		w.last = stored.Version
		if killed.Load() == 0 {
			w.ackedBefore.Add(1)
		} else if w.firstAfter.IsZero() {
			w.firstAfter = time.Now()
		}
		if ready.Load() != 0 {
			w.ackedAfterReady.Add(1)
		}
	}
}

// TestSentinelFailoverDuringLoad SIGKILLs the primary of a Sentinel setup
// (one replica, three sentinels, quorum 2, down-after 1 s) while eight
// goroutines evaluate and two writers upsert: the provider keeps serving
// its snapshot (STALE), follows the failover client to the promoted
// replica, reloads and is READY again, and serves later writes.
//
// Replication is asynchronous: a write the primary acknowledged just before
// it died may not have reached the replica. The "async" writer measures
// that as the store writes today; the "wait" writer confirms each write with
// WAIT 1 on the connection that wrote it (a pool of one), what a store
// option to wait for replicas would do, and must lose nothing.
func TestSentinelFailoverDuringLoad(t *testing.T) {
	sen := redistest.StartSentinel(t)
	ctx := t.Context()
	setup := sen.Client(t)
	for i := range 20 {
		_, err := store.New(setup).Upsert(ctx, onFlag(fmt.Sprintf("flag-%d", i), "alice"))
		require.NoError(t, err)
	}
	replica := sen.Replica.Client(t)
	eventually(t, 5*time.Second, "flags replicated", func() bool { return replica.SCard(ctx, "feature-flags:index").Val() == 20 })

	c := bind(t, provider.New(sen.Client(t), provider.WithResyncInterval(time.Hour)))
	events := watchEvents(c)
	direct := bind(t, provider.New(sen.Client(t), provider.WithDirectReads()))
	require.True(t, isOn(ctx, direct, "flag-1", "alice"))
	// The times of the first STALE and of the first READY after it.
	var staleAt, readyAt atomic.Int64
	onStale := func(of.EventDetails) { staleAt.CompareAndSwap(0, time.Now().UnixNano()) }
	onReady := func(of.EventDetails) {
		if staleAt.Load() != 0 {
			readyAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	}
	c.AddHandler(of.ProviderStale, &onStale)
	c.AddHandler(of.ProviderReady, &onReady)

	asyncW := &ackWriter{flag: "writer-async", store: store.New(sen.Client(t))}
	one := sen.FailoverOptions()
	one.PoolSize = 1 // WAIT counts the writes of its own connection
	wc := redis.NewFailoverClient(one)
	t.Cleanup(func() { _ = wc.Close() })
	waitW := &ackWriter{flag: "writer-wait", store: store.New(wc), confirm: func(ctx context.Context) error {
		n, err := wc.Wait(ctx, 1, 500*time.Millisecond).Result()
		if err == nil && n < 1 {
			err = fmt.Errorf("WAIT 1: %d replicas", n)
		}
		return err
	}}

	var killed, ready atomic.Int64 // unix nanoseconds, 0 until it happens
	load := startEvalLoad(ctx, c, 8)
	stop := load.stop
	var wg sync.WaitGroup
	for _, w := range []*ackWriter{asyncW, waitW} {
		wg.Go(func() { w.run(ctx, stop, &killed, &ready) })
	}
	stopAll := func() {
		load.halt()
		wg.Wait()
	}
	t.Cleanup(stopAll) // on an early failure

	waitAcks := func(what string, counter func(w *ackWriter) int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); counter(asyncW) < 5 || counter(waitW) < 5; {
			if time.Now().After(deadline) {
				stopAll()
				t.Fatalf("writers not acknowledged %s:\nasync: %+v %v\nwait: %+v %v", what, asyncW, asyncW.lastErr, waitW, waitW.lastErr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcks("before the kill", func(w *ackWriter) int64 { return w.ackedBefore.Load() })
	old := sen.Primary.Addr()
	start := time.Now()
	sen.Primary.Kill()
	killed.Store(time.Now().UnixNano()) // dead: an acknowledgement from now on comes from the new primary
	promoted := sen.WaitForFailover(t, old, 20*time.Second)
	failoverAfter := time.Since(start)
	assert.Equal(t, sen.Replica.Addr(), promoted)
	// STALE comes when the provider notices the lost connection: at once
	// when its subscription reads EOF, later when it was busy reloading and
	// its next read dials the dead primary (go-redis retries a failed dial
	// five times, 100 ms apart).
	eventually(t, 15*time.Second, "STALE, then READY after the failover", func() bool {
		return staleAt.Load() != 0 && readyAt.Load() != 0
	})
	staleAfter := time.Duration(staleAt.Load() - start.UnixNano())
	readyAfter := time.Duration(readyAt.Load() - start.UnixNano())
	ready.Store(time.Now().UnixNano())
	// The new primary has no replica: WAIT 1 cannot succeed until the old
	// primary comes back as one.
	sen.Rejoin(t, sen.Primary)
	rejoinedAfter := time.Since(start)
	waitAcks("after READY", func(w *ackWriter) int64 { return w.ackedAfterReady.Load() })
	time.Sleep(200 * time.Millisecond)
	stopAll()

	t.Logf("STALE %v, sentinels promoted the replica %v, provider READY %v, old primary back as a replica %v after SIGKILL",
		staleAfter, failoverAfter, readyAfter, rejoinedAfter)
	t.Logf("%d evaluations, %d failures", load.evals.Load(), load.failures.Load())
	for _, w := range []*ackWriter{asyncW, waitW} {
		got, err := store.New(setup).Get(ctx, w.flag)
		require.NoError(t, err)
		if got.Version < w.last {
			w.lost += w.last - got.Version
		}
		t.Logf("writer %s: %d acknowledged, %d failed, %d written but not confirmed, %d acknowledged writes lost; "+
			"first acknowledgement %v after SIGKILL; last acknowledged version %d, visible %d",
			w.flag, w.acked, w.failed, w.unconfirmed, w.lost, w.firstAfter.Sub(start), w.last, got.Version)
		assert.GreaterOrEqual(t, got.Version, w.last, "the last acknowledged version is visible")
	}
	assert.Zero(t, load.failures.Load(), "loaded flags keep answering through the failover")
	assert.Greater(t, load.evals.Load(), int64(1000))
	assert.Equal(t, 1, events.count(of.ProviderStale), "one outage, one STALE")
	assert.Zero(t, waitW.lost, "a write confirmed by WAIT 1 survives the failover")

	// Later writes are served, through the change notices on the new primary.
	_, err := store.New(setup).Upsert(ctx, onFlag("after-failover", "erin"))
	require.NoError(t, err)
	eventually(t, 2*time.Second, "write after the failover served", func() bool { return isOn(ctx, c, "after-failover", "erin") })
	eventually(t, 2*time.Second, "direct reads follow the new primary", func() bool { return isOn(ctx, direct, "after-failover", "erin") })
	for _, w := range []*ackWriter{asyncW, waitW} {
		d, err := c.BooleanValueDetails(ctx, w.flag, false, of.NewEvaluationContext("alice", nil))
		require.NoError(t, err)
		assert.True(t, d.Value)
	}
}

// TestSentinelFailoverLosesWritesTheReplicaMissed shows what asynchronous
// replication means for flags: the replica is cut off from the primary (its
// masterauth is made wrong and its link dropped, so it cannot resync — a
// network partition), the primary acknowledges upserts the replica never
// gets, and dies. The sentinels promote the replica: those acknowledged
// writes are gone, the provider serves the older definition again, and the
// version counter repeats numbers it had already handed out. A write
// confirmed with WAIT 1 is not acknowledged in that state: WAIT returns 0.
func TestSentinelFailoverLosesWritesTheReplicaMissed(t *testing.T) {
	sen := redistest.StartSentinel(t)
	ctx := t.Context()
	rdb := sen.Client(t)
	s := store.New(rdb)
	before, err := s.Upsert(ctx, onFlag("f", "alice"))
	require.NoError(t, err)
	replica := sen.Replica.Client(t)
	eventually(t, 5*time.Second, "replicated", func() bool {
		return replica.HGet(ctx, "feature-flags:flag:f", "version").Val() == "1"
	})
	c := bind(t, provider.New(sen.Client(t), provider.WithResyncInterval(time.Hour)))
	require.True(t, isOn(ctx, c, "f", "alice"))

	// Partition the replica.
	_, err = sen.Replica.Do(ctx, "CONFIG", "SET", "masterauth", "wrong")
	require.NoError(t, err)
	_, err = sen.Primary.Do(ctx, "CLIENT", "KILL", "TYPE", "replica")
	require.NoError(t, err)
	eventually(t, 5*time.Second, "replica cut off", func() bool {
		info, _ := sen.Primary.Do(ctx, "INFO", "replication")
		text, _ := info.(string)
		return strings.Contains(text, "connected_slaves:0")
	})

	// Acknowledged by the primary only.
	var acked int64
	for range 5 {
		stored, err := s.Upsert(ctx, onFlag("f", "bob"))
		require.NoError(t, err)
		acked = stored.Version
	}
	eventually(t, 2*time.Second, "provider serves bob", func() bool { return isOn(ctx, c, "f", "bob") })
	// The same write confirmed with WAIT on its own connection.
	one := sen.FailoverOptions()
	one.PoolSize = 1
	wc := redis.NewFailoverClient(one)
	t.Cleanup(func() { _ = wc.Close() })
	_, err = store.New(wc).Upsert(ctx, onFlag("f", "bob"))
	require.NoError(t, err)
	n, err := wc.Wait(ctx, 1, 200*time.Millisecond).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "WAIT 1 does not confirm a write the replica did not get")

	start := time.Now()
	sen.Primary.Kill()
	_, err = sen.Replica.Do(ctx, "CONFIG", "SET", "masterauth", "")
	require.NoError(t, err)
	sen.WaitForFailover(t, sen.Primary.Addr(), 20*time.Second)
	t.Logf("failover %v after SIGKILL", time.Since(start))

	got, err := store.New(sen.Client(t)).Get(ctx, "f")
	require.NoError(t, err)
	t.Logf("last acknowledged version %d, visible after failover %d: %d acknowledged writes lost", acked, got.Version, acked-got.Version)
	assert.Equal(t, before.Version, got.Version, "the writes the replica missed are lost")
	eventually(t, 15*time.Second, "provider back on the promoted replica's data", func() bool {
		return isOn(ctx, c, "f", "alice") && !isOn(ctx, c, "f", "bob")
	})
	next, err := store.New(sen.Client(t)).Upsert(ctx, onFlag("f", "carol"))
	require.NoError(t, err)
	assert.LessOrEqual(t, next.Version, acked, "a version number handed out before is handed out again")
}
