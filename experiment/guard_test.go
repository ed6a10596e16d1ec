package experiment_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/experiment"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/store"
)

func TestGuardDecide(t *testing.T) {
	g := experiment.Guard{Metric: "error", Control: "off", Candidate: "on", Threshold: 0.01, MinExposed: 100}
	tests := []struct {
		name      string
		ctl, cand experiment.Arm
		want      experiment.Action
	}{
		{"too few subjects holds", experiment.Arm{Exposed: 1000, Converted: 10}, experiment.Arm{Exposed: 99, Converted: 50}, experiment.Hold},
		{"equal rates advance", experiment.Arm{Exposed: 1000, Converted: 20}, experiment.Arm{Exposed: 1000, Converted: 20}, experiment.Advance},
		{"within the threshold advances", experiment.Arm{Exposed: 5000, Converted: 100}, experiment.Arm{Exposed: 5000, Converted: 140}, experiment.Advance},
		// 2 % vs 6 %: excess 0.03 over the threshold, se = sqrt(.02·.98/1000 + .06·.94/1000) = 0.008720,
		// z = 3.44, p = 2.9e-4.
		{"a clear regression rolls back", experiment.Arm{Exposed: 1000, Converted: 20}, experiment.Arm{Exposed: 1000, Converted: 60}, experiment.RollBack},
		// Over the threshold but not significantly (3 % vs 5 % on 200 each).
		{"an insignificant excess advances", experiment.Arm{Exposed: 200, Converted: 6}, experiment.Arm{Exposed: 200, Converted: 10}, experiment.Advance},
		{"no variance over the threshold rolls back", experiment.Arm{Exposed: 100, Converted: 0}, experiment.Arm{Exposed: 100, Converted: 100}, experiment.RollBack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := g.Decide(tt.ctl, tt.cand)
			require.Equal(t, tt.want, d.Action, d.Reason)
			require.NotEmpty(t, d.Reason)
		})
	}
	d := g.Decide(experiment.Arm{Exposed: 1000, Converted: 20}, experiment.Arm{Exposed: 1000, Converted: 60})
	require.InDelta(t, 3.4404, d.Z, 1e-3)
	require.Contains(t, d.Reason, `"error" rate 6.00% exceeds off's 2.00%`)
}

// rolloutTraffic evaluates the flag for n new subjects through c and, for
// each, tracks an "error" event with the probability of its variant.
func rolloutTraffic(t *testing.T, c *of.Client, from, n int, r *rand.Rand, errRate map[string]float64) {
	t.Helper()
	for i := from; i < from+n; i++ {
		ec := of.NewEvaluationContext(fmt.Sprintf("subject-%d", i), nil)
		d, err := c.BooleanValueDetails(t.Context(), "new-checkout", false, ec)
		require.NoError(t, err)
		if r.Float64() < errRate[d.Variant] {
			c.Track(t.Context(), "error", ec, of.TrackingEventDetails{})
		}
	}
}

// guardedRollout runs a guarded rollout of a tutorial flag through the
// steps 10, 25, 50, 100 % on a real redis-server: each evaluation window,
// 600 new subjects are evaluated through a provider (which records their
// exposures; the flag is an experiment) and their errors tracked, then the
// runner steps. It returns the decisions and how it ended.
func guardedRollout(t *testing.T, errRate map[string]float64) ([]experiment.Decision, experiment.Outcome, *store.Store) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb)
	_, err := st.Upsert(t.Context(), evaluator.Flag{Key: "new-checkout", DefaultEnabled: true,
		Metadata:     map[string]any{"experiment": true},
		Environments: map[string]evaluator.Environment{"production": {Enabled: true}}})
	require.NoError(t, err)
	// A release rollout: 10 % since a minute ago, then 25, 50 and 100 %
	// an hour apart; the guard holds it and takes the steps itself.
	start := time.Now().Add(-time.Minute)
	var steps []evaluator.RolloutStep
	for i, pct := range []int{10, 25, 50, 100} {
		steps = append(steps, evaluator.RolloutStep{At: start.Add(time.Duration(i) * time.Hour).UTC().Format(time.RFC3339Nano), Percent: pct})
	}
	_, err = release.SetRollout(t.Context(), st, "new-checkout", "production", "alice", evaluator.Rollout{From: 0, Steps: steps}, time.Now())
	require.NoError(t, err)
	p := provider.New(rdb)
	domain := t.Name()
	require.NoError(t, of.SetNamedProviderAndWait(domain, p))
	t.Cleanup(p.Shutdown)
	c := of.NewClient(domain)

	var decisions []experiment.Decision
	r := &experiment.Runner{Store: st, Flag: "new-checkout", Environment: "production",
		Guard:   experiment.Guard{Metric: "error", Control: "off", Candidate: "on", Threshold: 0.02, MinExposed: 30},
		Rollout: &experiment.ReleaseRollout{Store: st, Flag: "new-checkout", Environment: "production"},
		Notify:  func(d experiment.Decision) { decisions = append(decisions, d) }}
	require.NoError(t, r.Start(t.Context()))
	rng := rand.New(rand.NewPCG(7, 8))
	for window := 0; window < 10; window++ {
		before := p.TrackStats().Sent
		rolloutTraffic(t, c, window*600, 600, rng, errRate)
		// The window closes when what it produced is in the stream.
		queued := p.TrackStats()
		require.Zero(t, queued.Dropped)
		deadline := time.Now().Add(20 * time.Second)
		// (Queued counts the batch being appended too.)
		for p.TrackStats().Queued > 0 || p.TrackStats().Sent == before {
			require.True(t, time.Now().Before(deadline), "tracking events not sent")
			time.Sleep(5 * time.Millisecond)
		}
		_, out, err := r.Step(context.Background())
		require.NoError(t, err)
		if out != 0 {
			return decisions, out, st
		}
		// Let the provider see the new percentage before the next window.
		f, err := st.Get(t.Context(), "new-checkout")
		require.NoError(t, err)
		want := f.Environments["production"].RolloutPercent
		deadline = time.Now().Add(10 * time.Second)
		for {
			d, _ := c.BooleanValueDetails(t.Context(), "new-checkout", false, of.NewEvaluationContext("probe", nil))
			if v, _ := d.FlagMetadata["version"].(int64); v == f.Version || want == 0 {
				break
			}
			require.True(t, time.Now().Before(deadline), "the provider did not see step %d%%", want)
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Fatal("the rollout neither completed nor rolled back in 10 windows")
	return nil, 0, nil
}

// TestGuardedRolloutRollsBackARegression: the new variant fails 25 % of its
// subjects against control's 2 %: the first window's decision rolls back,
// and the flag is at 0 %.
func TestGuardedRolloutRollsBackARegression(t *testing.T) {
	decisions, out, st := guardedRollout(t, map[string]float64{"on": 0.25, "off": 0.02})
	require.Equal(t, experiment.RolledBack, out)
	require.Len(t, decisions, 1, "rolled back within one evaluation window")
	require.Equal(t, experiment.RollBack, decisions[0].Action)
	require.Contains(t, decisions[0].Reason, "exceeds")
	f, err := st.Get(t.Context(), "new-checkout")
	require.NoError(t, err)
	env := f.Environments["production"]
	require.Nil(t, env.Rollout, "the release rollout is over")
	require.Zero(t, env.RolloutPercent, "control for everyone")
	// The audit entry (and so the change event webhooks deliver) says why.
	entries, err := st.Audit(t.Context(), "new-checkout", 1)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	require.Equal(t, "guard", entries[0].Actor)
	require.Contains(t, entries[0].Note, "rolled back")
	require.Contains(t, entries[0].Note, "exceeds")
}

// TestGuardedRolloutCompletesWithoutRegression: with equal error rates the
// rollout takes every step to 100 %.
func TestGuardedRolloutCompletesWithoutRegression(t *testing.T) {
	decisions, out, st := guardedRollout(t, map[string]float64{"on": 0.02, "off": 0.02})
	require.Equal(t, experiment.Completed, out)
	require.Len(t, decisions, 3)
	for _, d := range decisions {
		require.Equal(t, experiment.Advance, d.Action, d.Reason)
	}
	f, err := st.Get(t.Context(), "new-checkout")
	require.NoError(t, err)
	require.Equal(t, 100, f.Environments["production"].RolloutPercent, "the last step, taken by the guard hours before its time")
}
