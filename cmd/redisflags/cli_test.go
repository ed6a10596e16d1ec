package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// TestEverydayFlagWork walks through a day of flag work with the CLI against
// a real redis-server: import, list, edit, explain a bucket, lint, delete,
// read the audit trail, export. Outputs are compared with testdata/*.golden
// (go test ./cmd/redisflags -update rewrites them).
func TestEverydayFlagWork(t *testing.T) {
	srv := redistest.Start(t)
	useFixedClock(t)
	r := []string{"--redis-url", srv.URL(), "--actor", "tester"}
	ro := []string{"--redis-url", srv.URL()}
	with := func(base []string, args ...string) []string { return append(args, base...) }

	out := mustRunCLI(t, with(r, "import", "testdata/flags.json")...)
	assert.Equal(t, "imported testdata/flags.json: 4 written, 0 unchanged, 0 failed\n", out)
	out = mustRunCLI(t, with(r, "import", "testdata/flags.json")...)
	assert.Equal(t, "imported testdata/flags.json: 0 written, 4 unchanged, 0 failed\n", out, "an unchanged flag is not written again")

	out = mustRunCLI(t, with(r, "flags", "set", "test-flag-2", "--expires-at", "2026-01-31")...)
	assert.Equal(t, "stored test-flag-2 version 2\n", out)
	out = mustRunCLI(t, with(r, "flags", "set", "search-ranking", "--expires-at", "2026-12-31")...)
	assert.Equal(t, "stored search-ranking version 2\n", out)
	golden(t, "list.golden", mustRunCLI(t, with(ro, "flags", "list")...))

	out = mustRunCLI(t, with(r, "flags", "set", "checkout-banner", "--env", "production", "--percent", "50", "--add-user", "user-7", "--remove-region", "us-west")...)
	assert.Equal(t, "stored checkout-banner version 2\n", out)
	golden(t, "get.golden", mustRunCLI(t, with(ro, "flags", "get", "checkout-banner")...))

	out = mustRunCLI(t, with(ro, "bucket", "checkout-banner", "production", "user-42", "--region", "eu-central")...)
	golden(t, "bucket.golden", out)
	assert.Contains(t, out, "= 76", "the worked bucket is the evaluator's")
	assert.Equal(t, 76, evaluator.Bucket("checkout-banner", "production", "user-42"))

	out, _, err := runCLI(t, with(ro, "lint", "--now", "2026-06-01")...)
	assert.ErrorIs(t, err, errFindings, "findings exit 1")
	golden(t, "lint.golden", out)
	out, _, err = runCLI(t, with(ro, "lint", "--now", "2026-03-20", "--json")...)
	assert.ErrorIs(t, err, errFindings)
	var found []finding
	require.NoError(t, json.Unmarshal([]byte(out), &found))
	require.Len(t, found, 2, "a day after the writes only the kill date and the name are due: %s", out)
	assert.Equal(t, finding{Flag: "test-flag-2", Check: checkExpired, Message: "kill date 2026-01-31 passed 47 days ago: remove the flag from the code, then delete it"}, found[0])
	assert.Equal(t, checkVagueName, found[1].Check)

	out = mustRunCLI(t, with(r, "flags", "delete", "test-flag-2")...)
	assert.Equal(t, "deleted test-flag-2\n", out)
	_, _, err = runCLI(t, with(ro, "flags", "get", "test-flag-2")...)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// The four creates come from concurrent import workers, in any order:
	// the golden file holds the four writes after them.
	golden(t, "audit.golden", mustRunCLI(t, with(ro, "audit", "-n", "4")...))
	out = mustRunCLI(t, with(ro, "audit", "-n", "0")...)
	assert.Equal(t, 4, strings.Count(out, "created (version 1)"), out)
	out = mustRunCLI(t, with(ro, "audit", "checkout-banner", "-n", "1")...)
	assert.Contains(t, out, "environments.production.allowlistRegions [\"us-west\"]→[]")
	assert.Contains(t, out, "environments.production.rolloutPercent 25→50")

	export := mustRunCLI(t, with(ro, "export")...)
	golden(t, "export.golden", export)
	// Round trip: the export imports into another prefix and exports the same.
	path := filepath.Join(t.TempDir(), "export.json")
	require.NoError(t, os.WriteFile(path, []byte(export), 0o600))
	mustRunCLI(t, with(r, "import", path, "--key-prefix", "copy")...)
	mustRunCLI(t, with(ro, "export", "--key-prefix", "copy", "-o", path)...)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strings.ReplaceAll(export, `"version": 2`, `"version": 1`), string(again))
}

func TestImportReportsEveryProblemAndWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	before := redistest.Dump(t, rdb)
	_, _, err := runCLI(t, "import", "testdata/bad.json", "--redis-url", srv.URL())
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "nothing imported")
	assert.Contains(t, msg, `flags[1]: flag "bad percent": `)
	assert.Contains(t, msg, "environments.production.rolloutPercent: must be an integer from 0 to 100, got 101")
	assert.Contains(t, msg, `flags[2]: flag "typed": defaultEnabled: must be true or false`)
	assert.Contains(t, msg, `flags[3]: flag "ok-flag": flagKey: also at flags[0]`)
	assert.Equal(t, before, redistest.Dump(t, rdb))

	out := mustRunCLI(t, "import", "testdata/flags.json", "--dry-run", "--redis-url", srv.URL())
	assert.Equal(t, "create  checkout-banner\ncreate  dark-mode\ncreate  search-ranking\ncreate  test-flag-2\n"+
		"dry run: 4 flag(s) in testdata/flags.json: 4 to create, 0 to update, 0 unchanged; nothing written\n", out)
	assert.Equal(t, before, redistest.Dump(t, rdb))

	_, _, err = runCLI(t, "import", "testdata/flags.json", "--format", "launchdarkly", "--redis-url", srv.URL())
	assert.ErrorIs(t, err, importer.ErrInvalid, "a tutorial file is not LaunchDarkly's flag data")
	assert.Contains(t, err.Error(), "testdata/flags.json: nothing imported:\nflags: must be an object of key → flags")
	assert.Equal(t, before, redistest.Dump(t, rdb))
	_, _, err = runCLI(t, "import", "testdata/flags.json", "--format", "nosuch", "--redis-url", srv.URL())
	assert.EqualError(t, err, `unknown format "nosuch" (known: tutorial, native, openfeature-spec, flagd, launchdarkly, auto)`)
}

func TestFlagsSetGuardsAgainstLostUpdates(t *testing.T) {
	srv := redistest.Start(t)
	useFixedClock(t)
	r := []string{"--redis-url", srv.URL(), "--actor", "tester"}
	file := filepath.Join(t.TempDir(), "f.json")
	require.NoError(t, os.WriteFile(file, []byte(tutorialBody), 0o600))
	assert.Equal(t, "stored checkout-banner version 1\n", mustRunCLI(t, append([]string{"flags", "set", "checkout-banner", "-f", file}, r...)...))
	assert.Equal(t, "stored checkout-banner version 2\n", mustRunCLI(t, append([]string{"flags", "set", "checkout-banner", "--file", file, "--if-version", "1"}, r...)...))
	_, _, err := runCLI(t, append([]string{"flags", "set", "checkout-banner", "--file", file, "--if-version", "1"}, r...)...)
	assert.ErrorIs(t, err, store.ErrVersionMismatch)
	_, _, err = runCLI(t, append([]string{"flags", "delete", "checkout-banner", "--if-version", "1"}, r...)...)
	assert.ErrorIs(t, err, store.ErrVersionMismatch)

	_, _, err = runCLI(t, append([]string{"flags", "set", "checkout-banner", "--env", "production", "--percent", "101"}, r...)...)
	var v *evaluator.ValidationError
	require.ErrorAs(t, err, &v)
	assert.Contains(t, err.Error(), "environments.production.rolloutPercent")
	_, _, err = runCLI(t, append([]string{"flags", "set", "checkout-banner", "--percent", "5"}, r...)...)
	assert.ErrorContains(t, err, "--env names the environment")
	_, _, err = runCLI(t, append([]string{"flags", "set", "checkout-banner", "--env", "production", "--value", "{oops"}, r...)...)
	assert.ErrorContains(t, err, "--value {oops is not valid JSON")
	_, _, err = runCLI(t, append([]string{"flags", "set", "checkout-banner"}, r...)...)
	assert.ErrorContains(t, err, "nothing to change")

	out := mustRunCLI(t, append([]string{"flags", "set", "brand-new", "--env", "production", "--enabled", "--percent", "10", "--value", `"hi"`}, r...)...)
	assert.Equal(t, "stored brand-new version 1\n", out)
	out = mustRunCLI(t, "flags", "get", "brand-new", "--redis-url", srv.URL())
	assert.JSONEq(t, `{"flagKey":"brand-new","description":"","defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":10,"value":"hi","allowlistUsers":[],"allowlistRegions":[],"updatedAt":"2026-03-19T12:00:00.000Z"}},"updatedAt":"2026-03-19T12:00:00.000Z","version":1}`, out)
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		err    error
		stderr string
	}{
		{"no verb", nil, errUsage, "Usage:"},
		{"unknown verb", []string{"frobnicate"}, errUsage, `unknown verb "frobnicate"`},
		{"flags without action", []string{"flags"}, errUsage, "flags list"},
		{"unknown flags action", []string{"flags", "toggle"}, errUsage, `unknown action "toggle"`},
		{"get without key", []string{"flags", "get"}, errUsage, "wrong number of arguments (0)"},
		{"bucket with two args", []string{"bucket", "a", "b"}, errUsage, "bucket FLAG ENVIRONMENT SUBJECT"},
		{"unknown option", []string{"lint", "--frob"}, errUsage, "flag provided but not defined: -frob"},
		{"help", []string{"audit", "-h"}, flag.ErrHelp, "-n N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, tt.args...)
			assert.ErrorIs(t, err, tt.err)
			assert.Contains(t, stderr, tt.stderr)
		})
	}
	t.Setenv("REDIS_URL", "")
	_, _, err := runCLI(t, "flags", "list")
	assert.ErrorContains(t, err, "no Redis to talk to")
	out, _, err := runCLI(t, "help")
	require.NoError(t, err)
	assert.Contains(t, out, "redisflags serve")
	assert.Contains(t, out, "redisflags copy    --to-key-prefix PREFIX [--to-redis-url URL] [--actor NAME]")
	assert.Contains(t, out, "--skip-unsupported")

	var buf bytes.Buffer
	assert.Equal(t, 0, exitCode(nil, &buf))
	assert.Equal(t, 2, exitCode(errUsage, &buf))
	assert.Equal(t, 1, exitCode(errFindings, &buf))
	assert.Empty(t, buf.String(), "findings were printed already")
	assert.Equal(t, 1, exitCode(errors.New("boom"), &buf))
	assert.Equal(t, "redisflags: boom\n", buf.String())
}

func TestProgressBar(t *testing.T) {
	assert.Nil(t, newProgress(&bytes.Buffer{}, "x", 10), "no bar unless stderr is a terminal")
	var nilBar *progress
	nilBar.add(1) // a nil bar does nothing
	nilBar.finish()

	var buf bytes.Buffer
	p := &progress{w: &buf, label: "importing", total: 1000}
	for range 1000 {
		p.add(1)
	}
	p.finish()
	out := buf.String()
	assert.True(t, strings.HasPrefix(out, "\rimporting [...............................]"[:12]))
	assert.Contains(t, out, "\rimporting [##############################] 1000/1000 100%")
	assert.True(t, strings.HasSuffix(out, "\n"))
	assert.Less(t, strings.Count(out, "\r"), 10, "redrawn at most ten times a second, plus the end")
}

func TestVagueNames(t *testing.T) {
	for _, k := range []string{"test", "test-flag-2", "flag1", "new_feature", "tmp.x", "foo-bar", "ff3", "123", "my-toggle"} {
		assert.NotEmpty(t, vagueName(k), k)
	}
	for _, k := range []string{"checkout-banner", "dark-mode", "new-search-ranking", "eu-vat-2026", "test-payments-sandbox"} {
		assert.Empty(t, vagueName(k), k)
	}
}
