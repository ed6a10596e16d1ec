package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

func TestQuickstartPrintsTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), "", &out))
	s := out.String()
	assert.Contains(t, s, "embedded Redis")
	assert.Contains(t, s, "The definition evaluated below:")
	assert.Contains(t, s, `"rolloutPercent": 25`)
	assert.Regexp(t, `user-123\s+eu-central\s+production\s+true\s+on\s+TARGETING_MATCH\s+allowlist-user\s+\{"color":"green","title":"Fast checkout"\}`, s)
	assert.Regexp(t, `user-456\s+us-west\s+production\s+true\s+on\s+TARGETING_MATCH\s+allowlist-region`, s)
	assert.Regexp(t, `user-123\s+us-west\s+staging\s+false\s+off\s+DISABLED\s+environment-disabled\s+-`, s)
	assert.Regexp(t, `user-123\s+us-west\s+qa\s+false\s+off\s+DEFAULT\s+environment-missing`, s)
	assert.Regexp(t, `user-1\s+eu-central\s+production\s+(true\s+on|false\s+off)\s+SPLIT\s+rollout-(hit|miss)`, s)
}

// TestQuickstartNeverOverwritesAFlagInARealRedis: against a real Redis an
// existing checkout-banner is left as it is (and evaluated as stored),
// unless QUICKSTART_OVERWRITE=1; the definition evaluated is printed, and
// a next step.
func TestQuickstartNeverOverwritesAFlagInARealRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb)
	_, err := st.Upsert(t.Context(), evaluator.Flag{Key: "checkout-banner", Description: "someone's real flag",
		Environments: map[string]evaluator.Environment{"production": {Enabled: false}}})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), srv.URL(), &out))
	s := out.String()
	assert.Contains(t, s, "already exists in this Redis (version 1): NOT overwritten")
	assert.Contains(t, s, "someone's real flag", "the stored definition is printed")
	assert.Contains(t, s, "Next:")
	f, err := st.Get(t.Context(), "checkout-banner")
	require.NoError(t, err)
	assert.Equal(t, "someone's real flag", f.Description)
	assert.Equal(t, int64(1), f.Version)

	t.Setenv("QUICKSTART_OVERWRITE", "1")
	out.Reset()
	require.NoError(t, run(t.Context(), srv.URL(), &out))
	assert.Contains(t, out.String(), "Wrote flag")
	f, err = st.Get(t.Context(), "checkout-banner")
	require.NoError(t, err)
	assert.Equal(t, "Show the fast-checkout banner", f.Description)
}
