package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/redisflags/redisflags/bench/internal/fairness"
	"github.com/redisflags/redisflags/evaluator"
)

// The fairness tests bucket a million subjects for a few flags and
// environments once (fixture, shared by every test: about 1 s of hashing per
// bucketing under -race, spread over the cores) and assert on the counts.
// The data is fixed, so a run is deterministic: a pass is a pass forever,
// until Bucket changes.

// numSubjects is the number of subjects per bucketing. At 10⁶ a fair
// rollout's share has a standard deviation of at most 0.05 percentage
// points, so the 0.3-point tolerance below is six of them.
const numSubjects = 1_000_000

// shareTolerance is how far, in percentage points, an observed rollout share
// may be from its target.
const shareTolerance = 0.3

// bucketing is one (flag, environment, subject set) whose buckets the tests
// examine.
type bucketing struct {
	name     string
	flag     string
	env      string
	subjects string // "ids" (user-0 …) or "uuids"
}

var bucketings = []bucketing{
	{"checkout-banner/production/ids", "checkout-banner", "production", "ids"},
	{"checkout-banner/staging/ids", "checkout-banner", "staging", "ids"},
	{"new-search/production/ids", "new-search", "production", "ids"},
	{"dark-mode/production/uuids", "dark-mode", "production", "uuids"},
	{"pricing.v2_experiment/eu-west-1/uuids", "pricing.v2_experiment", "eu-west-1", "uuids"},
}

// fixture holds the buckets of every bucketing, keyed by name.
var fixture = sync.OnceValue(func() map[string][]uint8 {
	subjects := map[string][]string{
		"ids":   fairness.Subjects("user-", numSubjects),
		"uuids": uuids(numSubjects, 2026),
	}
	out := make(map[string][]uint8, len(bucketings))
	for _, b := range bucketings {
		out[b.name] = fairness.Compute(evaluator.Bucket, b.flag, b.env, subjects[b.subjects])
	}
	return out
})

// uuids returns n version-4-shaped UUID strings from a seeded generator, so
// the same ones every run.
func uuids(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]string, n)
	var raw [16]byte
	for i := range out {
		binary.BigEndian.PutUint64(raw[:8], rng.Uint64())
		binary.BigEndian.PutUint64(raw[8:], rng.Uint64())
		raw[6] = raw[6]&0x0f | 0x40
		raw[8] = raw[8]&0x3f | 0x80
		out[i] = fmt.Sprintf("%x-%x-%x-%x-%x", raw[0:4], raw[4:6], raw[6:8], raw[8:10], raw[10:16])
	}
	return out
}

func TestChiSquareCriticalValueIsTheP001QuantileFor99DegreesOfFreedom(t *testing.T) {
	q := distuv.ChiSquared{K: fairness.NumBuckets - 1}.Quantile(0.999)
	assert.InDelta(t, q, fairness.ChiSquareCritical99, 0.01)
}

func TestBucketsAreUniformOverAMillionSubjects(t *testing.T) {
	data := fixture()
	for _, b := range bucketings {
		t.Run(b.name, func(t *testing.T) {
			s := fairness.Summarize(data[b.name])
			require.Zero(t, s.OutOfRange, "buckets outside 0–99")
			require.Equal(t, numSubjects, s.N)
			t.Logf("chi-square %.2f (df 99, critical %.2f at p=0.001), counts min %d max %d stddev %.1f",
				s.ChiSquare, fairness.ChiSquareCritical99, s.Min, s.Max, s.StdDev)
			assert.Less(t, s.ChiSquare, fairness.ChiSquareCritical99,
				"bucket counts are not uniform at p=0.001: %v", s.Counts)
		})
	}
}

// chiSquarePValues returns, for each of flags flag-0 … flag-(flags-1) in
// production, the p-value of the chi-square statistic of its buckets over
// subjects.
func chiSquarePValues(bucket fairness.BucketFunc, flags int, subjects []string) []float64 {
	dist := distuv.ChiSquared{K: fairness.NumBuckets - 1}
	ps := make([]float64, flags)
	for i := range ps {
		s := fairness.Summarize(fairness.Compute(bucket, "flag-"+strconv.Itoa(i), "production", subjects))
		ps[i] = dist.Survival(s.ChiSquare)
	}
	return ps
}

// One chi-square test passes or fails by chance once in a thousand runs; its
// p-values over many flags must be uniform. This catches a hash that is a
// little too even, or a little uneven, for every flag: each single test
// would pass.
func TestChiSquarePValuesOverManyFlagsAreUniform(t *testing.T) {
	const flags = 40
	ps := chiSquarePValues(evaluator.Bucket, flags, fairness.Subjects("user-", 50_000))
	d, critical := fairness.KSUniform(ps), fairness.KSCritical(flags, 0.001)
	t.Logf("Kolmogorov–Smirnov D %.3f over %d flags (critical %.3f at p=0.001)", d, flags, critical)
	assert.Less(t, d, critical, "p-values: %v", ps)
}

func TestRolloutShareIsWithinPointThreeOfTargetForEveryPercent(t *testing.T) {
	data := fixture()
	for _, b := range bucketings {
		t.Run(b.name, func(t *testing.T) {
			s := fairness.Summarize(data[b.name])
			assert.Zero(t, s.Share(0), "0% turns someone on")
			assert.Equal(t, 100.0, s.Share(100), "100% leaves someone off")
			for p := 1; p <= 99; p++ {
				assert.InDelta(t, float64(p), s.Share(p), shareTolerance, "rollout of %d%%", p)
			}
		})
	}
}

// jointPairs are the (p, q) rollouts whose joint share the independence tests
// check: small, large, equal, complementary.
var jointPairs = [][2]int{{1, 99}, {5, 50}, {10, 10}, {25, 75}, {33, 67}, {50, 50}, {90, 90}, {99, 99}}

func TestBucketsOfTwoFlagsOrTwoEnvironmentsAreIndependent(t *testing.T) {
	data := fixture()
	for _, tt := range []struct{ name, a, b string }{
		{"two flags, one environment", "checkout-banner/production/ids", "new-search/production/ids"},
		{"one flag, two environments", "checkout-banner/production/ids", "checkout-banner/staging/ids"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := fairness.NewJoint(data[tt.a], data[tt.b])
			for _, pq := range jointPairs {
				p, q := pq[0], pq[1]
				want := float64(p) * float64(q) / 100
				assert.InDelta(t, want, j.Share(p, q), shareTolerance,
					"subjects on at %d%% in the first and %d%% in the second", p, q)
			}
			// The whole 100 × 100 table, not only the corners above.
			stat, df := j.ChiSquare()
			critical := distuv.ChiSquared{K: float64(df)}.Quantile(0.999)
			t.Logf("independence chi-square %.1f (df %d, critical %.1f at p=0.001)", stat, df, critical)
			assert.Less(t, stat, critical, "the two bucketings are not independent at p=0.001")
		})
	}
}

// monotonicityViolation sweeps percent 0–100 and returns a pair p < q with
// on(p) true and on(q) false, if there is one.
func monotonicityViolation(on func(percent int) bool) (p, q int, found bool) {
	firstOn := -1
	for percent := 0; percent <= 100; percent++ {
		switch {
		case on(percent) && firstOn < 0:
			firstOn = percent
		case !on(percent) && firstOn >= 0:
			return firstOn, percent, true
		}
	}
	return 0, 0, false
}

// compiledAtEveryPercent compiles, through the tutorial's JSON form, flagKey with
// environment env at each rollout percent 0–100.
func compiledAtEveryPercent(t *testing.T, flagKey, env string) [101]*evaluator.Compiled {
	t.Helper()
	var out [101]*evaluator.Compiled
	for p := range out {
		def, err := evaluator.ParseFlag(fmt.Appendf(nil,
			`{"flagKey":%q,"defaultEnabled":true,"environments":{%q:{"enabled":true,"rolloutPercent":%d}}}`,
			flagKey, env, p), flagKey)
		require.NoError(t, err)
		out[p], err = evaluator.Compile(def)
		require.NoError(t, err)
	}
	return out
}

// randomSubject returns a subject of 1–120 characters (up to 480 bytes, past
// the 192 bytes Bucket hashes without allocating) mixing ASCII and two-,
// three- and four-byte UTF-8 characters.
func randomSubject(rng *rand.Rand) string {
	alphabet := []rune("abcxyz0189-_.@:/ üëéßЖжمユーザー中文👩💻🚀")
	n := 1 + rng.IntN(120)
	r := make([]rune, n)
	for i := range r {
		r[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(r)
}

var seedFlag = flag.Uint64("seed", 0, "seed of the monotonicity property test (0: a random one, printed on failure)")

func TestRaisingRolloutPercentNeverTurnsASubjectOff(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	type target struct {
		flag, env string
		at        [101]*evaluator.Compiled
	}
	var targets []target
	for _, fe := range [][2]string{{"checkout-banner", "production"}, {"new-search", "staging"}, {"x", "eu-west-1"}} {
		targets = append(targets, target{fe[0], fe[1], compiledAtEveryPercent(t, fe[0], fe[1])})
	}
	for range 2000 {
		tg := targets[rng.IntN(len(targets))]
		subject := randomSubject(rng)
		on := func(p int) bool {
			return tg.at[p].Evaluate(evaluator.Input{Environment: tg.env, Subject: subject}).On
		}
		// A random pair, as a property test would draw it…
		p := rng.IntN(101)
		q := p + rng.IntN(101-p)
		if on(p) {
			require.True(t, on(q), "seed %d: %s/%s subject %q on at %d%% but off at %d%% (rerun with -seed %d)",
				seed, tg.flag, tg.env, subject, p, q, seed)
		}
		// …and every pair: on exactly from bucket+1 percent upwards.
		lo, hi, found := monotonicityViolation(on)
		require.False(t, found, "seed %d: %s/%s subject %q on at %d%% but off at %d%% (rerun with -seed %d)",
			seed, tg.flag, tg.env, subject, lo, hi, seed)
		b := evaluator.Bucket(tg.flag, tg.env, subject)
		require.False(t, on(b), "seed %d: subject %q with bucket %d is on at %d%%", seed, subject, b, b)
		require.True(t, on(b+1), "seed %d: subject %q with bucket %d is off at %d%%", seed, subject, b, b+1)
	}
}

// The tests above pass on evaluator.Bucket. This one proves their checks
// would fail on a bucketing that is wrong in each way they look for.
func TestFairnessChecksRejectFlawedBucketing(t *testing.T) {
	subjects := fairness.Subjects("user-", 200_000)
	firstByte := func(flagKey, env, subject string) int { // 256 values onto 100: 0–55 get 3, 56–99 get 2
		sum := sha256.Sum256([]byte(flagKey + ":" + env + ":" + subject))
		return int(sum[0]) % 100
	}
	ignoresFlag := func(_, env, subject string) int { return evaluator.Bucket("", env, subject) }

	t.Run("first byte mod 100 fails chi-square and share", func(t *testing.T) {
		s := fairness.Summarize(fairness.Compute(firstByte, "checkout-banner", "production", subjects))
		assert.Greater(t, s.ChiSquare, fairness.ChiSquareCritical99)
		assert.Greater(t, s.Share(50)-50, shareTolerance, "share at 50%% is %.2f", s.Share(50))
	})
	t.Run("first byte mod 100 fails uniformity over many flags", func(t *testing.T) {
		ps := chiSquarePValues(firstByte, 10, subjects[:20_000])
		assert.Greater(t, fairness.KSUniform(ps), fairness.KSCritical(10, 0.001))
	})
	t.Run("a bucket 100 is counted out of range", func(t *testing.T) {
		s := fairness.Summarize(fairness.Compute(func(string, string, string) int { return 100 }, "f", "e", subjects[:10]))
		assert.Equal(t, 10, s.OutOfRange)
	})
	t.Run("flag key left out of the hash fails independence", func(t *testing.T) {
		a := fairness.Compute(ignoresFlag, "checkout-banner", "production", subjects)
		b := fairness.Compute(ignoresFlag, "new-search", "production", subjects)
		j := fairness.NewJoint(a, b)
		assert.Greater(t, j.Share(50, 50)-25, shareTolerance, "joint share at 50/50 is %.2f", j.Share(50, 50))
		stat, df := j.ChiSquare()
		assert.Greater(t, stat, distuv.ChiSquared{K: float64(df)}.Quantile(0.999))
	})
	t.Run("percent in the hash fails monotonicity", func(t *testing.T) {
		violations := 0
		for _, s := range subjects[:100] {
			rehashed := func(p int) bool { return evaluator.Bucket("checkout-banner", fmt.Sprint(p), s) < p }
			if _, _, found := monotonicityViolation(rehashed); found {
				violations++
			}
		}
		assert.Positive(t, violations)
	})
}
