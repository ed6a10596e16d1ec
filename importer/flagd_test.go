package importer_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

func TestImportFlagdTestingFlags(t *testing.T) {
	data := readSpecFile(t, "testing-flags.json")

	flags, err := importer.ImportFlagd(data)
	require.Error(t, err)
	assert.Nil(t, flags)
	var timestamp []importer.Problem
	for _, p := range problemsOf(t, err) {
		assert.Contains(t, flagdUnsupported, p.Flag)
		assert.True(t, p.Unsupported, p.String())
		if p.Flag == "timestamp-flag" {
			timestamp = append(timestamp, p)
		}
	}
	require.NotEmpty(t, timestamp)
	// "$flagd.timestamp" imports, but this flag compares it with another
	// attribute, which a redisflags condition cannot.
	assert.Equal(t, ">", timestamp[0].Operator)
	assert.Contains(t, err.Error(), `flag "timestamp-flag"`)
	assert.Contains(t, err.Error(), `compares two attributes`)

	flags, err = importer.ImportFlagd(data, importer.WithSkip(flagdUnsupported...))
	require.NoError(t, err)
	m := byKey(flags)
	assert.Len(t, flags, 8)

	c, err := evaluator.Compile(m["context-aware"])
	require.NoError(t, err)
	in := func(attrs map[string]any) evaluator.Input {
		return evaluator.Input{Environment: "production", Attributes: evaluator.MapAttributes(attrs)}
	}
	r := c.Evaluate(in(map[string]any{"fn": "Sulisław", "ln": "Świętopełk", "age": 29, "customer": false}))
	assert.Equal(t, "internal", r.Variant)
	assert.Equal(t, evaluator.RuleMatch, r.Outcome)
	r = c.Evaluate(in(nil))
	assert.Equal(t, "external", r.Variant)
	assert.Equal(t, evaluator.RuleMatch, r.Outcome, "the else branch names a variant: TARGETING_MATCH, as in flagd")

	c, err = evaluator.Compile(m["targeting-key-flag"])
	require.NoError(t, err)
	r = c.Evaluate(evaluator.Input{Environment: "production", Subject: "5c3d8535-f81a-4478-a6d3-afaa4d51199e"})
	assert.Equal(t, "hit", r.Variant)
	r = c.Evaluate(evaluator.Input{Environment: "production", Subject: "someone"})
	assert.Equal(t, "miss", r.Variant)
	assert.Equal(t, evaluator.DefaultServed, r.Outcome, "null means the default variant, reason DEFAULT")

	c, err = evaluator.Compile(m["boolean-flag"])
	require.NoError(t, err)
	assert.Equal(t, evaluator.Static, c.Evaluate(in(nil)).Outcome)
}

// flagdDoc wraps a targeting in a flagd file of one flag "f" with variants
// a, b, c (default a).
func flagdDoc(targeting string, extra ...string) []byte {
	more := ""
	for _, e := range extra {
		more += ", " + e
	}
	return fmt.Appendf(nil, `{"flags": {"f": {"state": "ENABLED", "variants": {"a": "A", "b": "B", "c": "C", "true": 1, "false": 0},
		"defaultVariant": "a", "targeting": %s}}%s}`, targeting, more)
}

// TestFlagdOperators translates one targeting per operator form and checks
// what it serves for a few contexts ("" = the default variant, reason
// DEFAULT).
func TestFlagdOperators(t *testing.T) {
	type probe struct {
		ctx  map[string]any
		want string
	}
	tests := []struct {
		name      string
		targeting string
		probes    []probe
	}{
		{"string", `"b"`, []probe{{nil, "b"}}},
		{"null", `null`, []probe{{nil, ""}}},
		{"bool names a variant", `{"if": [{"==": [{"var": "x"}, 1]}, true, false]}`, []probe{{map[string]any{"x": 1}, "true"}, {nil, "false"}}},
		{"if without else", `{"if": [{"==": [{"var": "x"}, "y"]}, "b"]}`, []probe{{map[string]any{"x": "y"}, "b"}, {map[string]any{"x": "z"}, ""}}},
		{"else-if chain", `{"if": [{"==": [{"var": "x"}, 1]}, "b", {"==": [{"var": "x"}, 2]}, "c", null]}`,
			[]probe{{map[string]any{"x": 1}, "b"}, {map[string]any{"x": 2}, "c"}, {map[string]any{"x": 3}, ""}}},
		{"nested null stops later branches", `{"if": [{"==": [{"var": "x"}, 1]}, {"if": [{"==": [{"var": "y"}, 1]}, "b", null]}, {"==": [{"var": "z"}, 1]}, "c"]}`,
			[]probe{{map[string]any{"x": 1, "y": 1}, "b"}, {map[string]any{"x": 1, "z": 1}, ""}, {map[string]any{"z": 1}, "c"}}},
		{"and or not", `{"if": [{"and": [{"==": [{"var": "x"}, 1]}, {"or": [{"!": {"==": [{"var": "y"}, 1]}}, {"==": [{"var": "z"}, 1]}]}]}, "b"]}`,
			[]probe{{map[string]any{"x": 1}, "b"}, {map[string]any{"x": 1, "y": 1}, ""}, {map[string]any{"x": 1, "y": 1, "z": 1}, "b"}}},
		{"!= holds for a missing attribute", `{"if": [{"!=": [{"var": "x"}, "y"]}, "b"]}`, []probe{{nil, "b"}, {map[string]any{"x": "y"}, ""}}},
		{"== null", `{"if": [{"==": [{"var": "x"}, null]}, "b"]}`, []probe{{nil, "b"}, {map[string]any{"x": nil}, "b"}, {map[string]any{"x": ""}, ""}}},
		{"=== and !==", `{"if": [{"===": [{"var": "x"}, 5]}, "b", {"!==": [{"var": "x"}, 6]}, "c"]}`, []probe{{map[string]any{"x": 5}, "b"}, {map[string]any{"x": 6}, ""}, {nil, "c"}}},
		{"< with a missing attribute reads 0", `{"if": [{"<": [{"var": "age"}, 18]}, "b"]}`, []probe{{nil, "b"}, {map[string]any{"age": 17}, "b"}, {map[string]any{"age": 18}, ""}}},
		{"<= 0 does not hold for a missing attribute", `{"if": [{"<=": [{"var": "age"}, 0]}, "b"]}`, []probe{{nil, ""}, {map[string]any{"age": 0}, "b"}}},
		{"literal on the left", `{"if": [{">": [18, {"var": "age"}]}, "b"]}`, []probe{{map[string]any{"age": 17}, "b"}, {map[string]any{"age": 18}, ""}}},
		{"between", `{"if": [{"<=": [1, {"var": "n"}, 3]}, "b"]}`, []probe{{map[string]any{"n": 1}, "b"}, {map[string]any{"n": 3}, "b"}, {map[string]any{"n": 4}, ""}}},
		{"in array", `{"if": [{"in": [{"var": "c"}, ["us", "ca"]]}, "b"]}`, []probe{{map[string]any{"c": "ca"}, "b"}, {map[string]any{"c": "mx"}, ""}, {nil, ""}}},
		{"in string", `{"if": [{"in": ["@corp", {"var": "email"}]}, "b"]}`, []probe{{map[string]any{"email": "x@corp.com"}, "b"}, {map[string]any{"email": "x@home"}, ""}}},
		{"starts_with ends_with", `{"if": [{"starts_with": [{"var": "id"}, "abc"]}, "b", {"ends_with": [{"var": "id"}, "xyz"]}, "c"]}`,
			[]probe{{map[string]any{"id": "abc-1"}, "b"}, {map[string]any{"id": "1-xyz"}, "c"}, {map[string]any{"id": 5}, ""}}},
		{"targetingKey", `{"if": [{"==": [{"var": "targetingKey"}, "u1"]}, "b"]}`, []probe{{map[string]any{"targetingKey": "u1"}, "b"}, {map[string]any{"targetingKey": "u2"}, ""}}},
		{"$flagd.flagKey folds", `{"if": [{"==": [{"var": "$flagd.flagKey"}, "f"]}, "b", "c"]}`, []probe{{nil, "b"}}},
		{"$flagd.flagKey folds false", `{"if": [{"==": [{"var": ["$flagd.flagKey"]}, "g"]}, "b", "c"]}`, []probe{{nil, "c"}}},
		{"sem_ver >=", `{"if": [{"sem_ver": [{"var": "v"}, ">=", "1.2.0"]}, "b"]}`, []probe{{map[string]any{"v": "1.2.0"}, "b"}, {map[string]any{"v": "1.1.9"}, ""}, {map[string]any{"v": "junk"}, ""}}},
		{"sem_ver !=", `{"if": [{"sem_ver": [{"var": "v"}, "!=", "1.2.0"]}, "b"]}`, []probe{{map[string]any{"v": "1.2.1"}, "b"}, {map[string]any{"v": "1.2.0"}, ""}, {nil, ""}, {map[string]any{"v": "junk"}, ""}}},
		{"sem_ver ^", `{"if": [{"sem_ver": [{"var": "v"}, "^", "1.2.3"]}, "b"]}`,
			[]probe{{map[string]any{"v": "1.0.0"}, "b"}, {map[string]any{"v": "1.0.0-alpha"}, "b"}, {map[string]any{"v": "1.99.0"}, "b"}, {map[string]any{"v": "2.0.0-0"}, ""}, {map[string]any{"v": "0.9.9"}, ""}}},
		{"sem_ver ~", `{"if": [{"sem_ver": [{"var": "v"}, "~", "v1.2.3"]}, "b"]}`,
			[]probe{{map[string]any{"v": "1.2.0-0"}, "b"}, {map[string]any{"v": "1.2.99"}, "b"}, {map[string]any{"v": "1.3.0-rc"}, ""}, {map[string]any{"v": "1.1.9"}, ""}}},
		{"sem_ver literal first", `{"if": [{"sem_ver": ["2.0.0", ">", {"var": "v"}]}, "b"]}`, []probe{{map[string]any{"v": "1.0.0"}, "b"}, {map[string]any{"v": "2.0.0"}, ""}}},
		{"$ref", `{"if": [{"$ref": "isStaff"}, "b"]}`, []probe{{map[string]any{"email": "x@corp"}, "b"}, {nil, ""}}},
		{"fractional", `{"fractional": [["b", 50], ["c", 50]]}`, []probe{{map[string]any{"targetingKey": "u1"}, "split"}}},
		{"fractional weights scale", `{"fractional": [{"var": "email"}, ["b", 1], ["c", 3]]}`, []probe{{map[string]any{"email": "x@y"}, "split"}}},
		{"constant conditions", `{"if": [false, "b", true, "c", "a"]}`, []probe{{nil, "c"}}},
		{"$flagd.timestamp", `{"if": [{">": [{"var": "$flagd.timestamp"}, 1700000000]}, "b", "c"]}`, []probe{{nil, "b"}}},
		{"$flagd.timestamp in the future", `{"if": [{">=": [{"var": "$flagd.timestamp"}, 4102444800]}, "b", "c"]}`, []probe{{nil, "c"}}},
		{"fractional by targetingKey alone", `{"fractional": [{"var": "targetingKey"}, ["b", 50], ["c", 50]]}`, []probe{{map[string]any{"targetingKey": "u1"}, "split"}}},
	}
	evaluators := `"$evaluators": {"isStaff": {"ends_with": [{"var": "email"}, "@corp"]}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, err := importer.ImportFlagd(flagdDoc(tt.targeting, evaluators))
			require.NoError(t, err)
			require.Len(t, flags, 1)
			c, err := evaluator.Compile(flags[0])
			require.NoError(t, err)
			for _, p := range tt.probes {
				subject, _ := p.ctx["targetingKey"].(string)
				r := c.Evaluate(evaluator.Input{Environment: "production", Subject: subject, Attributes: evaluator.MapAttributes(p.ctx), Now: time.Now()})
				require.Equal(t, evaluator.NoError, r.Err, "context %v", p.ctx)
				switch p.want {
				case "":
					assert.Equal(t, "a", r.Variant, "context %v", p.ctx)
					assert.Equal(t, evaluator.DefaultServed, r.Outcome, "context %v", p.ctx)
				case "split":
					// flagd reports TARGETING_MATCH for a fractional too.
					assert.Equal(t, evaluator.RuleMatch, r.Outcome, "context %v", p.ctx)
					assert.Equal(t, evaluator.BucketMurmur3, flags[0].Bucketing)
				default:
					assert.Equal(t, p.want, r.Variant, "context %v", p.ctx)
					assert.Equal(t, evaluator.RuleMatch, r.Outcome, "context %v", p.ctx)
				}
			}
		})
	}
}

func TestFlagdFractionalWeights(t *testing.T) {
	flags, err := importer.ImportFlagd(flagdDoc(`{"fractional": [{"var": "email"}, ["b", 1], ["c", 3]]}`))
	require.NoError(t, err)
	require.Len(t, flags[0].Rules, 1)
	assert.Equal(t, &evaluator.Split{BucketBy: "email", Weights: []evaluator.WeightedValue{{Variant: "b", Weight: 25}, {Variant: "c", Weight: 75}}}, flags[0].Rules[0].Split)

	flags, err = importer.ImportFlagd(flagdDoc(`{"fractional": [["b"], ["c"]]}`))
	require.NoError(t, err)
	assert.Equal(t, &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "b", Weight: 50}, {Variant: "c", Weight: 50}}}, flags[0].Rules[0].Split,
		"a weight left out is 1; no bucket-by means flag key + targeting key")

}

// TestFlagdTestbedVectors checks translated flags against what flagd's
// conformance suite (open-feature/flagd-testbed, gherkin/targeting.feature,
// fractional "v2", the current bucketing) expects of flags like these.
func TestFlagdTestbedVectors(t *testing.T) {
	type probe struct {
		ctx  map[string]any
		want string
	}
	tests := []struct {
		name, flag, variants, def, targeting string
		probes                               []probe
	}{
		{"fractional shorthand", "fractional-flag-shorthand", `{"heads": "heads", "tails": "tails", "draw": "draw"}`, "draw",
			`{"fractional": [["heads"], ["tails", 1]]}`,
			[]probe{{map[string]any{"targetingKey": "jon@company.com"}, "heads"}, {map[string]any{"targetingKey": "jane@company.com"}, "tails"}}},
		// Keys whose murmur3 hash is 0, 1, 2^31-1, 2^31 and 2^32-1, bucketed
		// by the value alone (flagd buckets by {"var": "targetingKey"}; an
		// explicit attribute is the same hash here).
		{"hash edges", "fractional-hash-edge-flag", `{"lower": "lower", "upper": "upper"}`, "lower",
			`{"fractional": [{"var": "id"}, ["lower", 50], ["upper", 50]]}`,
			[]probe{{map[string]any{"id": "ejOoVL"}, "lower"}, {map[string]any{"id": "bY9fO-"}, "lower"}, {map[string]any{"id": "SI7p-"}, "lower"},
				{map[string]any{"id": "6LvT0"}, "upper"}, {map[string]any{"id": "ceQdGm"}, "upper"}}},
		{"starts and ends", "starts-ends-flag", `{"prefix": "prefix", "postfix": "postfix", "none": "none"}`, "none",
			`{"if": [{"starts_with": [{"var": "id"}, "abc"]}, "prefix", {"if": [{"ends_with": [{"var": "id"}, "xyz"]}, "postfix", {"if": [{"ends_with": [{"var": "id"}, 3]}, "fail", "none"]}]}]}`,
			[]probe{{map[string]any{"id": "abcdef"}, "prefix"}, {map[string]any{"id": "uvwxyz"}, "postfix"}, {map[string]any{"id": "abcxyz"}, "prefix"},
				{map[string]any{"id": "lmnopq"}, "none"}, {map[string]any{"id": "3"}, "none"}}},
		{"semver compare", "equal-greater-lesser-version-flag", `{"equal": "equal", "greater": "greater", "lesser": "lesser", "none": "none"}`, "none",
			`{"if": [{"sem_ver": [{"var": "version"}, "=", "2.0.0"]}, "equal", {"if": [{"sem_ver": [{"var": "version"}, ">", "2.0.0"]}, "greater",
				{"if": [{"sem_ver": [{"var": "version"}, "<", "2.0.0"]}, "lesser", {"if": [{"sem_ver": [{"var": "version"}, "=", "2.0.0.0"]}, "fail", "none"]}]}]}]}`,
			[]probe{{map[string]any{"version": "2.0.0"}, "equal"}, {map[string]any{"version": "2.1.0"}, "greater"}, {map[string]any{"version": "1.9.0"}, "lesser"},
				{map[string]any{"version": "2.0.0-alpha"}, "lesser"}, {map[string]any{"version": "2.0.0.0"}, "none"}}},
		{"semver ~ and ^", "major-minor-version-flag", `{"minor": "minor", "major": "major", "none": "none"}`, "none",
			`{"if": [{"sem_ver": [{"var": "version"}, "~", "3.0.0"]}, "minor", {"if": [{"sem_ver": [{"var": "version"}, "^", "3.0.0"]}, "major", "none"]}]}`,
			[]probe{{map[string]any{"version": "3.0.1"}, "minor"}, {map[string]any{"version": "3.1.0"}, "major"}, {map[string]any{"version": "4.0.0"}, "none"}}},
		{"semver partial", "semver-partial-version-flag", `{"match": "match", "no-match": "no-match"}`, "no-match",
			`{"if": [{"sem_ver": [{"var": "version"}, "^", "1"]}, "match", "no-match"]}`,
			[]probe{{map[string]any{"version": "1.5.0"}, "match"}, {map[string]any{"version": "1.0"}, "match"}, {map[string]any{"version": "1"}, "match"}, {map[string]any{"version": "2.0.0"}, "no-match"}}},
		{"semver build metadata", "semver-build-metadata-flag", `{"match": "match", "no-match": "no-match"}`, "no-match",
			`{"if": [{"sem_ver": [{"var": "version"}, "=", "1.0.0+build"]}, "match", "no-match"]}`,
			[]probe{{map[string]any{"version": "1.0.0"}, "match"}, {map[string]any{"version": "1.0.0+other"}, "match"}, {map[string]any{"version": "2.0.0"}, "no-match"}}},
		{"semver bad operator", "semver-invalid-operator-flag", `{"match": "match", "fallback": "fallback"}`, "fallback",
			`{"if": [{"sem_ver": [{"var": "version"}, "=~", "1.0.0"]}, "match", null]}`,
			[]probe{{map[string]any{"version": "1.0.0"}, "fallback"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"flags": {%q: {"state": "ENABLED", "variants": %s, "defaultVariant": %q, "targeting": %s}}}`, tt.flag, tt.variants, tt.def, tt.targeting)
			flags, err := importer.ImportFlagd([]byte(doc))
			require.NoError(t, err)
			c, err := evaluator.Compile(flags[0])
			require.NoError(t, err)
			for _, p := range tt.probes {
				subject, _ := p.ctx["targetingKey"].(string)
				r := c.Evaluate(evaluator.Input{Environment: "production", Subject: subject, Attributes: evaluator.MapAttributes(p.ctx)})
				require.Equal(t, evaluator.NoError, r.Err)
				assert.Equal(t, p.want, r.Variant, "context %v", p.ctx)
			}
		})
	}
}

// TestFlagdProblems: everything without an exact counterpart is an error
// naming the flag and the operator; no flags come back.
func TestFlagdProblems(t *testing.T) {
	tests := []struct {
		name        string
		targeting   string
		operator    string
		unsupported bool
	}{
		{"unknown flagd property", `{"if": [{"==": [{"var": "$flagd.other"}, 5]}, "b"]}`, "var $flagd.other", true},
		{"cat", `{"if": [{"==": [{"cat": ["a", {"var": "x"}]}, "ab"]}, "b"]}`, "cat", true},
		{"var as a variant", `{"var": "color"}`, "var", true},
		{"truthiness of var", `{"if": [{"var": "beta"}, "b"]}`, "var", true},
		{"var with a default", `{"if": [{"==": [{"var": ["x", 1]}, 1]}, "b"]}`, "var", true},
		{"two attributes", `{"if": [{"==": [{"var": "x"}, {"var": "y"}]}, "b"]}`, "==", true},
		{"string ordering", `{"if": [{"<": [{"var": "x"}, "m"]}, "b"]}`, "<", true},
		{"substring of a literal", `{"if": [{"in": [{"var": "x"}, "abcdef"]}, "b"]}`, "in", true},
		{"sem_ver between attributes", `{"if": [{"sem_ver": [{"var": "v"}, "=", {"var": "w"}]}, "b"]}`, "sem_ver", true},
		{"starts_with an attribute", `{"if": [{"starts_with": [{"var": "v"}, {"var": "w"}]}, "b"]}`, "starts_with", true},
		{"fractional inexact weights", `{"fractional": [["b", 1], ["c", 2]]}`, "fractional", true},
		{"fractional null bucket", `{"fractional": [["b", 50], [null, 50]]}`, "fractional", true},
		{"fractional by cat", `{"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["b", 50], ["c", 50]]}`, "cat", true},
		{"fractional negative weight", `{"fractional": [["b", -1], ["c", 2]]}`, "fractional", false},
		{"missing $ref", `{"if": [{"$ref": "nope"}, "b"]}`, "$ref", false},
		{"two operators in one object", `{"if": [{"==": [1, 1], "!=": [1, 2]}, "b"]}`, "", false},
		{"unknown operator", `{"if": [{"some": [[1], {"==": [1, 1]}]}, "b"]}`, "some", true},
		{"arithmetic", `{"if": [{">": [{"+": [{"var": "x"}, 1]}, 5]}, "b"]}`, "+", true},
		{"array variant", `["b"]`, "", true},
		{"?: is not supported", `{"?:": [true, "b", "c"]}`, "?:", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"flags": {"ok": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"},
				"f": {"state": "ENABLED", "variants": {"a": "A", "b": "B", "c": "C"}, "defaultVariant": "a", "targeting": ` + tt.targeting + `}}}`
			flags, err := importer.ImportFlagd([]byte(doc))
			require.Error(t, err)
			assert.Nil(t, flags)
			ps := problemsOf(t, err)
			require.NotEmpty(t, ps)
			assert.Equal(t, "f", ps[0].Flag)
			assert.Equal(t, tt.operator, ps[0].Operator, ps[0].String())
			assert.Equal(t, tt.unsupported, ps[0].Unsupported, ps[0].String())
			assert.Contains(t, ps[0].Field, "targeting")
			assert.Contains(t, err.Error(), `flag "f"`)
		})
	}
}

func TestFlagdDocument(t *testing.T) {
	t.Run("state, metadata and set metadata", func(t *testing.T) {
		doc := `{"$schema": "https://flagd.dev/schema/v0/flags.json", "metadata": {"flagSetId": "shop", "team": "web"},
			"flags": {"f": {"state": "DISABLED", "variants": {"a": 1}, "defaultVariant": "a", "metadata": {"team": "checkout", "n": 3}}}}`
		flags, err := importer.ImportFlagd([]byte(doc))
		require.NoError(t, err)
		require.Len(t, flags, 1)
		assert.False(t, flags[0].DefaultEnabled)
		assert.Equal(t, map[string]any{"flagSetId": "shop", "team": "checkout", "n": json.Number("3")}, flags[0].Metadata)
		assert.Empty(t, flags[0].Rules)
		assert.Empty(t, flags[0].Bucketing, "no split, no bucketing scheme")
	})
	t.Run("empty targeting is none", func(t *testing.T) {
		flags, err := importer.ImportFlagd(flagdDoc(`{}`))
		require.NoError(t, err)
		assert.Empty(t, flags[0].Rules)
	})
	t.Run("targeting that never names a variant keeps DEFAULT", func(t *testing.T) {
		flags, err := importer.ImportFlagd(flagdDoc(`{"if": [false, "b"]}`))
		require.NoError(t, err)
		c, err := evaluator.Compile(flags[0])
		require.NoError(t, err)
		r := c.Evaluate(evaluator.Input{Environment: "production", Subject: "u1"})
		assert.Equal(t, evaluator.DefaultServed, r.Outcome)
		assert.Equal(t, "a", r.Variant)
	})
	for _, tt := range []struct{ name, doc, field string }{
		{"no flags", `{}`, "flags"},
		{"flags not an object", `{"flags": 1}`, "flags"},
		{"unknown top-level field", `{"flags": {}, "extra": 1}`, "extra"},
		{"bad state", `{"flags": {"f": {"state": "ON", "variants": {"a": 1}, "defaultVariant": "a"}}}`, "state"},
		{"unknown flag field", `{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "rules": []}}}`, "rules"},
		{"evaluators not an object", `{"flags": {}, "$evaluators": []}`, "$evaluators"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := importer.ImportFlagd([]byte(tt.doc))
			require.Error(t, err)
			assert.ErrorIs(t, err, importer.ErrInvalid)
			assert.Equal(t, tt.field, problemsOf(t, err)[0].Field)
		})
	}
	t.Run("$ref cycle", func(t *testing.T) {
		_, err := importer.ImportFlagd(flagdDoc(`{"if": [{"$ref": "x"}, "b"]}`, `"$evaluators": {"x": {"$ref": "x"}}`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cycle")
	})
}
