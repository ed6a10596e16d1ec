package fairness_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/bench/internal/fairness"
)

// repeat returns buckets 0…99 each count times, plus extra.
func repeat(count int, extra ...uint8) []uint8 {
	var b []uint8
	for i := range fairness.NumBuckets {
		for range count {
			b = append(b, uint8(i))
		}
	}
	return append(b, extra...)
}

func TestSummarizeOfPerfectlyEvenBucketsHasZeroChiSquare(t *testing.T) {
	s := fairness.Summarize(repeat(3))
	assert.Equal(t, 300, s.N)
	assert.Equal(t, 3, s.Min)
	assert.Equal(t, 3, s.Max)
	assert.Equal(t, 3.0, s.Mean)
	assert.Zero(t, s.StdDev)
	assert.Zero(t, s.ChiSquare)
	assert.Equal(t, 25.0, s.Share(25))
	assert.Equal(t, 0.0, s.Share(0))
	assert.Equal(t, 100.0, s.Share(100))
}

func TestSummarizeComputesPearsonsStatistic(t *testing.T) {
	// 100 subjects in bucket 0, none elsewhere: mean 1, (100−1)²/1 + 99·(0−1)²/1.
	b := make([]uint8, 100)
	s := fairness.Summarize(append(b, fairness.OutOfRange))
	assert.Equal(t, 100, s.N)
	assert.Equal(t, 1, s.OutOfRange)
	assert.Equal(t, 0, s.Min)
	assert.Equal(t, 100, s.Max)
	assert.InDelta(t, 99*99+99, s.ChiSquare, 1e-9)
	assert.InDelta(t, math.Sqrt((99*99+99)/100.0), s.StdDev, 1e-9)
	assert.Equal(t, 100.0, s.Share(1))
}

func TestComputeMarksOutOfRangeBucketsAndKeepsOrder(t *testing.T) {
	subjects := fairness.Subjects("s", 1000)
	require.Equal(t, "s0", subjects[0])
	require.Equal(t, "s999", subjects[999])
	got := fairness.Compute(func(_, _, s string) int {
		switch s {
		case "s7":
			return -1
		case "s8":
			return 100
		}
		return len(s) // 2, 3 or 4
	}, "f", "e", subjects)
	assert.Equal(t, uint8(2), got[0])
	assert.Equal(t, uint8(fairness.OutOfRange), got[7])
	assert.Equal(t, uint8(fairness.OutOfRange), got[8])
	assert.Equal(t, uint8(3), got[10])
	assert.Equal(t, uint8(4), got[999])
}

func TestJointShareAndIndependence(t *testing.T) {
	// Every pair (i, j) once: independent by construction.
	var a, b []uint8
	for i := range fairness.NumBuckets {
		for j := range fairness.NumBuckets {
			a, b = append(a, uint8(i)), append(b, uint8(j))
		}
	}
	j := fairness.NewJoint(a, b)
	assert.Equal(t, 10000, j.N)
	assert.InDelta(t, 12.5, j.Share(25, 50), 1e-9)
	stat, df := j.ChiSquare()
	assert.Zero(t, stat)
	assert.Equal(t, 99*99, df)

	// The same bucketing twice: as dependent as it gets.
	same := fairness.NewJoint(a, a)
	assert.InDelta(t, 50.0, same.Share(50, 50), 1e-9)
	stat, _ = same.ChiSquare()
	assert.InDelta(t, float64(10000*99), stat, 1e-6) // n·(k−1) for a diagonal table
}

func TestKSUniform(t *testing.T) {
	even := []float64{0.1, 0.3, 0.5, 0.7, 0.9}
	assert.InDelta(t, 0.1, fairness.KSUniform(even), 1e-12)
	assert.InDelta(t, 0.99, fairness.KSUniform([]float64{0.01, 0.0, 0.005}), 1e-12)
	assert.InDelta(t, 1.949/math.Sqrt(40), fairness.KSCritical(40, 0.001), 1e-3)
}
