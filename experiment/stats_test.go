package experiment_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/experiment"
)

// TestKnownAnswers checks the statistics against results computed by hand
// (and matching R's prop.test(c(100, 130), c(1000, 1000), correct = FALSE):
// X-squared = 4.4211, p-value = 0.03550).
//
//	pooled p = 230/2000 = 0.115
//	se = sqrt(0.115 · 0.885 · (1/1000 + 1/1000)) = 0.0142671
//	z = 0.03 / 0.0142671 = 2.10274, z² = 4.42151, two-sided p = 2·(1 − Φ(2.10274)) = 0.035489
//	Wald se = sqrt(0.1·0.9/1000 + 0.13·0.87/1000) = 0.0142513
//	95 % interval of the difference: 0.03 ± 1.959964 · 0.0142513 = [0.002068, 0.057932]
//	Wilson 95 % for 100/1000: center 0.1015305, half 0.0186223 → [0.082908, 0.120153]
func TestKnownAnswers(t *testing.T) {
	rep, err := experiment.Analyze([]experiment.Arm{
		{Variant: "control", Exposed: 1000, Converted: 100, Weight: 1},
		{Variant: "treatment", Exposed: 1000, Converted: 130, Weight: 1},
	}, "control", 0.05)
	require.NoError(t, err)
	ctl, trt := rep.Results[0], rep.Results[1]
	require.True(t, ctl.Control)
	require.InDelta(t, 0.1, ctl.Rate, 1e-12)
	require.InDelta(t, 0.082908, ctl.Low, 5e-6)
	require.InDelta(t, 0.120153, ctl.High, 5e-6)
	require.InDelta(t, 0.03, trt.Diff, 1e-12)
	require.InDelta(t, 0.035489, trt.PValue, 5e-6)
	require.InDelta(t, 0.002068, trt.DiffLow, 5e-6)
	require.InDelta(t, 0.057932, trt.DiffHigh, 5e-6)
	require.True(t, trt.Significant)

	test := experiment.TwoProportions(100, 1000, 130, 1000, 1.959964)
	require.InDelta(t, 4.4215, test.Z*test.Z, 5e-4)

	// SRM by hand: 5100 vs 4900 against 50/50: χ² = 2 · 100²/5000 = 4,
	// p = P(χ²₁ > 4) = 0.0455003 — not below 0.001, so no mismatch.
	srm := experiment.SampleRatio([]experiment.Arm{{Exposed: 5100, Weight: 50}, {Exposed: 4900, Weight: 50}})
	require.True(t, srm.Checked)
	require.InDelta(t, 4.0, srm.ChiSquare, 1e-12)
	require.InDelta(t, 0.0455003, srm.PValue, 5e-7)
	require.False(t, srm.Mismatch)
	// Three arms, 20/30/50 weights, 250/300/450 exposed: expected
	// 200/300/500, χ² = 2500/200 + 0 + 2500/500 = 17.5, p = e^(−17.5/2) = 1.5846e-4
	// (χ² with 2 degrees of freedom has survival e^(−x/2)): a mismatch.
	srm = experiment.SampleRatio([]experiment.Arm{{Exposed: 250, Weight: 20}, {Exposed: 300, Weight: 30}, {Exposed: 450, Weight: 50}})
	require.InDelta(t, 17.5, srm.ChiSquare, 1e-12)
	require.InDelta(t, math.Exp(-17.5/2), srm.PValue, 1e-9)
	require.True(t, srm.Mismatch)
}

// TestBadCounts: more conversions than exposures, or no control, is an
// error naming the variant.
func TestBadCounts(t *testing.T) {
	_, err := experiment.Analyze([]experiment.Arm{{Variant: "a", Exposed: 1, Converted: 2}}, "a", 0)
	require.ErrorContains(t, err, `"a"`)
	_, err = experiment.Analyze([]experiment.Arm{{Variant: "a", Exposed: 1}}, "b", 0)
	require.ErrorIs(t, err, experiment.ErrNoControl)
}

func simulateArm(r *rand.Rand, n int, p float64) int64 {
	var k int64
	for range n {
		if r.Float64() < p {
			k++
		}
	}
	return k
}

// TestAATestRejectsAboutFivePercent simulates 1,000 A/A experiments (both
// arms converting at 10 %, 2,000 subjects each) and checks that the test at
// α = 0.05 rejects about 5 % of them: within 3 % – 7 %, about three
// standard deviations of a binomial(1000, 0.05). Seeded, so deterministic.
func TestAATestRejectsAboutFivePercent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const runs, n = 1000, 2000
	rejected := 0
	for range runs {
		rep, err := experiment.Analyze([]experiment.Arm{
			{Variant: "a", Exposed: n, Converted: simulateArm(r, n, 0.1), Weight: 1},
			{Variant: "b", Exposed: n, Converted: simulateArm(r, n, 0.1), Weight: 1},
		}, "a", 0.05)
		require.NoError(t, err)
		if rep.Results[1].Significant {
			rejected++
		}
	}
	rate := float64(rejected) / runs
	t.Logf("A/A: %d of %d rejected (%.1f %%)", rejected, runs, 100*rate)
	require.InDelta(t, 0.05, rate, 0.02)
}

// TestAATestPowerAgainstARealDifference: the same test finds a real lift
// (10 % → 13 %) most of the time, so the A/A result is not a test that
// never rejects.
func TestAATestPowerAgainstARealDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	rejected := 0
	for range 200 {
		rep, err := experiment.Analyze([]experiment.Arm{
			{Variant: "a", Exposed: 2000, Converted: simulateArm(r, 2000, 0.10)},
			{Variant: "b", Exposed: 2000, Converted: simulateArm(r, 2000, 0.13)},
		}, "a", 0.05)
		require.NoError(t, err)
		if rep.Results[1].Significant {
			rejected++
		}
	}
	require.Greater(t, rejected, 150, "power ≈ 0.88 for this lift and size")
}

// TestSeededSRMDetected assigns 10,000 subjects with a broken 52/48
// assignment to a split declared 50/50 and expects a mismatch; a correct
// 50/50 assignment of the same size must not be reported.
func TestSeededSRMDetected(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	assign := func(pA float64) []experiment.Arm {
		a := simulateArm(r, 10_000, pA)
		return []experiment.Arm{{Variant: "a", Exposed: a, Weight: 50}, {Variant: "b", Exposed: 10_000 - a, Weight: 50}}
	}
	broken := experiment.SampleRatio(assign(0.52))
	require.True(t, broken.Mismatch, "χ² = %.1f, p = %.2g", broken.ChiSquare, broken.PValue)
	fine := experiment.SampleRatio(assign(0.50))
	require.False(t, fine.Mismatch, "χ² = %.1f, p = %.2g", fine.ChiSquare, fine.PValue)
	require.False(t, experiment.SampleRatio([]experiment.Arm{{Exposed: 5}, {Exposed: 9}}).Checked, "no weights, no check")
}
