// Package experiment analyses experiments on flags: per variant, the
// subjects exposed and converted, the conversion rate with a confidence
// interval, the difference to control with its p-value, and a
// sample-ratio-mismatch check of the exposures against the split's
// weights; and the guard of a progressive rollout, which advances a step
// only while the new variant's error rate does not exceed control's by a
// threshold with significance.
//
// The statistics are the textbook ones, computed with gonum's
// distributions (no hand-written distribution functions):
//
//   - rate interval: Wilson score interval;
//   - difference: two-proportion z-test with pooled variance (two-sided),
//     which equals Pearson's chi-square test of the 2×2 table without
//     continuity correction (R's prop.test(correct = FALSE));
//     its interval is the unpooled Wald interval;
//   - sample ratio mismatch: Pearson's chi-square goodness of fit of the
//     exposures against the weights, k−1 degrees of freedom;
//   - guard: one-sided z-test of H0: p_new − p_control ≤ threshold.
//
// Data comes from the tracking stream (exposures and tracking events) that
// the provider appends: see [FromEvents].
package experiment

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Arm is one variant's raw counts.
type Arm struct {
	Variant string
	// Exposed is the distinct subjects shown the variant.
	Exposed int64
	// Converted is the exposed subjects who sent the metric's event after
	// their exposure.
	Converted int64
	// Weight is the variant's share in the split (any scale; only ratios
	// matter); 0 when unknown.
	Weight float64
}

// Result is one variant's analysis.
type Result struct {
	Arm
	// Rate is Converted/Exposed; Low and High bound it (Wilson, at the
	// report's confidence).
	Rate, Low, High float64
	// Control is true for the variant the others are compared with.
	Control bool
	// Diff is Rate minus control's rate, DiffLow and DiffHigh its interval,
	// PValue the two-sided p-value of "no difference"; zero for control.
	Diff, DiffLow, DiffHigh, PValue float64
	// Significant is PValue < alpha.
	Significant bool
}

// SRM is the sample-ratio-mismatch check.
type SRM struct {
	// ChiSquare and PValue test the exposures against the weights.
	ChiSquare, PValue float64
	// Mismatch is PValue < SRMAlpha: the assignment is broken and the
	// comparison is not to be trusted.
	Mismatch bool
	// Checked is false when the weights were unknown.
	Checked bool
}

// SRMAlpha is the significance at which a sample ratio mismatch is
// reported: stricter than a comparison's, as is usual, since the check runs
// on every report.
const SRMAlpha = 0.001

// Report is an experiment's analysis.
type Report struct {
	Alpha   float64
	Results []Result
	SRM     SRM
}

// ErrNoControl is returned when the control variant has no exposures.
var ErrNoControl = errors.New("experiment: the control variant has no exposed subjects")

// Analyze compares every arm with the one named control at significance
// alpha (0.05 when 0). Arms keep their order.
func Analyze(arms []Arm, control string, alpha float64) (Report, error) {
	if alpha <= 0 || alpha >= 1 {
		alpha = 0.05
	}
	rep := Report{Alpha: alpha}
	var ctl *Arm
	for i := range arms {
		if arms[i].Converted > arms[i].Exposed || arms[i].Exposed < 0 || arms[i].Converted < 0 {
			return Report{}, fmt.Errorf("experiment: variant %q: %d conversions of %d exposed subjects", arms[i].Variant, arms[i].Converted, arms[i].Exposed)
		}
		if arms[i].Variant == control {
			ctl = &arms[i]
		}
	}
	if ctl == nil || ctl.Exposed == 0 {
		return Report{}, fmt.Errorf("%w (control %q)", ErrNoControl, control)
	}
	z := normal.Quantile(1 - alpha/2)
	for _, a := range arms {
		r := Result{Arm: a, Control: a.Variant == control}
		if a.Exposed > 0 {
			r.Rate = float64(a.Converted) / float64(a.Exposed)
			r.Low, r.High = Wilson(a.Converted, a.Exposed, z)
		}
		if !r.Control && a.Exposed > 0 {
			t := TwoProportions(ctl.Converted, ctl.Exposed, a.Converted, a.Exposed, z)
			r.Diff, r.DiffLow, r.DiffHigh, r.PValue = t.Diff, t.Low, t.High, t.PValue
			r.Significant = t.PValue < alpha
		}
		rep.Results = append(rep.Results, r)
	}
	rep.SRM = SampleRatio(arms)
	return rep, nil
}

var normal = distuv.UnitNormal

// Wilson returns the Wilson score interval of k successes in n trials at
// the normal quantile z (1.96 for 95 %).
func Wilson(k, n int64, z float64) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	nf, p := float64(n), float64(k)/float64(n)
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return max(0, center-half), min(1, center+half)
}

// Test is a comparison of two proportions.
type Test struct {
	// Diff is p2 − p1; Low and High its Wald interval at the quantile
	// given.
	Diff, Low, High float64
	// Z is the pooled z statistic; PValue its two-sided p-value.
	Z, PValue float64
}

// TwoProportions compares k2/n2 with k1/n1: the pooled two-proportion
// z-test (two-sided) and the unpooled interval of the difference at the
// normal quantile z. Both n must be positive.
func TwoProportions(k1, n1, k2, n2 int64, z float64) Test {
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	t := Test{Diff: p2 - p1, PValue: 1}
	pool := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se > 0 {
		t.Z = t.Diff / se
		t.PValue = 2 * normal.Survival(math.Abs(t.Z))
	}
	seu := math.Sqrt(p1*(1-p1)/float64(n1) + p2*(1-p2)/float64(n2))
	t.Low, t.High = t.Diff-z*seu, t.Diff+z*seu
	return t
}

// SampleRatio tests the arms' exposures against their weights (Pearson's
// chi-square goodness of fit). Arms without a weight make it unchecked.
func SampleRatio(arms []Arm) SRM {
	var total int64
	var wsum float64
	for _, a := range arms {
		if a.Weight <= 0 {
			return SRM{}
		}
		total += a.Exposed
		wsum += a.Weight
	}
	if len(arms) < 2 || total == 0 {
		return SRM{}
	}
	var chi float64
	for _, a := range arms {
		e := float64(total) * a.Weight / wsum
		d := float64(a.Exposed) - e
		chi += d * d / e
	}
	p := distuv.ChiSquared{K: float64(len(arms) - 1)}.Survival(chi)
	return SRM{ChiSquare: chi, PValue: p, Mismatch: p < SRMAlpha, Checked: true}
}
