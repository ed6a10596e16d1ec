package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/redisflags/redisflags/store"
)

// Guard is the rule of a guarded rollout: the candidate variant's rate of
// an error metric may exceed control's by at most Threshold.
type Guard struct {
	// Metric is the tracking event that marks an error (a subject who sent
	// it after its exposure counts as failed).
	Metric string
	// Control and Candidate are the variants compared ("off" and "on" for
	// a tutorial flag's rollout).
	Control, Candidate string
	// Threshold is the increase of the error rate tolerated, absolute
	// (0.01 = one percentage point).
	Threshold float64
	// Alpha is the significance of a regression (default 0.05).
	Alpha float64
	// MinExposed is the exposed subjects each arm needs before a decision
	// (default 100): before it the guard holds.
	MinExposed int64
}

// Action is what a guard decides.
type Action int

// The guard's actions.
const (
	// Hold: not enough data yet; evaluate again after another window.
	Hold Action = iota
	// Advance: no significant regression; the rollout may take its next step.
	Advance
	// RollBack: the candidate's error rate exceeds control's by more than
	// the threshold, significantly.
	RollBack
)

func (a Action) String() string {
	switch a {
	case Advance:
		return "advance"
	case RollBack:
		return "roll back"
	default:
		return "hold"
	}
}

// Decision is a guard's verdict with its evidence.
type Decision struct {
	Action Action
	// Reason says why, in a sentence for a notification.
	Reason             string
	Control, Candidate Arm
	// Z and PValue test H0: candidate rate − control rate ≤ threshold.
	Z, PValue float64
}

// Decide applies the guard to the two arms: a one-sided z-test (unpooled
// variance) of H0: p_candidate − p_control ≤ Threshold. It rolls back when
// H0 is rejected at Alpha, holds while an arm has fewer than MinExposed
// subjects, and advances otherwise. Pure: no I/O, no clock.
func (g Guard) Decide(control, candidate Arm) Decision {
	alpha := g.Alpha
	if alpha <= 0 || alpha >= 1 {
		alpha = 0.05
	}
	minN := g.MinExposed
	if minN <= 0 {
		minN = 100
	}
	d := Decision{Control: control, Candidate: candidate, PValue: 1}
	if control.Exposed < minN || candidate.Exposed < minN {
		d.Action = Hold
		d.Reason = fmt.Sprintf("waiting for %d exposed subjects per variant (%s: %d, %s: %d)",
			minN, g.Control, control.Exposed, g.Candidate, candidate.Exposed)
		return d
	}
	pc := float64(control.Converted) / float64(control.Exposed)
	pn := float64(candidate.Converted) / float64(candidate.Exposed)
	se := math.Sqrt(pc*(1-pc)/float64(control.Exposed) + pn*(1-pn)/float64(candidate.Exposed))
	excess := pn - pc - g.Threshold
	switch {
	case se > 0:
		d.Z = excess / se
		d.PValue = distuv.UnitNormal.Survival(d.Z)
	case excess > 0:
		d.Z, d.PValue = math.Inf(1), 0 // no variance and over the threshold: certain
	}
	if d.PValue < alpha {
		d.Action = RollBack
		d.Reason = fmt.Sprintf("%s's %q rate %.2f%% exceeds %s's %.2f%% by more than %.2f points (p = %.3g < %g)",
			g.Candidate, g.Metric, 100*pn, g.Control, 100*pc, 100*g.Threshold, d.PValue, alpha)
		return d
	}
	d.Action = Advance
	d.Reason = fmt.Sprintf("%s's %q rate %.2f%% is within %.2f points of %s's %.2f%% (p = %.3g)",
		g.Candidate, g.Metric, 100*pn, 100*g.Threshold, g.Control, 100*pc, d.PValue)
	return d
}

// Rollout is what a guard drives: the steps of a progressive rollout.
type Rollout interface {
	// Advance takes the next step; done is true when the rollout is
	// complete (no step left).
	Advance(ctx context.Context) (done bool, err error)
	// RollBack returns every subject to control, saying why.
	RollBack(ctx context.Context, reason string) error
}

// Outcome is how a guarded rollout ended.
type Outcome int

// The outcomes of Runner.Run.
const (
	Completed Outcome = iota + 1
	RolledBack
)

// Runner evaluates a guard every Window on the tracking stream and drives
// a Rollout by its decisions.
type Runner struct {
	Store *store.Store
	// Flag and Environment select the exposures (Environment "" for any).
	Flag, Environment string
	Guard             Guard
	Rollout           Rollout
	// Window is the evaluation window (default one minute).
	Window time.Duration
	// Notify, if set, is told every decision.
	Notify func(Decision)

	cursor string
	events []store.TrackedEvent
}

// MaxRunnerEvents bounds the events a runner keeps (exposures and metric
// events since the rollout started); beyond it the oldest are dropped.
const MaxRunnerEvents = 2_000_000

// Step reads the stream entries added since the last step, decides on
// everything since the rollout started (the first Step), and acts: it
// advances or rolls back the rollout, or holds. It returns the decision
// and whether the rollout is over (completed or rolled back).
func (r *Runner) Step(ctx context.Context) (Decision, Outcome, error) {
	evs, cursor, err := ReadEvents(ctx, r.Store, r.cursor)
	if err != nil {
		return Decision{}, 0, err
	}
	r.cursor = cursor
	for _, e := range evs {
		if (e.Kind == store.EventExposure && e.Flag == r.Flag) || (e.Kind == store.EventTrack && e.Name == r.Guard.Metric) {
			r.events = append(r.events, e)
		}
	}
	if over := len(r.events) - MaxRunnerEvents; over > 0 {
		r.events = r.events[over:]
	}
	var ctl, cand Arm
	for _, a := range FromEvents(r.events, r.Flag, r.Environment, r.Guard.Metric) {
		switch a.Variant {
		case r.Guard.Control:
			ctl = a
		case r.Guard.Candidate:
			cand = a
		}
	}
	d := r.Guard.Decide(ctl, cand)
	if r.Notify != nil {
		r.Notify(d)
	}
	switch d.Action {
	case RollBack:
		if err := r.Rollout.RollBack(ctx, d.Reason); err != nil {
			return d, 0, fmt.Errorf("experiment: roll back %s: %w", r.Flag, err)
		}
		return d, RolledBack, nil
	case Advance:
		done, err := r.Rollout.Advance(ctx)
		if err != nil {
			return d, 0, fmt.Errorf("experiment: advance %s: %w", r.Flag, err)
		}
		if done {
			return d, Completed, nil
		}
	}
	return d, 0, nil
}

// Start skips the stream entries already there: the rollout's data begins
// now. A Rollout that moves by itself (a ReleaseRollout: steps at times)
// is held first, so that only the guard's decisions move it. Call Start
// before the first step.
func (r *Runner) Start(ctx context.Context) error {
	if h, ok := r.Rollout.(interface{ Hold(context.Context) error }); ok {
		if err := h.Hold(ctx); err != nil {
			return fmt.Errorf("experiment: hold the rollout of %s: %w", r.Flag, err)
		}
	}
	id, err := r.Store.LastEventID(ctx)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	r.cursor, r.events = id, nil
	return nil
}

// Run starts and steps every Window until the rollout completes or rolls
// back, or ctx ends.
func (r *Runner) Run(ctx context.Context) (Outcome, error) {
	w := r.Window
	if w <= 0 {
		w = time.Minute
	}
	if err := r.Start(ctx); err != nil {
		return 0, err
	}
	tick := time.NewTicker(w)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		_, out, err := r.Step(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			return 0, err
		}
		if out != 0 {
			return out, nil
		}
	}
}
