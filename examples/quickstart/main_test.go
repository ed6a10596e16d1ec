package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartPrintsTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), "", &out))
	s := out.String()
	assert.Contains(t, s, "embedded Redis")
	assert.Regexp(t, `user-123\s+eu-central\s+production\s+true\s+on\s+TARGETING_MATCH\s+allowlist-user\s+\{"color":"green","title":"Fast checkout"\}`, s)
	assert.Regexp(t, `user-456\s+us-west\s+production\s+true\s+on\s+TARGETING_MATCH\s+allowlist-region`, s)
	assert.Regexp(t, `user-123\s+us-west\s+staging\s+false\s+off\s+DISABLED\s+environment-disabled\s+-`, s)
	assert.Regexp(t, `user-123\s+us-west\s+qa\s+false\s+off\s+DEFAULT\s+environment-missing`, s)
	assert.Regexp(t, `user-1\s+eu-central\s+production\s+(true\s+on|false\s+off)\s+SPLIT\s+rollout-(hit|miss)`, s)
}
