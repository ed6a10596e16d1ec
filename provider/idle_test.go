package provider_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// processCPU is the CPU time this process has used, user and system.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Issue 18: with nothing changing, a provider over 100,000 flags (× 3
// environments) costs Redis at most 50 commands per second and the process
// at most 1 % of a core, over 60 s of idleness, with the default options:
// the paced resync (40 commands/s) runs in that time and is counted. A raw
// HSET by another client, which publishes no change notice, is served
// within the README's bound for client tracking (1 s on a loaded machine;
// milliseconds when idle), with keyspace notifications off so that
// tracking alone tells it. REDISFLAGS_IDLE_ALL=1 also measures the
// provider without tracking (the sweep alone).
func TestIdleCost(t *testing.T) {
	if raceEnabled {
		t.Skip("TestIdleCost measures CPU time, which the race detector multiplies: .ci/run runs it without -race")
	}
	const (
		flags = 100_000
		idle  = 60 * time.Second
		// The README's bound ("Freshness") for a raw write with tracking.
		rawBound = time.Second
	)
	srv := redistest.Start(t)
	admin := srv.BulkClient(t)
	ctx := context.Background()
	require.NoError(t, admin.ConfigSet(ctx, "notify-keyspace-events", "").Err())
	writeManyFlags(t, admin, flags, 3)

	variants := []struct {
		name     string
		opts     []provider.Option
		tracking bool
	}{
		{"defaults", nil, true},
		{"no-tracking", []provider.Option{provider.WithClientTracking(false)}, false},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if !v.tracking && os.Getenv("REDISFLAGS_IDLE_ALL") == "" {
				t.Skip("REDISFLAGS_IDLE_ALL=1 measures the provider without client tracking too")
			}
			p := provider.New(srv.BulkClient(t), append([]provider.Option{provider.WithInitTimeout(5 * time.Minute)}, v.opts...)...)
			start := time.Now()
			require.NoError(t, p.Init(of.EvaluationContext{}))
			t.Logf("Init of %d flags: %v", flags, time.Since(start).Round(time.Millisecond))
			t.Cleanup(p.Shutdown)

			ec := of.FlattenedContext{"targetingKey": "user-1", "environment": "env-0"}
			const raw = "flag-050000"
			require.True(t, p.BooleanEvaluation(ctx, raw, false, ec).Value, "user-1 is allowlisted in env-0")

			// The window opens a few seconds after Init: collecting the
			// load's garbage is the cold start's cost, not idleness'.
			time.Sleep(5 * time.Second)
			before, cpuBefore := redistest.CommandCalls(t, admin), processCPU(t)
			began := time.Now()
			time.Sleep(idle / 2)
			// A raw write, as the tutorial's application or redis-cli makes
			// it: no change notice.
			require.NoError(t, admin.HSet(ctx, "feature-flags:flag:"+raw+":environment:env-0", "enabled", "false").Err())
			wrote := time.Now()
			var served time.Duration
			for served == 0 && time.Since(wrote) < 5*time.Second {
				if !p.BooleanEvaluation(ctx, raw, true, ec).Value {
					served = time.Since(wrote)
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(idle - time.Since(began))
			elapsed := time.Since(began)
			cpu := processCPU(t) - cpuBefore
			after := redistest.CommandCalls(t, admin)

			var total int64
			var byName []string
			for name, n := range after {
				d := n - before[name]
				switch name {
				case "info": // the test's own first INFO
					d--
				case "hset": // the test's raw write
					d--
				}
				if d > 0 {
					total += d
					byName = append(byName, name+"="+strconv.FormatInt(d, 10))
				}
			}
			slices.Sort(byName)
			perSecond := float64(total) / elapsed.Seconds()
			cpuShare := cpu.Seconds() / elapsed.Seconds()
			t.Logf("%d flags × 3 environments, %v idle: %d Redis commands (%.1f/s: %s), process CPU %v (%.2f %% of a core); raw HSET served after %v",
				flags, elapsed.Round(time.Millisecond), total, perSecond, strings.Join(byName, " "), cpu.Round(time.Millisecond), 100*cpuShare, served)

			require.LessOrEqual(t, perSecond, 50.0, "an idle provider asks Redis for at most 50 commands/s")
			require.Greater(t, total, int64(100), "the paced resync ran in the window (it starts 30 s after the load)")
			require.LessOrEqual(t, cpuShare, 0.01, "an idle provider uses at most 1 % of a core")
			if v.tracking {
				require.NotZero(t, served, "the raw HSET was not served within 5 s")
				require.LessOrEqual(t, served, rawBound, "a raw HSET is served within the README's bound for client tracking")
			}
			// Put the flag back for the next variant.
			require.NoError(t, admin.HSet(ctx, "feature-flags:flag:"+raw+":environment:env-0", "enabled", "true").Err())
		})
	}
}
