package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// TestFlagsSetNewEnvironmentIsEnabledAsAsked: "--percent 25" on an
// environment the flag does not have yet creates it enabled, and says so;
// --enabled=false creates it off.
func TestFlagsSetNewEnvironmentIsEnabledAsAsked(t *testing.T) {
	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	base := []string{"--redis-url", srv.URL()}
	_, stderr, err := runCLI(t, append([]string{"flags", "set", "banner", "--env", "staging", "--percent", "25"}, base...)...)
	require.NoError(t, err)
	assert.Contains(t, stderr, `environment "staging" of "banner" is new: created enabled`)
	f, err := st.Get(t.Context(), "banner")
	require.NoError(t, err)
	assert.True(t, f.Environments["staging"].Enabled)
	assert.Equal(t, 25, f.Environments["staging"].RolloutPercent)
	_, _, err = runCLI(t, append([]string{"flags", "set", "banner", "--env", "qa", "--percent", "25", "--enabled=false"}, base...)...)
	require.NoError(t, err)
	f, err = st.Get(t.Context(), "banner")
	require.NoError(t, err)
	assert.False(t, f.Environments["qa"].Enabled)
	// An existing environment keeps its enabled state.
	_, stderr, err = runCLI(t, append([]string{"flags", "set", "banner", "--env", "qa", "--percent", "50"}, base...)...)
	require.NoError(t, err)
	assert.NotContains(t, stderr, "is new")
	f, err = st.Get(t.Context(), "banner")
	require.NoError(t, err)
	assert.False(t, f.Environments["qa"].Enabled)
}

// TestFlagsSetWarnsOfAPastKillDate names the flag and the date.
func TestFlagsSetWarnsOfAPastKillDate(t *testing.T) {
	srv := redistest.Start(t)
	base := []string{"--redis-url", srv.URL()}
	_, stderr, err := runCLI(t, append([]string{"flags", "set", "old-banner", "--expires-at", "2020-01-01"}, base...)...)
	require.NoError(t, err)
	assert.Contains(t, stderr, `flag "old-banner" has a kill date in the past (2020-01-01)`)
	_, stderr, err = runCLI(t, append([]string{"flags", "set", "new-banner", "--expires-at", "2099-01-01"}, base...)...)
	require.NoError(t, err)
	assert.NotContains(t, stderr, "kill date in the past")
}

// TestImportDryRunListsEachFlag: --dry-run says, flag by flag, what an
// import would create, update or leave, and writes nothing.
func TestImportDryRunListsEachFlag(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	base := []string{"--redis-url", srv.URL()}
	mustRunCLI(t, append([]string{"flags", "set", "same", "--env", "production", "--enabled"}, base...)...)
	mustRunCLI(t, append([]string{"flags", "set", "changed", "--env", "production", "--enabled"}, base...)...)
	file := filepath.Join(t.TempDir(), "flags.json")
	require.NoError(t, os.WriteFile(file, []byte(`[
 {"flagKey":"same","description":"","defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":0,"allowlistUsers":[],"allowlistRegions":[]}}},
 {"flagKey":"changed","description":"now described","defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":0,"allowlistUsers":[],"allowlistRegions":[]}}},
 {"flagKey":"brand-new","description":"","defaultEnabled":true,"environments":{}}
]`), 0o600))
	before := redistest.Dump(t, rdb)
	out := mustRunCLI(t, append([]string{"import", file, "--dry-run"}, base...)...)
	assert.Contains(t, out, "create  brand-new")
	assert.Contains(t, out, "update  changed")
	assert.Contains(t, out, "nothing written")
	assert.Equal(t, before, redistest.Dump(t, rdb), "a dry run writes nothing")
}
