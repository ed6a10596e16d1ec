package importer_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

// specDir is the OpenFeature spec checkout the importers are tested on:
// OPENFEATURE_SPEC_DIR, or the copy beside the repository.
func specDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("OPENFEATURE_SPEC_DIR")
	if dir == "" {
		t.Skip("OPENFEATURE_SPEC_DIR is not set: skipping the tests on the spec's flag files")
	}
	return dir
}

func readSpecFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(specDir(t), "flags", name))
	require.NoError(t, err)
	return b
}

// Flags of the spec's files that redisflags cannot express exactly (no
// default variant; "$flagd.timestamp").
var (
	specUnsupported  = []string{"null-default-flag", "undefined-default-flag"}
	flagdUnsupported = []string{"null-default-flag", "undefined-default-flag", "timestamp-flag",
		"no-default-flag-null-targeting-variant", "no-default-flag-undefined-targeting-variant"}
)

func byKey(flags []evaluator.Flag) map[string]evaluator.Flag {
	m := map[string]evaluator.Flag{}
	for _, f := range flags {
		m[f.Key] = f
	}
	return m
}

func problemsOf(t *testing.T, err error) []importer.Problem {
	t.Helper()
	var ie *importer.Error
	require.ErrorAs(t, err, &ie)
	return ie.Problems
}

func TestImportSpecTestFlags(t *testing.T) {
	data := readSpecFile(t, "test-flags.json")

	flags, err := importer.ImportSpec(data)
	require.Error(t, err, "the file has flags without a default variant")
	assert.Nil(t, flags, "an import with a bad flag returns no flags")
	assert.ErrorIs(t, err, importer.ErrUnsupported)
	assert.NotErrorIs(t, err, importer.ErrInvalid)
	var bad []string
	for _, p := range problemsOf(t, err) {
		assert.Equal(t, "defaultVariant", p.Field)
		assert.True(t, p.Unsupported)
		bad = append(bad, p.Flag)
	}
	assert.ElementsMatch(t, specUnsupported, bad)

	flags, err = importer.ImportSpec(data, importer.WithSkip(specUnsupported...))
	require.NoError(t, err)
	require.Len(t, flags, 23)
	m := byKey(flags)

	b := m["boolean-flag"]
	assert.True(t, b.DefaultEnabled)
	assert.Nil(t, b.Environments, "applies to every environment")
	assert.Equal(t, "on", b.DefaultVariant)
	assert.JSONEq(t, "true", string(b.Variants["on"]))
	assert.Nil(t, b.Metadata, "flagMetadata null is no metadata")
	assert.Empty(t, b.Rules)

	d := m["object-disabled-flag"]
	assert.False(t, d.DefaultEnabled)
	assert.Empty(t, d.OffVariant, "disabled serves the caller's default")

	c := m["complex-targeted"]
	require.Len(t, c.Rules, 1)
	assert.Equal(t, "!customer && email == 'ballmer@macrosoft.com' && age > 10 ? 'internal' : ''", c.Rules[0].CEL)
	assert.Empty(t, c.Rules[0].Variant, "the expression names the variant")

	md := m["metadata-flag"]
	assert.Equal(t, map[string]any{"string": "1.0.2", "integer": json.Number("2"), "boolean": true, "float": json.Number("0.1")}, md.Metadata)

	for _, f := range flags {
		_, err := evaluator.Compile(f)
		require.NoError(t, err, f.Key)
	}
}

// TestImportSpecEvaluates checks the translated CEL rules: a match is
// TARGETING_MATCH, an empty variant name or a missing attribute the default
// with DEFAULT, and a flag without rules STATIC.
func TestImportSpecEvaluates(t *testing.T) {
	flags, err := importer.ImportSpec(readSpecFile(t, "test-flags.json"), importer.WithSkip(specUnsupported...))
	require.NoError(t, err)
	m := byKey(flags)
	eval := func(key string, attrs map[string]any) evaluator.Result {
		c, err := evaluator.Compile(m[key])
		require.NoError(t, err)
		return c.Evaluate(evaluator.Input{Environment: "production", Attributes: evaluator.MapAttributes(attrs)})
	}
	r := eval("string-targeted-zero-flag", map[string]any{"email": "ballmer@macrosoft.com"})
	assert.Equal(t, evaluator.RuleMatch, r.Outcome)
	assert.Equal(t, "zero", r.Variant)
	r = eval("string-targeted-zero-flag", map[string]any{"email": "ballmer@none.com"})
	assert.Equal(t, evaluator.DefaultServed, r.Outcome)
	r = eval("string-targeted-zero-flag", nil)
	assert.Equal(t, evaluator.DefaultServed, r.Outcome)
	r = eval("complex-targeted", map[string]any{"email": "ballmer@macrosoft.com", "age": 65, "customer": false})
	assert.Equal(t, "internal", r.Variant)
	r = eval("string-flag", nil)
	assert.Equal(t, evaluator.Static, r.Outcome)
	r = eval("string-disabled-flag", nil)
	assert.Equal(t, evaluator.FlagDisabled, r.Outcome)
	assert.Empty(t, r.Variant)
}

func TestImportSpecProblems(t *testing.T) {
	tests := []struct {
		name        string
		doc         string
		flag, field string
		unsupported bool
	}{
		{"not an object", `[1]`, "", "", false},
		{"trailing data", `{"ok": {"variants": {"a": 1}, "defaultVariant": "a"}} {}`, "", "", false},
		{"flag not an object", `{"f": 3}`, "f", "", false},
		{"unknown field", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "rollout": 5}}`, "f", "rollout", false},
		{"no variants", `{"f": {"defaultVariant": "a"}}`, "f", "variants", false},
		{"variants not an object", `{"f": {"variants": [1], "defaultVariant": "a"}}`, "f", "variants", false},
		{"null variant", `{"f": {"variants": {"a": null}, "defaultVariant": "a"}}`, "f", "variants.a", true},
		{"default missing", `{"f": {"variants": {"a": 1}}}`, "f", "defaultVariant", true},
		{"default not a string", `{"f": {"variants": {"a": 1}, "defaultVariant": 1}}`, "f", "defaultVariant", false},
		{"disabled not a bool", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "disabled": "yes"}}`, "f", "disabled", false},
		{"evaluator not a string", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "contextEvaluator": 1}}`, "f", "contextEvaluator", false},
		{"metadata value an object", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "flagMetadata": {"x": {}}}}`, "f", "flagMetadata.x", false},
		{"default names no variant", `{"f": {"variants": {"a": 1}, "defaultVariant": "b"}}`, "f", "defaultVariant", false},
		{"CEL does not compile", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "contextEvaluator": "x ==="}}`, "f", "rules[0](contextEvaluator).cel", false},
		{"CEL yields a bool", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "contextEvaluator": "x == 1"}}`, "f", "rules[0](contextEvaluator).cel", false},
		{"bad flag key", `{"f:1": {"variants": {"a": 1}, "defaultVariant": "a"}}`, "f:1", "flagKey", false},
		{"reserved metadata key", `{"f": {"variants": {"a": 1}, "defaultVariant": "a", "flagMetadata": {"version": 1}}}`, "f", "metadata.version", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Beside a good flag, which does not save the import.
			doc := tt.doc
			if tt.flag != "" {
				doc = `{"ok": {"variants": {"a": 1}, "defaultVariant": "a"}, ` + tt.doc[1:]
			}
			flags, err := importer.ImportSpec([]byte(doc))
			require.Error(t, err)
			assert.Nil(t, flags, "a bad flag spoils the import")
			ps := problemsOf(t, err)
			require.NotEmpty(t, ps)
			assert.Equal(t, tt.flag, ps[0].Flag)
			assert.Equal(t, tt.field, ps[0].Field)
			assert.Equal(t, tt.unsupported, ps[0].Unsupported)
			if tt.unsupported {
				assert.ErrorIs(t, err, importer.ErrUnsupported)
			} else {
				assert.ErrorIs(t, err, importer.ErrInvalid)
			}
			if tt.flag != "" {
				assert.Contains(t, err.Error(), `flag "`+tt.flag+`"`)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	_, err := importer.ImportSpec([]byte(`{"a": {"variants": {"x": 1}}, "b": {"variants": {"x": 1}, "defaultVariant": "x", "oops": 1}}`))
	require.Error(t, err)
	assert.True(t, errors.Is(err, importer.ErrInvalid) && errors.Is(err, importer.ErrUnsupported), "both kinds: %v", err)
	assert.Len(t, problemsOf(t, err), 2, "every problem is reported, not only the first")
}
