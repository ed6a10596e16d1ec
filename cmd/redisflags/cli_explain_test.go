package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// TestExplanationsFollowEachFlagsOwnSemantics: bucket, lint and flags list
// describe an md5-canary flag by its md5 bucket and imported LaunchDarkly
// flags by their variants, as the provider evaluates them (they used to
// report a sha256 bucket, "no outcome" for a flag serving true, and LD
// flags "stuck at 0 %, serving no one").
func TestExplanationsFollowEachFlagsOwnSemantics(t *testing.T) {
	srv := redistest.Start(t)
	useFixedClock(t)
	rw := []string{"--redis-url", srv.URL(), "--actor", "tester"}
	ro := []string{"--redis-url", srv.URL()}
	with := func(base []string, args ...string) []string { return append(args, base...) }

	f, err := evaluator.ParseFlag([]byte(`{"defaultEnabled":true,"bucketing":"md5-canary","environments":{"staging":{"enabled":true,"rolloutPercent":30}}}`), "canary-md5")
	require.NoError(t, err)
	_, err = store.New(srv.Client(t)).Upsert(t.Context(), f)
	require.NoError(t, err)
	out := mustRunCLI(t, with(ro, "bucket", "canary-md5", "staging", "user-2")...)
	want := evaluator.BucketMD5("canary-md5", "user-2")
	assert.Contains(t, out, "bucket       "+strconv.Itoa(want)+" (md5-canary bucketing)")
	assert.NotContains(t, out, "sha256")
	if want < 30 {
		assert.Contains(t, out, "on: rollout-hit")
	} else {
		assert.Contains(t, out, "off: rollout-miss — bucket "+strconv.Itoa(want)+" ≥ rolloutPercent 30")
	}

	mustRunCLI(t, with(rw, "import", "../../examples/from-launchdarkly/flags.json", "--format", "launchdarkly")...)
	out = mustRunCLI(t, with(ro, "bucket", "one-click-upsell", "production", "user-1001")...)
	assert.Contains(t, out, `outcome      variant "`)
	assert.NotContains(t, out, "no outcome")
	assert.NotContains(t, out, "fallthrough — ")

	list := mustRunCLI(t, with(ro, "flags", "list")...)
	for _, line := range strings.Split(list, "\n") {
		if strings.HasPrefix(line, "one-click-upsell") {
			assert.Contains(t, line, "variants", line)
			assert.NotContains(t, line, "0%", line)
		}
	}
	lint, _, _ := runCLI(t, with(ro, "lint", "--now", "2030-01-01")...)
	assert.NotContains(t, lint, "serves no one", "imported LaunchDarkly flags serve by their rules")
}
