package experiment

import (
	"context"
	"fmt"

	"github.com/redisflags/redisflags/store"
)

// PercentRollout is a Rollout over a tutorial flag's rolloutPercent in one
// environment: each Advance sets the next of Steps, RollBack sets 0. It is
// the stand-in until the guard drives the release package's progressive
// rollouts. Writes go through store.Upsert (validated, atomic, audited
// with Actor).
type PercentRollout struct {
	Store             *store.Store
	Flag, Environment string
	// Steps are the percentages in order, ending with 100.
	Steps []int
	// Actor names the writer in the audit log (default "guard").
	Actor string

	next int
}

// Advance sets the next step's percentage; done after the last.
func (r *PercentRollout) Advance(ctx context.Context) (bool, error) {
	if r.next >= len(r.Steps) {
		return true, nil
	}
	if err := r.set(ctx, r.Steps[r.next]); err != nil {
		return false, err
	}
	r.next++
	return r.next >= len(r.Steps), nil
}

// RollBack sets the percentage to 0.
func (r *PercentRollout) RollBack(ctx context.Context, reason string) error {
	return r.set(ctx, 0)
}

func (r *PercentRollout) set(ctx context.Context, percent int) error {
	f, err := r.Store.Get(ctx, r.Flag)
	if err != nil {
		return err
	}
	env, ok := f.Environments[r.Environment]
	if !ok {
		return fmt.Errorf("flag %q has no environment %q", r.Flag, r.Environment)
	}
	env.RolloutPercent = percent
	f.Environments[r.Environment] = env
	actor := r.Actor
	if actor == "" {
		actor = "guard"
	}
	_, err = r.Store.Upsert(ctx, f, store.Actor(actor))
	return err
}
