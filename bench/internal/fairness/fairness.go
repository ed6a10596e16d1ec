// Package fairness measures how evenly a bucketing function spreads subjects
// over the 100 rollout buckets, and how closely a rollout of P% reaches P% of
// them. The fairness tests in bench and the distribution command share it, so
// the figures in the README are the ones the tests assert.
//
// Buckets are held as one byte per subject: 1,000,000 subjects cost 1 MB and
// every statistic is a pass over a byte slice.
package fairness

import (
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

// NumBuckets is the number of rollout buckets: a bucket is 0–99.
const NumBuckets = 100

// OutOfRange marks, in a slice from [Compute], a subject whose bucket was not
// in 0–99. The statistics skip such subjects and count them in
// [Summary.OutOfRange], so a broken bucket function fails a test instead of
// panicking it.
const OutOfRange = 0xFF

// ChiSquareCritical99 is the critical value of the chi-square distribution
// with 99 degrees of freedom (100 buckets) at p = 0.001: a uniform bucketing
// exceeds it once in a thousand independent samples. (The 0.999 quantile is
// 148.2304; the tests check this constant against gonum's distribution.)
const ChiSquareCritical99 = 148.23

// BucketFunc computes a subject's bucket for a flag in an environment;
// evaluator.Bucket is one.
type BucketFunc func(flagKey, environment, subject string) int

// Subjects returns n subject names, prefix followed by 0 … n-1
// ("user-0", "user-1", …): sequential ids, the most regular input a hash
// gets in practice.
func Subjects(prefix string, n int) []string {
	s := make([]string, n)
	buf := []byte(prefix)
	for i := range s {
		s[i] = string(strconv.AppendInt(buf, int64(i), 10))
	}
	return s
}

// Compute returns the bucket of every subject for flagKey in environment, one
// byte per subject in the order of subjects, with [OutOfRange] where bucket
// returned a value outside 0–99. The work is split across GOMAXPROCS
// goroutines; bucket must be safe for concurrent use.
func Compute(bucket BucketFunc, flagKey, environment string, subjects []string) []uint8 {
	out := make([]uint8, len(subjects))
	workers := max(1, runtime.GOMAXPROCS(0))
	chunk := (len(subjects) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(subjects); lo += chunk {
		hi := min(lo+chunk, len(subjects))
		wg.Go(func() {
			for i, s := range subjects[lo:hi] {
				b := bucket(flagKey, environment, s)
				if b < 0 || b >= NumBuckets {
					b = OutOfRange
				}
				out[lo+i] = uint8(b)
			}
		})
	}
	wg.Wait()
	return out
}

// Summary describes the bucket counts of one set of subjects.
type Summary struct {
	// N is the number of subjects with a bucket in 0–99.
	N int
	// OutOfRange is the number of subjects whose bucket was not in 0–99.
	OutOfRange int
	// Counts is the number of subjects in each bucket.
	Counts [NumBuckets]int
	// Min and Max are the smallest and largest bucket count.
	Min, Max int
	// Mean is N / 100, the count every bucket would have if perfectly even.
	Mean float64
	// StdDev is the population standard deviation of the counts. For a
	// uniform hash it is near sqrt(N · 0.01 · 0.99) (about 99.5 for N = 10⁶).
	StdDev float64
	// ChiSquare is Pearson's statistic against the uniform distribution,
	// Σ (count − mean)² / mean, with 99 degrees of freedom.
	ChiSquare float64
}

// Summarize counts buckets and computes the summary statistics.
func Summarize(buckets []uint8) Summary {
	var s Summary
	for _, b := range buckets {
		if b >= NumBuckets {
			s.OutOfRange++
			continue
		}
		s.Counts[b]++
	}
	s.N = len(buckets) - s.OutOfRange
	s.Min, s.Max = s.Counts[0], s.Counts[0]
	for _, c := range s.Counts {
		s.Min, s.Max = min(s.Min, c), max(s.Max, c)
	}
	s.Mean = float64(s.N) / NumBuckets
	var ss float64
	for _, c := range s.Counts {
		d := float64(c) - s.Mean
		ss += d * d
	}
	s.StdDev = math.Sqrt(ss / NumBuckets)
	if s.Mean > 0 {
		s.ChiSquare = ss / s.Mean
	}
	return s
}

// Share returns the percentage of subjects a rollout of percent turns on:
// those whose bucket is below percent.
func (s Summary) Share(percent int) float64 {
	if s.N == 0 {
		return 0
	}
	on := 0
	for _, c := range s.Counts[:max(0, min(percent, NumBuckets))] {
		on += c
	}
	return 100 * float64(on) / float64(s.N)
}

// Joint is the 100 × 100 contingency table of two bucketings of the same
// subjects (two flags, or one flag in two environments): Cells[i][j] counts
// the subjects in bucket i of the first and bucket j of the second.
type Joint struct {
	// N is the number of subjects with both buckets in 0–99.
	N     int
	Cells [NumBuckets][NumBuckets]int
}

// NewJoint counts the subjects of a and b, which must be bucketings of the
// same subjects in the same order (equal lengths). Subjects out of range in
// either are skipped.
func NewJoint(a, b []uint8) *Joint {
	j := &Joint{}
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		if x >= NumBuckets || y >= NumBuckets {
			continue
		}
		j.Cells[x][y]++
		j.N++
	}
	return j
}

// Share returns the percentage of subjects on in both rollouts: first flag
// at p percent and second at q percent.
func (j *Joint) Share(p, q int) float64 {
	if j.N == 0 {
		return 0
	}
	on := 0
	for x := range max(0, min(p, NumBuckets)) {
		for _, c := range j.Cells[x][:max(0, min(q, NumBuckets))] {
			on += c
		}
	}
	return 100 * float64(on) / float64(j.N)
}

// Marginals returns the bucket counts of the first and of the second
// bucketing.
func (j *Joint) Marginals() (first, second [NumBuckets]int) {
	for x := range NumBuckets {
		for y := range NumBuckets {
			first[x] += j.Cells[x][y]
			second[y] += j.Cells[x][y]
		}
	}
	return first, second
}

// ChiSquare returns Pearson's statistic for independence of the two
// bucketings, Σ (observed − expected)² / expected with expected computed from
// the marginals, and its degrees of freedom, (100 − 1)² = 9801 when every
// bucket of both is used.
func (j *Joint) ChiSquare() (stat float64, df int) {
	first, second := j.Marginals()
	rows, cols := 0, 0
	for x := range NumBuckets {
		if first[x] > 0 {
			rows++
		}
		if second[x] > 0 {
			cols++
		}
	}
	n := float64(j.N)
	for x := range NumBuckets {
		for y := range NumBuckets {
			e := float64(first[x]) * float64(second[y]) / n
			if e == 0 {
				continue
			}
			d := float64(j.Cells[x][y]) - e
			stat += d * d / e
		}
	}
	return stat, (rows - 1) * (cols - 1)
}

// KSUniform returns the Kolmogorov–Smirnov statistic D of a sample against
// the uniform distribution on [0, 1]: the largest distance between the
// sample's empirical distribution function and the identity. P-values of a
// correct test on independent samples are uniform, so a D above the
// critical value says a statistic is off more often than chance allows. The
// sample is sorted in place.
func KSUniform(sample []float64) float64 {
	slices.Sort(sample)
	n := float64(len(sample))
	d := 0.0
	for i, x := range sample {
		d = max(d, float64(i+1)/n-x, x-float64(i)/n)
	}
	return d
}

// KSCritical returns the asymptotic critical value of the Kolmogorov–Smirnov
// statistic for n samples at significance alpha, sqrt(−ln(alpha/2)/2)/sqrt(n)
// (about 1.95/sqrt(n) at alpha = 0.001).
func KSCritical(n int, alpha float64) float64 {
	return math.Sqrt(-math.Log(alpha/2)/2) / math.Sqrt(float64(n))
}
