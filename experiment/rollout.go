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
// again there; RollBack ends it, serving the percent from before the
// rollout, with the guard's reason in the audit entry and in the change
// event the webhooks deliver. Each is one release.EditRollout: the
// decision is made on the data its conditional write checks, so a change
// someone makes meanwhile (a rollback by hand) is never undone.
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
	if err := guardable(env.Rollout); err != nil {
		return nil, fmt.Errorf("flag %q, environment %q: %w", r.Flag, r.Environment, err)
	}
	return env.Rollout.Clone(), nil
}

// guardable says why a guard cannot drive ro, or nil.
func guardable(ro *evaluator.Rollout) error {
	switch {
	case ro == nil:
		return release.ErrNoRollout
	case ro.IsRamp():
		return ErrRampRollout
	}
	return nil
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

// errNoStepLeft ends an Advance that has nothing to write.
var errNoStepLeft = errors.New("no step left")

// Advance takes the next step now; done when no step is left after it. The
// decision where the rollout stands is made inside release.EditRollout's
// attempt, on the data its conditional write checks.
func (r *ReleaseRollout) Advance(ctx context.Context) (bool, error) {
	now := r.now()
	done := false
	_, err := release.EditRollout(ctx, r.Store, r.Flag, r.Environment, r.actor(), "rollout step taken by the guard", func(e *evaluator.Environment, variant bool) error {
		ro := e.Rollout
		if err := guardable(ro); err != nil {
			return err
		}
		// Where the rollout stands: at its pause, or now.
		at := now
		if ro.PausedAt != "" {
			var err error
			if at, err = time.Parse(time.RFC3339Nano, ro.PausedAt); err != nil {
				return fmt.Errorf("rollout.pausedAt: %w", err)
			}
		}
		next := -1
		for i, s := range ro.Steps {
			t, err := time.Parse(time.RFC3339Nano, s.At)
			if err != nil {
				return fmt.Errorf("rollout.steps[%d].at: %w", i, err)
			}
			if t.After(at) {
				next = i
				break
			}
		}
		if next < 0 {
			return errNoStepLeft
		}
		first, _ := time.Parse(time.RFC3339Nano, ro.Steps[next].At)
		shift := now.Sub(first)
		for i := next; i < len(ro.Steps); i++ {
			t, _ := time.Parse(time.RFC3339Nano, ro.Steps[i].At)
			ro.Steps[i].At = t.Add(shift).UTC().Format(time.RFC3339Nano)
		}
		ro.PausedAt = now.UTC().Format(time.RFC3339Nano)
		if !variant {
			c, err := evaluator.CompileRollout(ro)
			if err != nil {
				return err
			}
			e.RolloutPercent = c.PercentAt(now)
		}
		done = next == len(ro.Steps)-1
		return nil
	})
	if errors.Is(err, errNoStepLeft) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return done, nil
}

// RollBack ends the rollout, serving the percent from before it (decided,
// as Advance, on the data the conditional write checks).
func (r *ReleaseRollout) RollBack(ctx context.Context, reason string) error {
	_, err := release.EditRollout(ctx, r.Store, r.Flag, r.Environment, r.actor(), "rollout rolled back (guard: "+reason+")", func(e *evaluator.Environment, variant bool) error {
		if e.Rollout == nil {
			return release.ErrNoRollout
		}
		from := e.Rollout.From
		e.Rollout = nil
		if !variant {
			e.RolloutPercent = from
		}
		return nil
	})
	return err
}
