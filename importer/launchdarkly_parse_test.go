package importer_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldmodel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
)

// mutate returns s with a few random edits from an alphabet of the
// characters that matter to the parsers.
func mutate(r *rand.Rand, s, alphabet string) string {
	b := []byte(s)
	for range r.IntN(3) + 1 {
		switch op := r.IntN(3); {
		case op == 0 && len(b) > 0:
			i := r.IntN(len(b))
			b = append(b[:i], b[i+1:]...)
		case op == 1 && len(b) > 0:
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		default:
			i := r.IntN(len(b) + 1)
			b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
		}
	}
	return string(b)
}

// TestDatesReadAsLaunchDarklyReadsThem compares the evaluator's date
// reading with LaunchDarkly's on well-formed, odd and broken dates.
func TestDatesReadAsLaunchDarklyReadsThem(t *testing.T) {
	seeds := []string{
		"2024-03-01T12:30:45Z", "2024-03-01T12:30:45.123456789Z", "2024-03-01t01:02:03z",
		"2024-03-01T1:02:03+05:30", "2024-02-31T23:59:60-99:59", "2024-03-01T12:30:45.1+00:00",
		"2024-03-01T12:30:45Zjunk", "2024-03-01T12:30:45+01:00é", "2024-03-01", "0000-01-01T00:00:00Z",
		"2024-03-01T12:30:45.1234567890Z", "2024-03-01T12:30:45.Z", "2024-03-01T24:00:00Z", "",
	}
	r := rand.New(rand.NewPCG(3, 4))
	var inputs []string
	for _, s := range seeds {
		inputs = append(inputs, s)
		for range 300 {
			inputs = append(inputs, mutate(r, s, "0123456789-:.TtZz+ é\x00x"))
		}
	}
	valid := 0
	for _, s := range inputs {
		want, wantOK := ldmodel.TypeConversions.ValueToTimestamp(ldvalue.String(s))
		got, gotOK := evaluator.ParseDateLD(s)
		require.Equal(t, wantOK, gotOK, "%q", s)
		if wantOK {
			valid++
			require.True(t, want.Equal(got), "%q: LaunchDarkly %v, redisflags %v", s, want, got)
		}
	}
	for _, f := range []float64{0, 1, -1, 1.9, -1.9, 1717200000000.7, 9.2e15, -5e12} {
		want, _ := ldmodel.TypeConversions.ValueToTimestamp(ldvalue.Float64(f))
		got, ok := evaluator.ParseDateLD(f)
		require.True(t, ok)
		require.True(t, want.Equal(got), "%v", f)
	}
	for _, v := range []any{true, nil, []any{}, map[string]any{}} {
		_, ok := evaluator.ParseDateLD(v)
		assert.False(t, ok, "%v", v)
	}
	t.Logf("%d date strings (%d valid) read as LaunchDarkly reads them", len(inputs), valid)
	_ = time.UTC
}

// TestSemverReadAsLaunchDarklyReadsThem compares the evaluator's reading
// and ordering of versions with LaunchDarkly's.
func TestSemverReadAsLaunchDarklyReadsThem(t *testing.T) {
	seeds := []string{"1.2.3", "1.2", "1", "1.2.3-rc.1", "1.2.3-rc.1+build.5", "1-beta", "1.0.0-alpha.01",
		"v1.2.3", "1.2.3.4", "01.2.3", "1.2.3+b@d", "1.2.3-a+b+c", "1.2.3-", "1.2.3+", "2.0.0-0.3.7", "1.0.0-x-y-z.--"}
	r := rand.New(rand.NewPCG(5, 6))
	var inputs []string
	for _, s := range seeds {
		inputs = append(inputs, s)
		for range 200 {
			inputs = append(inputs, mutate(r, s, "0123456789.-+abrvé\x00"))
		}
	}
	var versions []string
	for _, s := range inputs {
		_, err := ldmodel.TypeConversions.ValueToSemanticVersion(ldvalue.String(s))
		require.Equal(t, err, evaluator.ValidSemverLD(s), "%q", s)
		if err {
			versions = append(versions, s)
		}
	}
	pairs := 0
	for i := range 20000 {
		a, b := versions[r.IntN(len(versions))], versions[(i*7919)%len(versions)]
		va, _ := ldmodel.TypeConversions.ValueToSemanticVersion(ldvalue.String(a))
		vb, _ := ldmodel.TypeConversions.ValueToSemanticVersion(ldvalue.String(b))
		got, ok := evaluator.CompareSemverLD(a, b)
		require.True(t, ok)
		require.Equal(t, va.ComparePrecedence(vb), got, "%q vs %q", a, b)
		pairs++
	}
	t.Logf("%d strings (%d versions) read and %d pairs ordered as LaunchDarkly does", len(inputs), len(versions), pairs)
}

// TestBucketLDMatchesLaunchDarklyVectors checks BucketLD against the
// bucket values LaunchDarkly's SDKs publish in their test suites.
func TestBucketLDMatchesLaunchDarklyVectors(t *testing.T) {
	seed := int64(61)
	tests := []struct {
		value string
		seed  *int64
		want  float32
	}{
		{"userKeyA", nil, 0.42157587},
		{"userKeyB", nil, 0.6708485},
		{"userKeyC", nil, 0.10343106},
		{"33333", nil, 0.54771423},
		{"99999", nil, 0.7309658},
		{"userKeyA", &seed, 0.09801207},
		{"userKeyB", &seed, 0.14483777},
		{"userKeyC", &seed, 0.9242641},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.value, tt.seed != nil), func(t *testing.T) {
			assert.InEpsilon(t, tt.want, evaluator.BucketLD("hashKey", "saltyA", tt.seed, tt.value), 1e-7)
		})
	}
}
