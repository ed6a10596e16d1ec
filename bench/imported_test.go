package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/ldcompat"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// ldDataFile is the LaunchDarkly flag data the importer's equivalence test
// checks (50,000 contexts × 33 flags, identical answers): the benchmarks
// below evaluate some of its flags after import, next to LaunchDarkly's own
// SDK reading the same file.
const ldDataFile = "../importer/testdata/launchdarkly/flags.json"

// importedCases are the imported flags BenchmarkImported evaluates, each
// with the OpenFeature type an application asks it with. Together they take
// every path an imported flag has: a 50/50 rollout with a salt, seven string
// rules (endsWith, startsWith, contains, matches, negated in), individual
// targets per context kind, segment rules (included lists and a negated
// segment), and two prerequisites.
var importedCases = []struct{ flag, kind string }{
	{"rollout-50-50", "bool"},
	{"rules-strings", "string"},
	{"targets", "string"},
	{"segments", "string"},
	{"prereq-parent", "string"},
}

// importedContext is subject i's attributes, varied so that each rule of
// rules-strings and each target of targets holds for some subjects.
func importedContext(i int) map[string]any {
	emails := []string{"u%d@example.com", "a%d@corp.io", "test%d@corp.io", "z%d@corp.io"}
	names := []string{"Ann", "Bob", "Carl", "Dora"}
	countries := []string{"NO", "SE", "US", "DE"}
	plans := []string{"free", "pro"}
	return map[string]any{
		"key":     "user-" + strconv.Itoa(i),
		"email":   fmt.Sprintf(emails[i%len(emails)], i),
		"name":    names[(i/4)%len(names)],
		"country": countries[(i/16)%len(countries)],
		"plan":    plans[(i/3)%len(plans)],
	}
}

// importedFlat is the context our provider receives from go-sdk for
// subject i (a LaunchDarkly single user context: targetingKey, kind and
// attributes), as LaunchDarkly's OpenFeature provider also receives it.
func importedFlat(i int) of.FlattenedContext {
	fc := of.FlattenedContext{of.TargetingKey: "user-" + strconv.Itoa(i), "kind": "user"}
	for k, v := range importedContext(i) {
		if k != "key" {
			fc[k] = v
		}
	}
	return fc
}

// importedLD is subject i as a LaunchDarkly context.
func importedLD(i int) ldcontext.Context {
	a := importedContext(i)
	b := ldcontext.NewBuilder(a["key"].(string))
	for _, k := range []string{"email", "name", "country", "plan"} {
		b.SetString(k, a[k].(string))
	}
	return b.Build()
}

// importedProvider imports the LaunchDarkly file, writes it to a miniredis
// with the store, and returns a snapshot provider over it.
func importedProvider(tb testing.TB) *provider.Provider {
	tb.Helper()
	data, err := os.ReadFile(ldDataFile)
	require.NoError(tb, err)
	res, err := importer.LaunchDarkly(data)
	require.NoError(tb, err)
	rdb := miniredisClient(tb)
	s := store.New(rdb)
	for _, f := range res.Flags {
		_, err := s.Upsert(context.Background(), f)
		require.NoError(tb, err)
	}
	p := provider.New(rdb)
	require.NoError(tb, p.Init(of.EvaluationContext{}))
	tb.Cleanup(p.Shutdown)
	return p
}

var stringSink string

// BenchmarkImported measures flags imported from LaunchDarkly
// (importer.LaunchDarkly, then store.Upsert) evaluated by our provider's
// snapshot path (sdk=redisflags, the call go-sdk makes) next to
// LaunchDarkly's Go SDK v7 evaluating the same file offline with
// BoolVariation / StringVariation (sdk=launchdarkly, the call an application
// on LaunchDarkly makes). Both sides get contexts built before the loop, for
// subjects user-0 … user-1023 in turn; LaunchDarkly's get ldcontext.Context
// values, which its OpenFeature provider would build from the same flattened
// context on every call, so LaunchDarkly's side here is the cheaper one of
// the two OpenFeature paths. Before timing, every subject's answer is checked
// equal on both sides, so the two sides do the same work.
//
//	go test -run '^$' -bench Imported -benchmem -count 10 ./bench/ | go tool benchstat -col /sdk -
func BenchmarkImported(b *testing.B) {
	p := importedProvider(b)
	lc := ldcompat.FileClient(b, ldDataFile)
	ctx := context.Background()
	fc := make([]of.FlattenedContext, benchSubjects)
	lctx := make([]ldcontext.Context, benchSubjects)
	for i := range benchSubjects {
		fc[i], lctx[i] = importedFlat(i), importedLD(i)
	}
	for _, tc := range importedCases {
		for i := range benchSubjects {
			switch tc.kind {
			case "bool":
				want, err := lc.BoolVariation(tc.flag, lctx[i], false)
				require.NoError(b, err)
				require.Equal(b, want, p.BooleanEvaluation(ctx, tc.flag, false, fc[i]).Value, "%s, subject %d", tc.flag, i)
			case "string":
				want, err := lc.StringVariation(tc.flag, lctx[i], "DEFAULT")
				require.NoError(b, err)
				require.Equal(b, want, p.StringEvaluation(ctx, tc.flag, "DEFAULT", fc[i]).Value, "%s, subject %d", tc.flag, i)
			}
		}
		b.Run("flag="+tc.flag+"/sdk=redisflags", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			switch tc.kind {
			case "bool":
				for b.Loop() {
					detailSink = p.BooleanEvaluation(ctx, tc.flag, false, fc[i&mask])
					i++
				}
			case "string":
				for b.Loop() {
					stringSink = p.StringEvaluation(ctx, tc.flag, "DEFAULT", fc[i&mask]).Value
					i++
				}
			}
		})
		b.Run("flag="+tc.flag+"/sdk=launchdarkly", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			switch tc.kind {
			case "bool":
				for b.Loop() {
					valueSink, errSink = lc.BoolVariation(tc.flag, lctx[i&mask], false)
					i++
				}
			case "string":
				for b.Loop() {
					stringSink, errSink = lc.StringVariation(tc.flag, lctx[i&mask], "DEFAULT")
					i++
				}
			}
		})
	}
}

// TestImportedFlagsDoNotAllocate: in snapshot mode an imported LaunchDarkly
// flag evaluates without allocating, on every path BenchmarkImported takes
// (rules on built-in attributes such as "name", targets, segments,
// prerequisites), for each of its subjects.
//
// Under -race it skips: the detector makes sync.Pool drop items, so the
// regular expressions of rules-strings allocate now and then. .ci/run runs
// it again without -race.
func TestImportedFlagsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under -race include sync.Pool's random drops; .ci/run checks this without -race")
	}
	p := importedProvider(t)
	ctx := context.Background()
	for _, tc := range importedCases {
		for i := range benchSubjects {
			fc := importedFlat(i)
			allocs := testing.AllocsPerRun(10, func() {
				switch tc.kind {
				case "bool":
					detailSink = p.BooleanEvaluation(ctx, tc.flag, false, fc)
				case "string":
					stringSink = p.StringEvaluation(ctx, tc.flag, "DEFAULT", fc).Value
				}
			})
			if allocs != 0 {
				t.Fatalf("%s, subject %d: %.1f allocations per evaluation", tc.flag, i, allocs)
			}
		}
	}
}
