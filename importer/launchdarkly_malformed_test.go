package importer_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/ldcompat"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// The malformed test data: flags LaunchDarkly's SDK loads and evaluates,
// some of whose parts it fails (MALFORMED_FLAG) when an evaluation reaches
// them; and flags with fields of the wrong type, which LaunchDarkly's SDK
// refuses to load at all (the whole file), so they are imported into
// redisflags only.
const (
	ldMalformedFile = "testdata/launchdarkly/malformed.json"
	ldWrongTypeFile = "testdata/launchdarkly/malformed-wrong-type.json"
)

// ldMalformedWarnings are the warnings the import must give: flag, field.
var ldMalformedWarnings = []string{
	"mf-clause-bad-kind rules[0].clauses[1].attribute",
	"mf-clause-bad-ref-later-rule rules[1].clauses[0].attribute",
	"mf-clause-bad-ref-off rules[0].clauses[0].attribute",
	"mf-clause-bad-ref-second-clause rules[0].clauses[1].attribute",
	"mf-clause-no-attribute rules[0].clauses[0].attribute",
	"mf-context-target-low contextTargets[0].variation",
	"mf-fallthrough-high fallthrough.variation",
	"mf-fallthrough-missing fallthrough",
	"mf-off-malformed-fallthrough fallthrough.variation",
	"mf-off-variation-high offVariation",
	"mf-off-variation-low-on offVariation",
	"mf-rollout-bad-bucket-by rules[0].rollout.bucketBy",
	"mf-rollout-bad-variation fallthrough.rollout.variations[1].variation",
	"mf-rollout-empty fallthrough.rollout.variations",
	"mf-rule-no-variation rules[0]",
	"mf-rule-variation-low rules[0].variation",
	"mf-target-high targets[0].variation",
}

// ldWrongTypeWarnings are the wrong-type file's, imported with it.
var ldWrongTypeWarnings = []string{
	"mf-key-differs key",
	"mf-wrong-on on",
	"mf-wrong-rules rules",
	"mf-wrong-salt salt",
	"mf-wrong-variation fallthrough.variation",
	"mf-wrong-variations offVariation",
	"mf-wrong-variations variations",
}

// ldMalformedData is both files' flags in one document.
func ldMalformedData(t *testing.T) []byte {
	t.Helper()
	merged := map[string]map[string]json.RawMessage{"flags": {}}
	for _, path := range []string{ldMalformedFile, ldWrongTypeFile} {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var doc map[string]map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &doc))
		maps.Copy(merged["flags"], doc["flags"])
	}
	out, err := json.Marshal(merged)
	require.NoError(t, err)
	return out
}

func warningKeys(ws []importer.Problem) []string {
	var out []string
	for _, w := range ws {
		require.NotEmpty(nil, w.Message)
		out = append(out, w.Flag+" "+w.Field)
	}
	slices.Sort(out)
	return out
}

// TestLaunchDarklyMalformedEquivalence imports flags LaunchDarkly's SDK
// evaluates as MALFORMED_FLAG where an evaluation reaches a malformed part,
// checks that the import succeeds with a warning per malformed part, and
// compares every answer with LaunchDarkly's SDK on the same file:
// MALFORMED_FLAG (the caller's default) is PARSE_ERROR with the caller's
// default, as LaunchDarkly's OpenFeature provider maps it.
func TestLaunchDarklyMalformedEquivalence(t *testing.T) {
	data := ldMalformedData(t)
	res, err := importer.LaunchDarkly(data)
	require.NoError(t, err, "a malformed flag does not fail the import")
	var want []string
	want = append(want, ldMalformedWarnings...)
	want = append(want, ldWrongTypeWarnings...)
	slices.Sort(want)
	require.Equal(t, want, warningKeys(res.Warnings))
	require.Empty(t, res.Unsupported)
	require.Empty(t, res.Skipped)

	raw, err := os.ReadFile(ldMalformedFile)
	require.NoError(t, err)
	var doc map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &doc))
	ldKeys := slices.Sorted(maps.Keys(doc["flags"]))
	raw, err = os.ReadFile(ldWrongTypeFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))
	wrongKeys := slices.Sorted(maps.Keys(doc["flags"]))
	require.Len(t, res.Flags, len(ldKeys)+len(wrongKeys), "every flag imports")
	for _, f := range res.Flags {
		_, warned := slices.BinarySearchFunc(want, f.Key+" ", func(w, k string) int {
			if len(w) >= len(k) && w[:len(k)] == k {
				return 0
			}
			if w < k {
				return -1
			}
			return 1
		})
		require.Equal(t, warned, len(f.Malformed) > 0, "flag %s: Malformed lists its warnings", f.Key)
	}

	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	for _, f := range res.Flags {
		_, err := st.Upsert(t.Context(), f)
		require.NoError(t, err, f.Key)
		back, err := st.Get(t.Context(), f.Key)
		require.NoError(t, err, f.Key)
		require.Equal(t, f.Malformed, back.Malformed, "%s: the store keeps the malformed reasons", f.Key)
	}

	var evals []ldEvaluation
	for _, k := range ldKeys {
		typ := "string"
		switch k {
		case "mf-target-high":
			typ = "bool"
		case "mf-rule-no-variation":
			typ = "int"
		}
		evals = append(evals, ldEvaluation{k, typ})
	}
	c := ldcompat.FileClient(t, ldMalformedFile)
	n := 20_000
	if testing.Short() {
		n = 3_000
	}
	contexts := ldContexts(n, 18)
	for _, mode := range []struct {
		name string
		opts []provider.Option
		n    int
	}{{"snapshot", nil, n}, {"direct", []provider.Option{provider.WithDirectReads()}, 300}} {
		t.Run(mode.name, func(t *testing.T) {
			p := provider.New(srv.Client(t), mode.opts...)
			require.NoError(t, of.SetNamedProviderAndWait(t.Name(), p))
			t.Cleanup(p.Shutdown)
			st := compareLDOn(t, c, p, contexts[:mode.n], evals)
			t.Logf("%s: %d contexts × %d flags (%d evaluations each side): identical; reasons %v, codes %v",
				mode.name, mode.n, len(evals), st.evaluations, st.reasons, st.codes)
			if mode.name != "snapshot" {
				return
			}
			// The lazy cases answered both ways: a malformed part reached
			// (PARSE_ERROR, no variant) for some contexts, a value for others.
			for _, k := range []string{
				"mf-fallthrough-high", "mf-fallthrough-missing", "mf-target-high", "mf-context-target-low",
				"mf-rule-variation-low", "mf-rule-no-variation", "mf-rollout-empty", "mf-rollout-bad-variation",
				"mf-rollout-bad-bucket-by", "mf-clause-bad-ref-later-rule", "mf-clause-bad-ref-second-clause",
				"mf-prereq-of-bad-clause",
			} {
				v := st.variants[k]
				require.Greater(t, v[""], 0, "%s: some evaluations reach the malformed part: %v", k, v)
				require.Greater(t, len(v), 1, "%s: some do not: %v", k, v)
			}
			// The ones never reached (off, a rule that never matches) and
			// those that reach it always.
			for _, k := range []string{"mf-off-malformed-fallthrough", "mf-clause-bad-ref-off", "mf-off-empty-fallthrough"} {
				require.Len(t, st.variants[k], 2, "%s: its off variation, and errors for refused contexts only: %v", k, st.variants[k])
			}
			require.GreaterOrEqual(t, len(st.variants["mf-negative-weights"]), 3, "negative weights split: %v", st.variants["mf-negative-weights"])
			require.Greater(t, st.codes[of.ParseErrorCode], 0)
		})
	}

	t.Run("wrong types", func(t *testing.T) {
		// LaunchDarkly's SDK does not load these at all; redisflags answers
		// each with the caller's default and PARSE_ERROR, on or off.
		p := provider.New(srv.Client(t))
		require.NoError(t, of.SetNamedProviderAndWait(t.Name(), p))
		t.Cleanup(p.Shutdown)
		checked := 0
		for _, fc := range contexts[:2000] {
			if _, err := ldcompat.ToContext(fc); err != nil {
				continue
			}
			for _, k := range wrongKeys {
				got := redisflagsAnswer(t.Context(), p, k, "string", fc)
				if got.Code == of.TargetingKeyMissingCode {
					continue // a context LaunchDarkly refuses: that comes first
				}
				require.Equal(t, answer{Value: "DEFAULT", Reason: of.ErrorReason, Code: of.ParseErrorCode}, got, "%s for %v", k, fc)
				checked++
			}
		}
		require.Greater(t, checked, 1000)
	})
}

// TestLaunchDarklyMalformedMarkersValidate checks the evaluator's side of
// the markers: a flag that uses them without saying why does not validate.
func TestLaunchDarklyMalformedMarkersValidate(t *testing.T) {
	base := evaluator.Flag{Key: "m", DefaultEnabled: true, Variants: map[string]json.RawMessage{"0": json.RawMessage(`1`)}, DefaultVariant: "0"}
	for name, edit := range map[string]func(*evaluator.Flag){
		"default": func(f *evaluator.Flag) { f.DefaultVariant = evaluator.MalformedVariant },
		"off":     func(f *evaluator.Flag) { f.OffVariant = evaluator.MalformedVariant },
		"rule":    func(f *evaluator.Flag) { f.Rules = []evaluator.Rule{{Variant: evaluator.MalformedVariant}} },
		"condition": func(f *evaluator.Flag) {
			f.Rules = []evaluator.Rule{{Variant: "0", Conditions: []evaluator.Condition{{Op: evaluator.OpMalformed}}}}
		},
	} {
		f := base.Clone()
		edit(&f)
		require.Error(t, evaluator.Validate(f), name)
		f.Malformed = []string{fmt.Sprintf("%s: malformed", name)}
		require.NoError(t, evaluator.Validate(f), name)
	}
}
