package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/schema"
)

// compile compiles flag.schema.json; the compiler also checks it against
// the draft 2020-12 meta-schema.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Flag))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	require.NoError(t, c.AddResource(schema.ID, doc))
	sch, err := c.Compile(schema.ID)
	require.NoError(t, err)
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, def []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(def))
	require.NoError(t, err, "%s", def)
	return sch.Validate(inst)
}

func TestSchemaCompiles(t *testing.T) {
	compile(t)
	var top map[string]any
	require.NoError(t, json.Unmarshal(schema.Flag, &top))
	assert.Equal(t, schema.ID, top["$id"])
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", top["$schema"])
}

// example is one definition and where it came from.
type example struct {
	name string
	def  json.RawMessage
}

// examples gathers every example definition in the repository: this
// package's testdata, the importer's native testdata, and what the
// importers make of the OpenFeature spec's two flag files (when
// OPENFEATURE_SPEC_DIR names them), as Export writes them.
func examples(t *testing.T) []example {
	t.Helper()
	var out []example
	files, err := filepath.Glob("testdata/valid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, example{f, b})
	}
	addArray := func(name string, data []byte) {
		var defs []json.RawMessage
		require.NoError(t, json.Unmarshal(data, &defs), name)
		for _, d := range defs {
			var k struct {
				Key string `json:"flagKey"`
			}
			require.NoError(t, json.Unmarshal(d, &k))
			out = append(out, example{name + ":" + k.Key, d})
		}
	}
	native, err := os.ReadFile("../importer/testdata/native.json")
	require.NoError(t, err)
	addArray("importer/testdata/native.json", native)

	dir := os.Getenv("OPENFEATURE_SPEC_DIR")
	if dir == "" {
		t.Log("OPENFEATURE_SPEC_DIR is not set: the importers' outputs for the spec's flag files are not checked")
		return out
	}
	for _, f := range []struct {
		file string
		imp  func([]byte, ...importer.Option) ([]evaluator.Flag, error)
		skip []string
	}{
		{"test-flags.json", importer.ImportSpec, []string{"null-default-flag", "undefined-default-flag"}},
		{"testing-flags.json", importer.ImportFlagd, []string{"null-default-flag", "undefined-default-flag", "timestamp-flag",
			"no-default-flag-null-targeting-variant", "no-default-flag-undefined-targeting-variant"}},
	} {
		data, err := os.ReadFile(filepath.Join(dir, "flags", f.file))
		require.NoError(t, err)
		flags, err := f.imp(data, importer.WithSkip(f.skip...))
		require.NoError(t, err)
		exported, err := importer.Export(flags)
		require.NoError(t, err)
		addArray("import of "+f.file, exported)
	}
	return out
}

// TestExamplesValidate: every example validates against the schema,
// evaluator.ParseFlag accepts it too (the schema says nothing ParseFlag
// contradicts), and the definition as redisflags marshals it validates.
func TestExamplesValidate(t *testing.T) {
	sch := compile(t)
	exs := examples(t)
	for _, ex := range exs {
		t.Run(ex.name, func(t *testing.T) {
			assert.NoError(t, validate(t, sch, ex.def), "%s", ex.def)
			f, err := evaluator.ParseFlag(ex.def, "")
			require.NoError(t, err, "%s", ex.def)
			// What redisflags writes back (Export, the HTTP API) validates too.
			out, err := json.Marshal(f)
			require.NoError(t, err)
			assert.NoError(t, validate(t, sch, out), "%s", out)
		})
	}
	t.Logf("%d example definitions validate", len(exs))
}

// TestInvalidDefinitionsFail: definitions the schema must reject — and
// which ParseFlag rejects as well.
func TestInvalidDefinitionsFail(t *testing.T) {
	sch := compile(t)
	tests := []struct{ name, def string }{
		{"no flag key", `{"defaultEnabled": true}`},
		{"flag key with a colon", `{"flagKey": "a:b"}`},
		{"unknown field", `{"flagKey": "a", "rollout": 5}`},
		{"percent over 100", `{"flagKey": "a", "environments": {"p": {"enabled": true, "rolloutPercent": 101}}}`},
		{"fractional percent", `{"flagKey": "a", "environments": {"p": {"enabled": true, "rolloutPercent": 2.5}}}`},
		{"percent as text", `{"flagKey": "a", "environments": {"p": {"rolloutPercent": "25"}}}`},
		{"unknown environment field", `{"flagKey": "a", "environments": {"p": {"enable": true}}}`},
		{"empty allowlisted user", `{"flagKey": "a", "environments": {"p": {"allowlistUsers": [""]}}}`},
		{"bad bucketing", `{"flagKey": "a", "bucketing": "crc32"}`},
		{"bad kill date", `{"flagKey": "a", "expiresAt": "next year"}`},
		{"reserved metadata key", `{"flagKey": "a", "metadata": {"version": 2}}`},
		{"metadata object value", `{"flagKey": "a", "metadata": {"x": {"y": 1}}}`},
		{"rules on a tutorial flag", `{"flagKey": "a", "rules": [{"variant": "on"}]}`},
		{"default variant on a tutorial flag", `{"flagKey": "a", "defaultVariant": "on"}`},
		{"variants without a default", `{"flagKey": "a", "variants": {"x": 1}}`},
		{"null variant value", `{"flagKey": "a", "variants": {"x": null}, "defaultVariant": "x"}`},
		{"bad variant name", `{"flagKey": "a", "variants": {"x y": 1}, "defaultVariant": "x y"}`},
		{"allowlist on a variant flag", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "environments": {"p": {"enabled": true, "allowlistUsers": ["u"]}}}`},
		{"rollout on a variant flag", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "environments": {"p": {"enabled": true, "rolloutPercent": 5}}}`},
		{"rule serving nothing", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "rules": [{"name": "r"}]}`},
		{"rule serving both", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"variant": "x", "split": {"weights": [{"variant": "x", "weight": 100}]}}]}`},
		{"unknown rule field", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "rules": [{"variant": "x", "when": "always"}]}`},
		{"unknown operator", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "like", "values": ["a"]}], "variant": "x"}]}`},
		{"two forms in a condition", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "exists", "not": {"attribute": "d", "op": "exists"}}], "variant": "x"}]}`},
		{"empty condition", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "rules": [{"conditions": [{}], "variant": "x"}]}`},
		{"empty all", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "rules": [{"conditions": [{"all": []}], "variant": "x"}]}`},
		{"exists with values", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "exists", "values": [1]}], "variant": "x"}]}`},
		{"equals two values", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "equals", "values": [1, 2]}], "variant": "x"}]}`},
		{"lt a string", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "lt", "values": ["5"]}], "variant": "x"}]}`},
		{"in without values", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "in"}], "variant": "x"}]}`},
		{"startsWith a number", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "c", "op": "startsWith", "values": [5]}], "variant": "x"}]}`},
		{"bad version", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "v", "op": "semverGt", "values": ["1.2.3.4"]}], "variant": "x"}]}`},
		{"nested bad condition", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"any": [{"not": {"attribute": "c", "op": "equals"}}]}], "variant": "x"}]}`},
		{"split weight over 100", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "split": {"weights": [{"variant": "x", "weight": 150}]}}`},
		{"split without weights", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "split": {"bucketBy": "id"}}`},
		{"thousandths without launchdarkly bucketing", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"split": {"weights": [{"variant": "x", "weight": 100000}]}}`},
		{"split context kind without launchdarkly bucketing", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"split": {"contextKind": "org", "weights": [{"variant": "x", "weight": 100}]}}]}`},
		{"launchdarkly bucketing on a tutorial flag", `{"flagKey": "a", "bucketing": "launchdarkly"}`},
		{"targets on a tutorial flag", `{"flagKey": "a", "targets": [{"values": ["u"], "variant": "on"}]}`},
		{"unknown semantics", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "semantics": "unleash"}`},
		{"prerequisite without a variant", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "prerequisites": [{"flag": "b"}]}`},
		{"target without a variant", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "targets": [{"values": ["u"]}]}`},
		{"context kind multi", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "k", "op": "in", "values": ["a"], "contextKind": "multi"}], "variant": "x"}]}`},
		{"notIn in a clause", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "k", "op": "notIn", "values": ["a"], "contextKind": "user"}], "variant": "x"}]}`},
		{"segmentMatch with an attribute", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x", "segments": {"s": {}},
			"rules": [{"conditions": [{"attribute": "k", "op": "segmentMatch", "values": ["s"]}], "variant": "x"}]}`},
		{"segment rule weight over 100000", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"segments": {"s": {"rules": [{"weight": 100001}]}}}`},
		{"segment rule bucketBy without weight", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"segments": {"s": {"rules": [{"bucketBy": "key"}]}}}`},
		{"before a bool", `{"flagKey": "a", "variants": {"x": 1}, "defaultVariant": "x",
			"rules": [{"conditions": [{"attribute": "d", "op": "before", "values": [true]}], "variant": "x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Error(t, validate(t, sch, []byte(tt.def)), "the schema accepts %s", tt.def)
			_, err := evaluator.ParseFlag([]byte(tt.def), "")
			assert.Error(t, err, "ParseFlag accepts %s", tt.def)
		})
	}
}

// TestSchemaCoversEveryField walks evaluator.Flag's JSON fields, and those
// of every struct it holds, and checks that the schema describes each (and
// nothing else): a field added to the model without the schema fails here.
func TestSchemaCoversEveryField(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(schema.Flag, &doc))
	defs := doc["$defs"].(map[string]any)
	// Where each struct of the model is described.
	locate := func(typ reflect.Type) map[string]any {
		switch typ.Name() {
		case "Flag":
			return doc
		case "WeightedValue":
			weights := defs["split"].(map[string]any)["properties"].(map[string]any)["weights"].(map[string]any)
			return weights["items"].(map[string]any)
		}
		name := strings.ToLower(typ.Name()[:1]) + typ.Name()[1:]
		def, ok := defs[name].(map[string]any)
		if !ok {
			t.Errorf("the schema has no $defs/%s for evaluator.%s", name, typ.Name())
			return nil
		}
		return def
	}
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[evaluator.Flag]().PkgPath() || seen[typ] {
			return
		}
		seen[typ] = true
		def := locate(typ)
		if def == nil {
			return
		}
		props, _ := def["properties"].(map[string]any)
		var fields []string
		for f := range typ.Fields() {
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields = append(fields, name)
			if _, ok := props[name]; !ok {
				t.Errorf("evaluator.%s.%s (%q) is not in the schema", typ.Name(), f.Name, name)
			}
			walk(f.Type)
		}
		for name := range props {
			if !slices.Contains(fields, name) {
				t.Errorf("the schema describes %q, which evaluator.%s does not have", name, typ.Name())
			}
		}
	}
	walk(reflect.TypeFor[evaluator.Flag]())
	assert.GreaterOrEqual(t, len(seen), 6, "the walk found the model's structs")
}
