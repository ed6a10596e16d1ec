package importer_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func TestImportNativeForms(t *testing.T) {
	one := `{"flagKey": "a", "description": "", "defaultEnabled": true, "environments": {"production": {"enabled": true, "rolloutPercent": 100}}}`
	tests := []struct {
		name string
		doc  string
		keys []string
	}{
		{"array", `[` + one + `, {"flagKey": "b", "defaultEnabled": false, "environments": {}}]`, []string{"a", "b"}},
		{"list response", `{"flags": [` + one + `], "errors": []}`, []string{"a"}},
		{"one definition", one, []string{"a"}},
		{"empty array", `[]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, err := importer.ImportNative([]byte(tt.doc))
			require.NoError(t, err)
			var keys []string
			for _, f := range flags {
				keys = append(keys, f.Key)
			}
			assert.Equal(t, tt.keys, keys)
			f, format, err := importer.Import([]byte(tt.doc))
			require.NoError(t, err)
			assert.Equal(t, importer.FormatNative, format)
			assert.Len(t, f, len(tt.keys))
		})
	}
}

func TestImportNativeProblems(t *testing.T) {
	tests := []struct {
		name, doc, flag, field string
	}{
		{"empty", ``, "", ""},
		{"not JSON", `[{`, "", ""},
		{"a number", `7`, "", ""},
		{"percent out of range", `[{"flagKey": "a", "defaultEnabled": true, "environments": {"p": {"enabled": true, "rolloutPercent": 101}}}]`, "a", "[0].environments.p.rolloutPercent"},
		{"typo", `[{"flagKey": "a", "defaultEnabled": true, "environments": {}, "rollout": 5}]`, "a", "[0].rollout"},
		{"duplicate", `[{"flagKey": "a", "environments": {}}, {"flagKey": "a", "environments": {}}]`, "a", "[1].flagKey"},
		{"incomplete list response", `{"flags": [], "errors": ["flag \"x\": percent"]}`, "", "errors"},
		{"unknown list field", `{"flags": [], "next": 2}`, "", "next"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, err := importer.ImportNative([]byte(tt.doc))
			require.Error(t, err)
			assert.Nil(t, flags)
			assert.ErrorIs(t, err, importer.ErrInvalid)
			ps := problemsOf(t, err)
			assert.Equal(t, tt.flag, ps[0].Flag, ps[0].String())
			assert.Equal(t, tt.field, ps[0].Field, ps[0].String())
		})
	}
	flags, err := importer.ImportNative([]byte(`[{"flagKey": "a", "environments": {}}, {"flagKey": "b", "rollout": 1}]`), importer.WithSkip("b"))
	require.NoError(t, err, "a skipped flag is not checked")
	assert.Len(t, flags, 1)
}

func TestDetect(t *testing.T) {
	for doc, want := range map[string]importer.Format{
		`[]`:                                    importer.FormatNative,
		`{"flags": []}`:                         importer.FormatNative,
		`{"flagKey": "a"}`:                      importer.FormatNative,
		`{"flags": {}}`:                         importer.FormatFlagd,
		`{"f": {"variants": {}}}`:               importer.FormatSpec,
		` {"$schema": "x", "flags": {"a": {}}}`: importer.FormatFlagd,
		`{"flags": {"a": {"state": "ENABLED", "variants": {"x": 1}}}}`: importer.FormatFlagd,
		`{"flags": {"a": {"key": "a", "variations": [true]}}}`:         importer.FormatLaunchDarkly,
		`{"flags": {}, "segments": {}}`:                                importer.FormatLaunchDarkly,
		`{"flagValues": {"a": 1}}`:                                     importer.FormatLaunchDarkly,
	} {
		got, err := importer.Detect([]byte(doc))
		require.NoError(t, err, doc)
		assert.Equal(t, want, got, doc)
	}
	for _, doc := range []string{``, `7`, `{`} {
		_, err := importer.Detect([]byte(doc))
		assert.ErrorIs(t, err, importer.ErrInvalid, doc)
	}
}

func TestExportIsSortedAndReadable(t *testing.T) {
	flags, err := importer.ImportNative(readTestdata(t, "native.json"))
	require.NoError(t, err)
	reversed := []evaluator.Flag{flags[3], flags[2], flags[1], flags[0]}
	out, err := importer.Export(reversed)
	require.NoError(t, err)
	assert.Equal(t, "checkout-banner", reversed[3].Key, "Export does not reorder its argument")
	back, err := importer.ImportNative(out)
	require.NoError(t, err)
	assert.Equal(t, jsonForm(t, flags), jsonForm(t, back))
	assert.Contains(t, string(out), `"title": "Fast checkout"`)

	empty, err := importer.Export(nil)
	require.NoError(t, err)
	assert.JSONEq(t, `[]`, string(empty))
}

// jsonForm is the comparable form of definitions: their JSON decoded with
// numbers as float64 (a store may give json.Number back as float64), without
// the fields a store sets (updatedAt, version).
func jsonForm(t *testing.T, flags []evaluator.Flag) []any {
	t.Helper()
	b, err := json.Marshal(flags)
	require.NoError(t, err)
	var out []any
	require.NoError(t, json.Unmarshal(b, &out))
	for _, f := range out {
		m := f.(map[string]any)
		delete(m, "updatedAt")
		delete(m, "version")
		if envs, ok := m["environments"].(map[string]any); ok {
			for _, e := range envs {
				em := e.(map[string]any)
				delete(em, "updatedAt")
				// A store gives back empty lists for absent ones.
				for _, l := range []string{"allowlistUsers", "allowlistRegions"} {
					if v, ok := em[l].([]any); ok && len(v) == 0 {
						em[l] = nil
					}
				}
			}
			if len(envs) == 0 {
				m["environments"] = nil
			}
		}
	}
	return out
}

// TestRoundTripThroughStore imports every example (native testdata and both
// spec files), writes them with the store, lists them back, exports and
// imports again: the definitions must come back unchanged, on miniredis and
// on a real redis-server.
func TestRoundTripThroughStore(t *testing.T) {
	var flags []evaluator.Flag
	native, err := importer.ImportNative(readTestdata(t, "native.json"))
	require.NoError(t, err)
	flags = append(flags, native...)
	if os.Getenv("OPENFEATURE_SPEC_DIR") != "" {
		spec, err := importer.ImportSpec(readSpecFile(t, "test-flags.json"), importer.WithSkip(specUnsupported...))
		require.NoError(t, err)
		flagd, err := importer.ImportFlagd(readSpecFile(t, "testing-flags.json"), importer.WithSkip(flagdUnsupported...))
		require.NoError(t, err)
		// The two files share keys; keep the flagd ones under their own.
		for i := range flagd {
			flagd[i].Key = "flagd." + flagd[i].Key
		}
		flags = append(flags, spec...)
		flags = append(flags, flagd...)
	}
	exported, err := importer.Export(flags)
	require.NoError(t, err)
	want, err := importer.ImportNative(exported)
	require.NoError(t, err)

	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := store.New(rdb)
		for _, f := range want {
			_, err := s.Upsert(ctx, f)
			require.NoError(t, err, f.Key)
		}
		stored, err := s.List(ctx)
		require.NoError(t, err)
		out, err := importer.Export(stored)
		require.NoError(t, err)
		got, err := importer.ImportNative(out)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		assert.Equal(t, jsonForm(t, want), jsonForm(t, got))
		for _, f := range got {
			assert.NotZero(t, f.Version, "the store sets the version")
			assert.NotEmpty(t, f.UpdatedAt, "the store sets updatedAt")
		}
	})
}

// TestRoundTripKeepsLargeIntegers: metadata integers are int64 (docs/design.md §4),
// so one above 2^53 must survive the store exactly.
func TestRoundTripKeepsLargeIntegers(t *testing.T) {
	flags, err := importer.ImportNative([]byte(`[{"flagKey": "p", "defaultEnabled": true, "environments": {},
		"variants": {"a": 1}, "defaultVariant": "a", "metadata": {"big": 9007199254740993}}]`))
	require.NoError(t, err)
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s := store.New(rdb)
		_, err := s.Upsert(t.Context(), flags[0])
		require.NoError(t, err)
		got, err := s.Get(t.Context(), "p")
		require.NoError(t, err)
		c, err := evaluator.Compile(got)
		require.NoError(t, err)
		assert.Equal(t, int64(9007199254740993), c.FlagMetadata()["big"])
	})
}

func TestJSONSyntaxErrorNamesLineAndColumn(t *testing.T) {
	data := []byte("[\n {\"key\": \"a\",\n  \"defaultEnabled\": tru }\n]\n")
	_, err := importer.ImportNative(data)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 3, column 24", "the space after tru is the offending byte")
	_, err = importer.ImportFlagd([]byte("{\"flags\": {\n\"a\": }}"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2, column 6")
	plain := errors.New("x")
	assert.Same(t, plain, importer.JSONPosition(nil, plain), "other errors are left alone")
}
