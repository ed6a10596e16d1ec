package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
)

// The spec and flagd samples under testdata/ are copied from the files the
// conformance suites use (Apache-2.0): openfeature-spec.json from
// open-feature/spec specification/assets/gherkin/test-flags.json, flagd.json
// and flagd-unsupported.json from open-feature/flagd-testbed
// flags/testing-flags.json. launchdarkly*.json are written for these tests.

// storedFlag is "redisflags flags get KEY", parsed.
func storedFlag(t *testing.T, url, prefix, key string) evaluator.Flag {
	t.Helper()
	out := mustRunCLI(t, "flags", "get", key, "--redis-url", url, "--key-prefix", prefix)
	f, err := evaluator.ParseFlag([]byte(out), key)
	require.NoError(t, err, "flags get %s printed:\n%s", key, out)
	return f
}

// indexOf returns the sorted members of P:index.
func indexOf(t *testing.T, srv *redistest.Server, prefix string) []string {
	t.Helper()
	keys, err := srv.Client(t).SMembers(t.Context(), prefix+":index").Result()
	require.NoError(t, err)
	slices.Sort(keys)
	return keys
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// TestImportReadsEveryFormat imports a file of each format and checks that
// "flags get" shows exactly what the importer package translates, options
// included, and that the command says what it left out.
func TestImportReadsEveryFormat(t *testing.T) {
	srv := redistest.Start(t)
	ld := func(opts ...importer.LDOption) func([]byte) ([]evaluator.Flag, error) {
		return func(data []byte) ([]evaluator.Flag, error) {
			res, err := importer.LaunchDarkly(data, opts...)
			if err != nil {
				return nil, err
			}
			return res.Flags, nil
		}
	}
	tests := []struct {
		name string
		file string
		args []string
		// want is the importer package's translation of the file.
		want     func([]byte) ([]evaluator.Flag, error)
		wantKeys []string
		wantOut  []string
		check    func(t *testing.T, got map[string]evaluator.Flag)
	}{
		{
			name: "launchdarkly", file: "launchdarkly.json", args: []string{"--format", "launchdarkly"},
			want: ld(), wantKeys: []string{"banner-text", "new-checkout"},
			wantOut: []string{`skipped "old-toggle": deleted in LaunchDarkly`, ": 2 written, 0 unchanged, 0 failed"},
			check: func(t *testing.T, got map[string]evaluator.Flag) {
				f := got["new-checkout"]
				assert.Equal(t, "launchdarkly", f.Bucketing)
				assert.JSONEq(t, "true", string(f.Variants["0"]))
				assert.Equal(t, []string{"user-2", "user-3"}, got["banner-text"].Segments["beta-testers"].Included, "the segment travels with the flag")
			},
		},
		{
			// Malformed flags import, with a warning naming the flag and
			// field of each malformed part, and the command succeeds.
			name: "launchdarkly with malformed flags", file: "launchdarkly-malformed.json",
			args: []string{"--format", "launchdarkly", "--skip-unsupported"},
			want: ld(importer.LDSkipUnsupported()), wantKeys: []string{"banner", "fine", "new-checkout"},
			wantOut: []string{
				`warning: flag "banner": rules[0].clauses[0].attribute: "///" is not a LaunchDarkly attribute reference`,
				`warning: flag "new-checkout": fallthrough.variation: variation 5 is out of range`,
				"2 malformed parts in 2 flags, imported as malformed: an evaluation that reaches one answers the caller's default with PARSE_ERROR",
				": 3 written, 0 unchanged, 0 failed",
			},
			check: func(t *testing.T, got map[string]evaluator.Flag) {
				assert.Equal(t, evaluator.MalformedVariant, got["new-checkout"].DefaultVariant)
				assert.Len(t, got["new-checkout"].Malformed, 1)
				assert.Empty(t, got["fine"].Malformed)
			},
		},
		{
			name: "launchdarkly into one environment", file: "launchdarkly.json",
			args: []string{"--format", "launchdarkly", "--environment", "production"},
			want: ld(importer.LDEnvironment("production")), wantKeys: []string{"banner-text", "new-checkout"},
			check: func(t *testing.T, got map[string]evaluator.Flag) {
				assert.Equal(t, []string{"production"}, got["new-checkout"].EnvironmentNames())
				assert.True(t, got["new-checkout"].Environments["production"].Enabled)
			},
		},
		{
			name: "launchdarkly with --skip", file: "launchdarkly.json", args: []string{"--format", "launchdarkly", "--skip", "banner-text"},
			want: ld(importer.LDSkip("banner-text")), wantKeys: []string{"new-checkout"},
			wantOut: []string{`skipped "banner-text": --skip`, `skipped "old-toggle": deleted in LaunchDarkly`},
		},
		{
			name: "openfeature-spec", file: "openfeature-spec.json", args: []string{"--format", "openfeature-spec"},
			want:     func(d []byte) ([]evaluator.Flag, error) { return importer.ImportSpec(d) },
			wantKeys: []string{"boolean-disabled-flag", "boolean-flag", "complex-targeted", "metadata-flag", "object-flag"},
			check: func(t *testing.T, got map[string]evaluator.Flag) {
				require.Len(t, got["complex-targeted"].Rules, 1)
				assert.Contains(t, got["complex-targeted"].Rules[0].CEL, "ballmer@macrosoft.com")
				assert.False(t, got["boolean-disabled-flag"].DefaultEnabled)
			},
		},
		{
			name: "flagd", file: "flagd.json", args: []string{"--format", "flagd"},
			want:     func(d []byte) ([]evaluator.Flag, error) { return importer.ImportFlagd(d) },
			wantKeys: []string{"boolean-flag", "context-aware", "string-flag", "targeting-key-flag"},
			check: func(t *testing.T, got map[string]evaluator.Flag) {
				assert.Len(t, got["context-aware"].Rules, 2, "the JSON Logic if/else became two rules")
			},
		},
		{
			name: "flagd with --skip as a list and repeated", file: "flagd.json",
			args: []string{"--format", "flagd", "--skip", "context-aware, string-flag", "--skip", "targeting-key-flag"},
			want: func(d []byte) ([]evaluator.Flag, error) {
				return importer.ImportFlagd(d, importer.WithSkip("context-aware", "string-flag", "targeting-key-flag"))
			},
			wantKeys: []string{"boolean-flag"},
		},
		{
			name: "tutorial with --skip", file: "flags.json", args: []string{"--skip", "dark-mode"},
			want: func(d []byte) ([]evaluator.Flag, error) {
				return importer.ImportNative(d, importer.WithSkip("dark-mode"))
			},
			wantKeys: []string{"checkout-banner", "search-ranking", "test-flag-2"},
		},
		{
			name: "native", file: "flags.json", args: []string{"--format", "native"},
			want:     func(d []byte) ([]evaluator.Flag, error) { return importer.ImportNative(d) },
			wantKeys: []string{"checkout-banner", "dark-mode", "search-ranking", "test-flag-2"},
		},
		{
			name: "auto finds launchdarkly", file: "launchdarkly.json", args: []string{"--format", "auto", "--skip-unsupported"},
			want: ld(importer.LDSkipUnsupported()), wantKeys: []string{"banner-text", "new-checkout"},
			wantOut: []string{"format: launchdarkly (detected)\n"},
		},
		{
			name: "auto finds flagd", file: "flagd.json", args: []string{"--format", "auto"},
			want:     func(d []byte) ([]evaluator.Flag, error) { return importer.ImportFlagd(d) },
			wantKeys: []string{"boolean-flag", "context-aware", "string-flag", "targeting-key-flag"},
			wantOut:  []string{"format: flagd (detected)\n"},
		},
		{
			name: "auto finds openfeature-spec", file: "openfeature-spec.json", args: []string{"--format", "auto"},
			want:     func(d []byte) ([]evaluator.Flag, error) { return importer.ImportSpec(d) },
			wantKeys: []string{"boolean-disabled-flag", "boolean-flag", "complex-targeted", "metadata-flag", "object-flag"},
			wantOut:  []string{"format: openfeature-spec (detected)\n"},
		},
		{
			name: "auto finds tutorial", file: "flags.json", args: []string{"--format", "auto"},
			want:     func(d []byte) ([]evaluator.Flag, error) { return importer.ImportNative(d) },
			wantKeys: []string{"checkout-banner", "dark-mode", "search-ranking", "test-flag-2"},
			wantOut:  []string{"format: tutorial (detected)\n"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("import-%d", i)
			path := filepath.Join("testdata", tt.file)
			args := append([]string{"import", path, "--redis-url", srv.URL(), "--key-prefix", prefix, "--actor", "tester"}, tt.args...)
			out := mustRunCLI(t, args...)
			assert.Contains(t, out, "imported "+path+": ")
			for _, s := range tt.wantOut {
				assert.Contains(t, out, s)
			}
			require.Equal(t, tt.wantKeys, indexOf(t, srv, prefix))

			want, err := tt.want(readTestdata(t, tt.file))
			require.NoError(t, err)
			got := map[string]evaluator.Flag{}
			for _, w := range want {
				f := storedFlag(t, srv.URL(), prefix, w.Key)
				assert.True(t, sameDefinition(w, f), "flag %q: stored %+v, translated %+v", w.Key, f, w)
				got[w.Key] = f
			}
			require.Len(t, got, len(tt.wantKeys))
			if tt.check != nil {
				tt.check(t, got)
			}

			again := mustRunCLI(t, args...)
			assert.Contains(t, again, fmt.Sprintf(": 0 written, %d unchanged", len(tt.wantKeys)), "a second import writes nothing")
		})
	}
}

// TestImportLaunchDarklyUnsupportedFeatures: a flag that uses a big
// (unbounded) segment fails the whole import, named with what it uses, and
// nothing is written; --skip-unsupported leaves it out, says so, and
// imports the rest.
func TestImportLaunchDarklyUnsupportedFeatures(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	file := filepath.Join("testdata", "launchdarkly-unsupported.json")
	base := []string{"import", file, "--format", "launchdarkly", "--redis-url", srv.URL(), "--actor", "tester"}
	before := redistest.Dump(t, rdb)

	_, _, err := runCLI(t, base...)
	require.Error(t, err)
	assert.ErrorIs(t, err, importer.ErrUnsupported)
	var ie *importer.Error
	require.ErrorAs(t, err, &ie)
	require.Len(t, ie.Problems, 1)
	assert.Equal(t, "whale-pricing", ie.Problems[0].Flag)
	assert.Equal(t, "segments.big-spenders.unbounded", ie.Problems[0].Field)
	msg := err.Error()
	assert.Contains(t, msg, file+": nothing imported:")
	assert.Contains(t, msg, "--skip-unsupported leaves these flags out and imports the others")
	assert.Contains(t, msg, `flag "whale-pricing": segments.big-spenders.unbounded: big segments (unbounded)`)
	assert.NotContains(t, msg, "new-checkout", "only the flags at fault are named")
	assert.Equal(t, before, redistest.Dump(t, rdb), "nothing written")
	n, err := rdb.DBSize(t.Context()).Result()
	require.NoError(t, err)
	assert.Zero(t, n)

	const skipped = `skipped "whale-pricing": --skip-unsupported: it uses segments.big-spenders.unbounded: big segments (unbounded)`
	out := mustRunCLI(t, append(base, "--skip-unsupported", "--dry-run")...)
	assert.Contains(t, out, skipped)
	assert.Contains(t, out, "create  new-checkout\n")
	assert.Contains(t, out, "dry run: 1 flag(s) in "+file+": 1 to create, 0 to update, 0 unchanged; nothing written\n")
	assert.Equal(t, before, redistest.Dump(t, rdb), "a dry run writes nothing")

	out = mustRunCLI(t, append(base, "--skip-unsupported")...)
	assert.Contains(t, out, skipped)
	assert.Contains(t, out, "imported "+file+": 1 written, 0 unchanged, 0 failed\n")
	assert.Equal(t, []string{"new-checkout"}, indexOf(t, srv, "feature-flags"))
	assert.True(t, storedFlag(t, srv.URL(), "feature-flags", "new-checkout").DefaultEnabled)
}

// TestImportRefusesAndWritesNothing: invalid input names the flag and the
// field, options a format would ignore are refused, and in every case Redis
// is left as it was.
func TestImportRefusesAndWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	badSpec := filepath.Join(t.TempDir(), "spec.json")
	require.NoError(t, os.WriteFile(badSpec, []byte(`{"broken": {"variants": {"on": true}, "defaultVariant": "nope"}}`), 0o600))
	garbage := filepath.Join(t.TempDir(), "garbage.txt")
	require.NoError(t, os.WriteFile(garbage, []byte("flags: yes"), 0o600))
	flagdData := filepath.Join(t.TempDir(), "flagd.json")
	require.NoError(t, os.WriteFile(flagdData, []byte(`{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}`), 0o600))
	badSyntax := filepath.Join(t.TempDir(), "syntax.json")
	require.NoError(t, os.WriteFile(badSyntax, []byte("[\n {\"key\": \"a\",\n  \"defaultEnabled\": tru }\n]\n"), 0o600))
	tests := []struct {
		name string
		args []string
		is   error
		want []string
	}{
		{
			name: "flagd data without --format",
			args: []string{"import", flagdData},
			want: []string{"--format flagd (it looks like flagd data), or --format auto"},
		},
		{
			name: "a JSON syntax error",
			args: []string{"import", badSyntax},
			want: []string{"line 3, column 24: invalid character"},
		},
		{
			name: "a tutorial file read as launchdarkly",
			args: []string{"import", "testdata/flags.json", "--format", "launchdarkly"},
			is:   importer.ErrInvalid,
			want: []string{"testdata/flags.json: nothing imported:", "flags"},
		},
		{
			name: "flagd operator redisflags has no counterpart for",
			args: []string{"import", "testdata/flagd-unsupported.json", "--format", "flagd"},
			is:   importer.ErrUnsupported,
			want: []string{`flag "timestamp-flag": targeting`, `compares two attributes`, "--skip KEY,… leaves these flags out"},
		},
		{
			name: "openfeature-spec default variant that does not exist",
			args: []string{"import", badSpec, "--format", "openfeature-spec"},
			is:   importer.ErrInvalid,
			want: []string{`flag "broken": defaultVariant`},
		},
		{
			name: "--skip-unsupported with flagd",
			args: []string{"import", "testdata/flagd-unsupported.json", "--format", "flagd", "--skip-unsupported"},
			want: []string{"--skip-unsupported applies to --format launchdarkly only, not flagd"},
		},
		{
			name: "--skip-unsupported with a file auto finds to be flagd",
			args: []string{"import", "testdata/flagd.json", "--format", "auto", "--skip-unsupported"},
			want: []string{"testdata/flagd.json is in format flagd: --skip-unsupported applies to --format launchdarkly only"},
		},
		{
			name: "--environment with tutorial",
			args: []string{"import", "testdata/flags.json", "--environment", "production"},
			want: []string{"--environment applies to --format launchdarkly only, not tutorial"},
		},
		{
			name: "auto on a file of no known format",
			args: []string{"import", garbage, "--format", "auto"},
			is:   importer.ErrInvalid,
			want: []string{"nothing imported: cannot tell its format"},
		},
		{
			name: "unknown format",
			args: []string{"import", "testdata/flags.json", "--format", "nosuch"},
			want: []string{`unknown format "nosuch" (known: tutorial, native, openfeature-spec, flagd, launchdarkly, auto)`},
		},
		{
			name: "export to an import-only format",
			args: []string{"export", "--format", "launchdarkly"},
			want: []string{`format "launchdarkly" can be imported, not exported`},
		},
		{
			name: "export as auto",
			args: []string{"export", "--format", "auto"},
			want: []string{`format "auto" can be imported, not exported`},
		},
	}
	before := redistest.Dump(t, rdb)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, append(tt.args, "--redis-url", srv.URL())...)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			for _, s := range tt.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.Equal(t, before, redistest.Dump(t, rdb), "nothing written")
		})
	}
}

// TestExportNativeRoundTrips: what export --format native writes, import
// --format native reads back to the same definitions.
func TestExportNativeRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	useFixedClock(t)
	r := []string{"--redis-url", srv.URL()}
	w := append([]string{"--actor", "tester"}, r...)
	mustRunCLI(t, append([]string{"import", "testdata/launchdarkly.json", "--format", "launchdarkly"}, w...)...)
	mustRunCLI(t, append([]string{"import", "testdata/flagd.json", "--format", "flagd", "--skip", "boolean-flag"}, w...)...)
	path := filepath.Join(t.TempDir(), "native.json")
	mustRunCLI(t, append([]string{"export", "--format", "native", "-o", path}, r...)...)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	flags, err := importer.ImportNative(data)
	require.NoError(t, err)
	require.Len(t, flags, 5)

	out := mustRunCLI(t, append([]string{"import", path, "--format", "native", "--key-prefix", "copy"}, w...)...)
	assert.Contains(t, out, ": 5 written, 0 unchanged, 0 failed")
	for _, f := range flags {
		assert.True(t, sameDefinition(f, storedFlag(t, srv.URL(), "copy", f.Key)), f.Key)
	}
}
