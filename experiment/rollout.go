package experiment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/store"
)

// ReleaseRollout is the Rollout of a guarded rollout: a stepped progressive
// rollout of the release package (release.SetRollout, `redisflags rollout
// set … --steps`) whose steps the guard takes instead of the clock. Hold
// (called by Runner.Start) pauses it where it is; each Advance moves the
// next step to now, keeps the spacing of the steps after it, and pauses
// again there; RollBack ends it (release.RollbackBecause), serving the
// percent from before the rollout, with the guard's reason in the audit
// entry and in the change event the webhooks deliver. Every write is
// release's: one conditional write of the flag, audited under Actor.
type ReleaseRollout struct {
	Store             *store.Store
	Flag, Environment string
	// Actor names the writer in the audit log (default "guard").
	Actor string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ErrRampRollout is returned for a ramp: a guard takes steps, and a ramp
// has none.
var ErrRampRollout = errors.New("a ramp rollout cannot be guarded: give it steps (--steps)")

func (r *ReleaseRollout) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *ReleaseRollout) actor() string {
	if r.Actor == "" {
		return "guard"
	}
	return r.Actor
}

// current reads the flag's rollout in the environment.
func (r *ReleaseRollout) current(ctx context.Context) (*evaluator.Rollout, error) {
	f, err := r.Store.Get(ctx, r.Flag)
	if err != nil {
		return nil, err
	}
	env, ok := f.Environments[r.Environment]
	if !ok {
		return nil, fmt.Errorf("flag %q has no environment %q: %w", r.Flag, r.Environment, store.ErrNotFound)
	}
	if env.Rollout == nil {
		return nil, fmt.Errorf("flag %q, environment %q: %w", r.Flag, r.Environment, release.ErrNoRollout)
	}
	if env.Rollout.IsRamp() {
		return nil, fmt.Errorf("flag %q, environment %q: %w", r.Flag, r.Environment, ErrRampRollout)
	}
	return env.Rollout.Clone(), nil
}

// Hold pauses the rollout at the step it serves now, so that only the
// guard's decisions move it.
func (r *ReleaseRollout) Hold(ctx context.Context) error {
	if _, err := r.current(ctx); err != nil {
		return err
	}
	_, err := release.Pause(ctx, r.Store, r.Flag, r.Environment, r.actor(), r.now())
	return err
}

// Advance takes the next step now; done when no step is left after it.
func (r *ReleaseRollout) Advance(ctx context.Context) (bool, error) {
	ro, err := r.current(ctx)
	if err != nil {
		return false, err
	}
	now := r.now()
	// Where the rollout stands: at its pause, or now.
	at := now
	if ro.PausedAt != "" {
		if at, err = time.Parse(time.RFC3339Nano, ro.PausedAt); err != nil {
			return false, fmt.Errorf("flag %q: rollout.pausedAt: %w", r.Flag, err)
		}
	}
	next := -1
	for i, s := range ro.Steps {
		t, err := time.Parse(time.RFC3339Nano, s.At)
		if err != nil {
			return false, fmt.Errorf("flag %q: rollout.steps[%d].at: %w", r.Flag, i, err)
		}
		if t.After(at) {
			next = i
			break
		}
	}
	if next < 0 {
		return true, nil
	}
	first, _ := time.Parse(time.RFC3339Nano, ro.Steps[next].At)
	shift := now.Sub(first)
	for i := next; i < len(ro.Steps); i++ {
		t, _ := time.Parse(time.RFC3339Nano, ro.Steps[i].At)
		ro.Steps[i].At = t.Add(shift).UTC().Format(time.RFC3339Nano)
	}
	ro.PausedAt = now.UTC().Format(time.RFC3339Nano)
	if _, err := release.SetRollout(ctx, r.Store, r.Flag, r.Environment, r.actor(), *ro, now); err != nil {
		return false, err
	}
	return next == len(ro.Steps)-1, nil
}

// RollBack ends the rollout, serving the percent from before it.
func (r *ReleaseRollout) RollBack(ctx context.Context, reason string) error {
	ro, err := r.current(ctx)
	if err != nil {
		return err
	}
	_, err = release.RollbackBecause(ctx, r.Store, r.Flag, r.Environment, r.actor(), ro.From, "guard: "+reason)
	return err
}
