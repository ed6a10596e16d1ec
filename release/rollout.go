package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// The Go API of progressive rollouts, for people and for guarded rollouts
// (a watcher that pauses or rolls back a rollout when its metrics go
// wrong). Each call is one conditional write (store.IfVersion) of the flag,
// audited under the actor, retried when the flag changed meanwhile.

// ErrNoRollout is returned when the environment has no progressive rollout.
var ErrNoRollout = errors.New("the environment has no progressive rollout")

// SetRollout starts (or replaces) a progressive rollout of flag in env.
// On a tutorial flag rolloutPercent is set to the rollout's percent now, so
// that readers of the tutorial's fields agree from the first instant.
func SetRollout(ctx context.Context, st *store.Store, flag, env, actor string, r evaluator.Rollout, now time.Time) (evaluator.Flag, error) {
	return editRollout(ctx, st, flag, env, actor, "rollout set", func(e *evaluator.Environment, variant bool) error {
		e.Rollout = r.Clone()
		if !variant {
			c, err := evaluator.CompileRollout(e.Rollout)
			if err != nil {
				return err
			}
			e.RolloutPercent = c.PercentAt(now)
		}
		return nil
	})
}

// Pause freezes the rollout of flag in env at the percent it serves at
// now; [Resume] continues it.
func Pause(ctx context.Context, st *store.Store, flag, env, actor string, now time.Time) (evaluator.Flag, error) {
	return editRollout(ctx, st, flag, env, actor, "rollout paused", func(e *evaluator.Environment, _ bool) error {
		if e.Rollout == nil {
			return ErrNoRollout
		}
		if e.Rollout.PausedAt == "" {
			e.Rollout.PausedAt = now.UTC().Format(time.RFC3339Nano)
		}
		return nil
	})
}

// Resume continues a paused rollout from where it stopped: every instant of
// the rollout still ahead at the pause moves later by the time it was
// paused, so nothing jumps.
func Resume(ctx context.Context, st *store.Store, flag, env, actor string, now time.Time) (evaluator.Flag, error) {
	return editRollout(ctx, st, flag, env, actor, "rollout resumed", func(e *evaluator.Environment, _ bool) error {
		r := e.Rollout
		if r == nil {
			return ErrNoRollout
		}
		if r.PausedAt == "" {
			return nil
		}
		paused, err := time.Parse(time.RFC3339Nano, r.PausedAt)
		if err != nil {
			return fmt.Errorf("rollout.pausedAt: %w", err)
		}
		d := now.Sub(paused)
		shift := func(s string) string {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !t.After(paused) {
				return s
			}
			return t.Add(d).UTC().Format(time.RFC3339Nano)
		}
		if r.IsRamp() {
			if start, err := time.Parse(time.RFC3339Nano, r.Start); err == nil && start.Before(paused) {
				// Mid-ramp: move the whole ramp, so the percent reached stays.
				r.Start = start.Add(d).UTC().Format(time.RFC3339Nano)
				r.End = shiftAll(r.End, d)
			} else {
				r.Start, r.End = shift(r.Start), shift(r.End)
			}
		}
		for i := range r.Steps {
			r.Steps[i].At = shift(r.Steps[i].At)
		}
		r.PausedAt = ""
		return nil
	})
}

func shiftAll(s string, d time.Duration) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Add(d).UTC().Format(time.RFC3339Nano)
}

// Rollback ends the rollout of flag in env and serves percent from now on
// (rolloutPercent of a tutorial flag; a variant flag's subjects all go back
// to its split or default variant, whatever percent says). The only way a
// rollout goes down.
func Rollback(ctx context.Context, st *store.Store, flag, env, actor string, percent int) (evaluator.Flag, error) {
	return RollbackBecause(ctx, st, flag, env, actor, percent, "")
}

// RollbackBecause is Rollback with the reason recorded in the audit entry's
// note (and so in the change event webhooks deliver), as a guarded
// rollout's guard gives it.
func RollbackBecause(ctx context.Context, st *store.Store, flag, env, actor string, percent int, reason string) (evaluator.Flag, error) {
	note := "rollout rolled back"
	if reason != "" {
		note += " (" + reason + ")"
	}
	return editRollout(ctx, st, flag, env, actor, note, func(e *evaluator.Environment, variant bool) error {
		if e.Rollout == nil {
			return ErrNoRollout
		}
		e.Rollout = nil
		if !variant {
			e.RolloutPercent = percent
		}
		return nil
	})
}

// EditRollout is the conditional, audited write every rollout change here
// makes, for a caller that decides on the environment it edits (a guard):
// edit sees the environment as read by the same attempt whose conditional
// write (store.IfVersion) stores it, so a change made meanwhile by someone
// else is never overwritten (the attempt is retried on the new data).
// variant says whether the flag is a variant flag; note goes to the audit
// entry, followed by " in ENV".
func EditRollout(ctx context.Context, st *store.Store, flag, env, actor, note string, edit func(e *evaluator.Environment, variant bool) error) (evaluator.Flag, error) {
	return editRollout(ctx, st, flag, env, actor, note, edit)
}

func editRollout(ctx context.Context, st *store.Store, flag, env, actor, note string, edit func(*evaluator.Environment, bool) error) (evaluator.Flag, error) {
	for range 8 {
		f, err := st.Get(ctx, flag)
		if err != nil {
			return evaluator.Flag{}, err
		}
		e, ok := f.Environments[env]
		if !ok {
			return evaluator.Flag{}, fmt.Errorf("flag %q has no environment %q: %w", flag, env, store.ErrNotFound)
		}
		if err := edit(&e, f.IsVariantFlag()); err != nil {
			return evaluator.Flag{}, fmt.Errorf("flag %q, environment %q: %w", flag, env, err)
		}
		f.Environments[env] = e
		stored, err := st.Upsert(ctx, f, store.IfVersion(f.Version), store.Actor(actor), store.Note(note+" in "+env))
		if errors.Is(err, store.ErrVersionMismatch) {
			continue
		}
		return stored, err
	}
	return evaluator.Flag{}, fmt.Errorf("flag %q: %w", flag, store.ErrConflict)
}
