package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldreason"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	ld "github.com/launchdarkly/go-server-sdk/v7"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/ldcompat"
	"github.com/redisflags/redisflags/provider"
)

// TestAnswersMatchLaunchDarkly is the point of the example: for every
// context the application sends and every flag it asks, redisflags (the
// embedded flags.json imported into Redis, evaluated by the provider
// through OpenFeature) answers what LaunchDarkly's own Go SDK answers when
// it evaluates the same bytes: value, variation index and reason.
func TestAnswersMatchLaunchDarkly(t *testing.T) {
	c := ldClient(t)
	var out bytes.Buffer
	got, err := migrate(t.Context(), "", &out)
	require.NoError(t, err)

	subs := subjects()
	require.Len(t, got, len(subs)*len(questions))
	i := 0
	for _, s := range subs {
		lc, lerr := ldcompat.ToContext(flatten(s.ec))
		require.NoError(t, lerr, s.label)
		require.NoError(t, lc.Err(), s.label)
		for _, q := range questions {
			want := launchDarklyRow(c, s.label, q, lc)
			assert.Equal(t, want, got[i], "%s, flag %s", s.label, q.flag)
			i++
		}
	}
}

// TestFlagDataExercisesEachFeature checks that the comparison above is not
// vacuous: the file imports whole, and the contexts reach individual
// targets, rules, the rollout's three buckets, a failed prerequisite and
// the segment.
func TestFlagDataExercisesEachFeature(t *testing.T) {
	res, err := importer.LaunchDarkly(flagData)
	require.NoError(t, err)
	assert.Len(t, res.Flags, len(questions))
	assert.Empty(t, res.Unsupported)
	assert.Empty(t, res.Skipped)
	assert.Empty(t, res.Notes)

	var out bytes.Buffer
	rows, err := migrate(t.Context(), "", &out)
	require.NoError(t, err)
	reasons := map[of.Reason]bool{}
	variants := map[string]map[string]bool{}
	for _, r := range rows {
		assert.Empty(t, r.code, "%s, flag %s", r.subject, r.flag)
		reasons[r.reason] = true
		if variants[r.flag] == nil {
			variants[r.flag] = map[string]bool{}
		}
		variants[r.flag][r.variant] = true
	}
	for _, want := range []of.Reason{of.TargetingMatchReason, provider.ReasonRuleMatch, provider.ReasonFallthrough, provider.ReasonPrerequisiteFailed} {
		assert.True(t, reasons[want], "no answer has reason %s", want)
	}
	assert.Len(t, variants["search-ranking"], 3, "the rollout serves all three variations")
	assert.Len(t, variants["assistant"], 2, "the segment rule matches someone")
	assert.Len(t, variants["support-tier"], 3)
}

func TestRunPrintsTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), "", &out))
	s := out.String()
	assert.Contains(t, s, "No REDIS_URL: using an embedded Redis")
	assert.Contains(t, s, "Imported 5 flags")
	assert.Regexp(t, `CONTEXT\s+FLAG\s+VALUE\s+VARIANT\s+REASON`, s)
	assert.Regexp(t, `flagged for fraud\s+payments-enabled\s+false\s+1\s+TARGETING_MATCH`, s)
	assert.Regexp(t, `one-click-upsell\s+false\s+1\s+PREREQUISITE_FAILED`, s)
	assert.Regexp(t, `staff, email private\s+payments-enabled\s+true\s+0\s+FALLTHROUGH\s+support-tier\s+"internal"\s+2\s+RULE_MATCH`, s)
}

func TestRunUsesREDIS_URL(t *testing.T) {
	m := miniredis.RunT(t)
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), "redis://"+m.Addr()+"/0", &out))
	assert.Contains(t, out.String(), "Using the Redis at REDIS_URL ("+m.Addr()+")")
	keys, err := m.Members("feature-flags:index")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"assistant", "one-click-upsell", "payments-enabled", "search-ranking", "support-tier"}, keys)
}

// ldClient starts LaunchDarkly's Go SDK fully offline on a copy of the
// embedded flag data (see ldcompat.FileClient).
func ldClient(t *testing.T) *ld.LDClient {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flags.json")
	require.NoError(t, os.WriteFile(path, flagData, 0o600))
	return ldcompat.FileClient(t, path)
}

// launchDarklyRow asks LaunchDarkly's SDK what the application asks and
// maps the answer as LaunchDarkly's OpenFeature provider and the OpenFeature
// SDK would hand it over.
func launchDarklyRow(c *ld.LDClient, label string, q question, lc ldcontext.Context) row {
	r := row{subject: label, flag: q.flag}
	var detail ldreason.EvaluationDetail
	switch q.typ {
	case boolFlag:
		r.value, detail, _ = c.BoolVariationDetail(q.flag, lc, q.def.(bool))
	case stringFlag:
		r.value, detail, _ = c.StringVariationDetail(q.flag, lc, q.def.(string))
	case objectFlag:
		var v ldvalue.Value
		v, detail, _ = c.JSONVariationDetail(q.flag, lc, ldvalue.CopyArbitraryValue(q.def))
		r.value = v.AsArbitraryValue()
	}
	if detail.VariationIndex.IsDefined() {
		r.variant = detail.VariationIndex.String()
	}
	r.reason = ldcompat.Reason(detail.Reason.GetKind())
	if r.reason == of.ErrorReason {
		// No evaluation here should fail; one that does is a difference
		// whatever its code, so the code is not mapped finely.
		r.code, r.value = of.GeneralCode, q.def
	}
	return r
}
