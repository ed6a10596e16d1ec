package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/redisflags/redisflags/experiment"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// guardOptions are the flags of "rollout guard".
type guardOptions struct {
	metric, control, candidate string
	threshold, alpha           float64
	minExposed                 int64
	window                     time.Duration
}

func (g *guardOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&g.metric, "metric", "", "guard: the tracking event that marks an error (required)")
	fs.StringVar(&g.control, "control", "", "guard: the control `variant` (default: off for a tutorial flag, else the default variant)")
	fs.StringVar(&g.candidate, "candidate", "", "guard: the new `variant` (default: on for a tutorial flag, else the rollout's variant)")
	fs.Float64Var(&g.threshold, "threshold", 0.01, "guard: the increase of the error rate tolerated, absolute (0.01 = one point)")
	fs.Float64Var(&g.alpha, "alpha", 0.05, "guard: the significance of a regression")
	fs.Int64Var(&g.minExposed, "min-exposed", 100, "guard: exposed subjects each variant needs before a decision")
	fs.DurationVar(&g.window, "window", time.Minute, "guard: the evaluation window (one decision per window)")
}

// runGuard is "rollout guard FLAG ENV": it holds the flag's stepped
// rollout in ENV and, every window, advances it a step while the error
// metric of the new variant does not exceed control's by the threshold
// with significance, or rolls it back (the audit entry and the change
// event say why). It returns when the rollout completes or is rolled back.
func runGuard(ctx context.Context, st *store.Store, flagKey, env, actor string, g guardOptions, stdout io.Writer) error {
	if g.metric == "" {
		return fmt.Errorf("rollout guard: --metric is required: %w", errUsage)
	}
	if g.alpha <= 0 || g.alpha >= 0.5 {
		return fmt.Errorf("rollout guard: --alpha %g: want a level between 0 and 0.5", g.alpha)
	}
	f, err := st.Get(ctx, flagKey)
	if err != nil {
		return fmt.Errorf("flag %q: %w", flagKey, err)
	}
	if v, _ := f.Metadata[provider.ExperimentMetadataKey].(bool); !v {
		return fmt.Errorf("flag %q has no metadata \"experiment\": true, so providers record no exposures for it and the guard would never decide", flagKey)
	}
	if g.control == "" {
		g.control = defaultControl(f)
	}
	if g.candidate == "" {
		g.candidate = provider.VariantOn
		if e := f.Environments[env]; f.IsVariantFlag() && e.Rollout != nil {
			g.candidate = e.Rollout.Variant
		}
	}
	r := &experiment.Runner{Store: st, Flag: flagKey, Environment: env, Window: g.window,
		Guard: experiment.Guard{Metric: g.metric, Control: g.control, Candidate: g.candidate,
			Threshold: g.threshold, Alpha: g.alpha, MinExposed: g.minExposed},
		Rollout: &experiment.ReleaseRollout{Store: st, Flag: flagKey, Environment: env, Actor: actor},
		Notify: func(d experiment.Decision) {
			fmt.Fprintf(stdout, "%s %s: %s\n", time.Now().UTC().Format(time.RFC3339), flagKey, d.Reason)
		}}
	fmt.Fprintf(stdout, "guarding the rollout of %s in %s: %q of %s against %s, every %s\n", flagKey, env, g.metric, g.candidate, g.control, g.window)
	out, err := r.Run(ctx)
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(stdout, "stopped; the rollout stays paused where the guard left it (rollout resume to let the clock go on)")
		return nil
	case err != nil:
		return err
	case out == experiment.RolledBack:
		fmt.Fprintf(stdout, "rolled back %s in %s\n", flagKey, env)
	default:
		fmt.Fprintf(stdout, "completed the rollout of %s in %s\n", flagKey, env)
	}
	return nil
}
