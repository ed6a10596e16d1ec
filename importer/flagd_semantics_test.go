package importer_test

import (
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// flagdSemanticsDoc holds one flag per way imported flagd flags used to
// answer differently from flagd (issue 20), each as flagd's own evaluation
// test material (flagd-testbed 3.9.0, evaluator/) defines it where it has
// one.
const flagdSemanticsDoc = `{"flags": {
  "boolean-flag": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
  "semver-v-prefix-flag": {"state": "ENABLED", "variants": {"match": "match", "no-match": "no-match"}, "defaultVariant": "no-match",
    "targeting": {"if": [{"sem_ver": [{"var": "version"}, "=", "v1.0.0"]}, "match", "no-match"]}},
  "semver-partial-version-flag": {"state": "ENABLED", "variants": {"match": "match", "no-match": "no-match"}, "defaultVariant": "no-match",
    "targeting": {"if": [{"sem_ver": [{"var": "version"}, "^", "1"]}, "match", "no-match"]}},
  "semver-below-2-flag": {"state": "ENABLED", "variants": {"match": "match", "no-match": "no-match"}, "defaultVariant": "no-match",
    "targeting": {"if": [{"sem_ver": [{"var": "version"}, "<", "2.0.0"]}, "match", "no-match"]}},
  "semver-equal-1-flag": {"state": "ENABLED", "variants": {"match": "match", "no-match": "no-match"}, "defaultVariant": "no-match",
    "targeting": {"if": [{"sem_ver": [{"var": "version"}, "=", "1.0.0"]}, "match", "no-match"]}},
  "semver-upper-literal-flag": {"state": "ENABLED", "variants": {"match": "match", "no-match": "no-match"}, "defaultVariant": "no-match",
    "targeting": {"if": [{"sem_ver": [{"var": "version"}, "=", "V2.0.0"]}, "match", "no-match"]}},
  "targeting-key-flag": {"state": "ENABLED", "variants": {"miss": "miss", "hit": "hit"}, "defaultVariant": "miss",
    "targeting": {"if": [{"==": [{"var": "targetingKey"}, "user-1"]}, "hit", null]}},
  "fractional-flag-shorthand": {"state": "ENABLED", "variants": {"heads": "heads", "tails": "tails", "draw": "draw"}, "defaultVariant": "draw",
    "targeting": {"fractional": [["heads"], ["tails", 1]]}},
  "subject-flag": {"state": "ENABLED", "variants": {"alice": "alice", "other": "other"}, "defaultVariant": "other",
    "targeting": {"if": [{"==": [{"var": "subject"}, "alice"]}, "alice", null]}},
  "fractional-null-bucket-key-flag": {"state": "ENABLED", "variants": {"one": "one", "two": "two", "fallback": "fallback"}, "defaultVariant": "fallback",
    "targeting": {"fractional": [{"var": "missing_key"}, ["one", 50], ["two", 50]]}},
  "dotted-flag": {"state": "ENABLED", "variants": {"hit": "hit", "miss": "miss"}, "defaultVariant": "miss",
    "targeting": {"if": [{"==": [{"var": "org.id"}, "acme"]}, "hit", null]}},
  "timestamp-flag": {"state": "ENABLED", "variants": {"past": "past", "future": "future"}, "defaultVariant": "future",
    "targeting": {"if": [{">": [{"var": "$flagd.timestamp"}, 1700000000]}, "past", "future"]}}
}}`

// flagdSemanticsClients imports flagdSemanticsDoc into a real Redis and
// returns an OpenFeature client per provider mode.
func flagdSemanticsClients(t *testing.T) map[string]*of.Client {
	t.Helper()
	flags, err := importer.ImportFlagd([]byte(flagdSemanticsDoc))
	require.NoError(t, err)
	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	for _, f := range flags {
		_, err := st.Upsert(t.Context(), f)
		require.NoError(t, err, f.Key)
	}
	clients := map[string]*of.Client{}
	for _, m := range modes() {
		p := provider.New(srv.Client(t), m.opts...)
		domain := t.Name() + "/" + m.name
		require.NoError(t, of.SetNamedProviderAndWait(domain, p))
		t.Cleanup(p.Shutdown)
		clients[m.name] = of.NewClient(domain)
	}
	return clients
}

// TestFlagdSemantics checks each cause of issue 20 through importer →
// store → provider → OpenFeature client, in both modes: the answer is
// flagd's, as its test material states it.
func TestFlagdSemantics(t *testing.T) {
	clients := flagdSemanticsClients(t)
	tests := []struct {
		name, flag string
		key        string
		attrs      map[string]any
		value      string
		reason     of.Reason
	}{
		// sem_ver parsing.
		{"V prefix", "semver-v-prefix-flag", "", map[string]any{"version": "V1.0.0"}, "match", of.TargetingMatchReason},
		{"v prefix", "semver-v-prefix-flag", "", map[string]any{"version": "v1.0.0"}, "match", of.TargetingMatchReason},
		{"partial version", "semver-partial-version-flag", "", map[string]any{"version": "1"}, "match", of.TargetingMatchReason},
		{"partial minor version", "semver-partial-version-flag", "", map[string]any{"version": "1.0"}, "match", of.TargetingMatchReason},
		{"integer version", "semver-partial-version-flag", "", map[string]any{"version": 1}, "match", of.TargetingMatchReason},
		{"float version", "semver-partial-version-flag", "", map[string]any{"version": 1.2}, "match", of.TargetingMatchReason},
		{"partial with pre-release is invalid", "semver-below-2-flag", "", map[string]any{"version": "1-rc.1"}, "no-match", of.TargetingMatchReason},
		{"two build parts are invalid", "semver-equal-1-flag", "", map[string]any{"version": "1.0.0+build+build"}, "no-match", of.TargetingMatchReason},
		{"pre-release with a leading zero is invalid", "semver-below-2-flag", "", map[string]any{"version": "1.0.0-01"}, "no-match", of.TargetingMatchReason},
		{"build metadata is ignored", "semver-equal-1-flag", "", map[string]any{"version": "1.0.0+other"}, "match", of.TargetingMatchReason},
		{"V in the rule's literal", "semver-upper-literal-flag", "", map[string]any{"version": "2.0.0"}, "match", of.TargetingMatchReason},
		// The subject is the targeting key only.
		{"targeting key", "targeting-key-flag", "user-1", nil, "hit", of.TargetingMatchReason},
		{"key is not a targeting key", "targeting-key-flag", "", map[string]any{"key": "user-1"}, "miss", of.DefaultReason},
		{"multi-context key is not a targeting key", "targeting-key-flag", "", map[string]any{"kind": "multi", "user": map[string]any{"key": "user-1"}}, "miss", of.DefaultReason},
		{"fractional without targeting key", "fractional-flag-shorthand", "", map[string]any{"key": "jon@company.com"}, "draw", of.DefaultReason},
		{"fractional with targeting key", "fractional-flag-shorthand", "jon@company.com", nil, "heads", of.TargetingMatchReason},
		{"subject is an attribute", "subject-flag", "bob", map[string]any{"subject": "alice"}, "alice", of.TargetingMatchReason},
		{"subject is not the targeting key", "subject-flag", "alice", nil, "other", of.DefaultReason},
		// Reserved attributes are attributes.
		{"numeric region", "boolean-flag", "", map[string]any{"region": 5}, "true", of.StaticReason},
		{"numeric environment", "boolean-flag", "user-1", map[string]any{"environment": 3}, "true", of.StaticReason},
		// fractional with a null bucket key.
		{"null bucket key", "fractional-null-bucket-key-flag", "", nil, "fallback", of.DefaultReason},
		{"numeric bucket key", "fractional-null-bucket-key-flag", "user-1", map[string]any{"missing_key": 7}, "fallback", of.DefaultReason},
		// Dotted names are paths.
		{"dotted path", "dotted-flag", "", map[string]any{"org": map[string]any{"id": "acme"}}, "hit", of.TargetingMatchReason},
		{"dotted name is not an attribute name", "dotted-flag", "", map[string]any{"org.id": "acme"}, "miss", of.DefaultReason},
		// $flagd.timestamp.
		{"timestamp", "timestamp-flag", "", nil, "past", of.TargetingMatchReason},
	}
	for mode, client := range clients {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				ec := of.NewEvaluationContext(tt.key, tt.attrs)
				var value string
				var d of.EvaluationDetails
				if tt.flag == "boolean-flag" {
					r, err := client.BooleanValueDetails(t.Context(), tt.flag, false, ec)
					require.NoError(t, err)
					value, d = map[bool]string{true: "true", false: "false"}[r.Value], r.EvaluationDetails
				} else {
					r, err := client.StringValueDetails(t.Context(), tt.flag, "caller-default", ec)
					require.NoError(t, err)
					value, d = r.Value, r.EvaluationDetails
				}
				assert.Equal(t, tt.value, value)
				assert.Equal(t, tt.reason, d.Reason)
				assert.Empty(t, d.ErrorCode)
			})
		}
	}
}

// TestFlagdNullBucketKeyFallsBackAsGo: with a targeting key, a fractional
// whose bucket-by attribute is missing buckets by flag key and targeting
// key, as flagd's Go evaluator does (flagd-core serves the default variant
// instead; README, "Moving from flagd"): the answer is the shorthand's.
func TestFlagdNullBucketKeyFallsBackAsGo(t *testing.T) {
	flags, err := importer.ImportFlagd([]byte(`{"flags": {
	  "null-key": {"state": "ENABLED", "variants": {"one": "one", "two": "two", "fallback": "fallback"}, "defaultVariant": "fallback",
	    "targeting": {"fractional": [{"var": "missing_key"}, ["one", 50], ["two", 50]]}}}}`))
	require.NoError(t, err)
	shorthand, err := importer.ImportFlagd([]byte(`{"flags": {
	  "null-key": {"state": "ENABLED", "variants": {"one": "one", "two": "two", "fallback": "fallback"}, "defaultVariant": "fallback",
	    "targeting": {"fractional": [["one", 50], ["two", 50]]}}}}`))
	require.NoError(t, err)
	srv := redistest.Start(t)
	p := provider.New(srv.Client(t))
	require.NoError(t, p.Init(of.EvaluationContext{}))
	t.Cleanup(p.Shutdown)
	st := store.New(srv.Client(t))
	seen := map[string]int{}
	answers := map[string]string{}
	_, err = st.Upsert(t.Context(), shorthand[0])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return p.StringEvaluation(t.Context(), "null-key", "x", of.FlattenedContext{of.TargetingKey: "u"}).Reason == of.TargetingMatchReason
	}, 10*time.Second, 10*time.Millisecond)
	for i := range 200 {
		key := "user-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		answers[key] = p.StringEvaluation(t.Context(), "null-key", "x", of.FlattenedContext{of.TargetingKey: key}).Value
	}
	_, err = st.Upsert(t.Context(), flags[0])
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the new definition is loaded: missing_key decides
		return p.StringEvaluation(t.Context(), "null-key", "x", of.FlattenedContext{"missing_key": "k"}).Reason == of.TargetingMatchReason
	}, 10*time.Second, 10*time.Millisecond)
	for key, want := range answers {
		got := p.StringEvaluation(t.Context(), "null-key", "x", of.FlattenedContext{of.TargetingKey: key})
		assert.Equal(t, want, got.Value, key)
		assert.Equal(t, of.TargetingMatchReason, got.Reason, key)
		seen[got.Value]++
	}
	assert.Len(t, seen, 2, "both halves are served: %v", seen)
}

// TestFlagdResolveExplains: the untyped surface the edges use (OFREP, the
// HTTP routes, the CLI) says a flagd flag is of kind flagd and explains it
// with flagd's subject, the targeting key alone.
func TestFlagdResolveExplains(t *testing.T) {
	flags, err := importer.ImportFlagd([]byte(flagdSemanticsDoc))
	require.NoError(t, err)
	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	for _, f := range flags {
		_, err := st.Upsert(t.Context(), f)
		require.NoError(t, err, f.Key)
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			p := provider.New(srv.Client(t), m.opts...)
			require.NoError(t, p.Init(of.EvaluationContext{}))
			t.Cleanup(p.Shutdown)
			res := p.Resolve(t.Context(), "targeting-key-flag", of.FlattenedContext{"key": "user-1", "region": 5})
			assert.Empty(t, res.ErrorCode)
			assert.Equal(t, of.DefaultReason, res.Reason)
			assert.Equal(t, "miss", res.Variant)
			assert.Equal(t, provider.KindFlagd, res.Explanation.Kind)
			assert.Empty(t, res.Explanation.Subject, "a key is no targeting key for flagd")
			res = p.Resolve(t.Context(), "targeting-key-flag", of.FlattenedContext{of.TargetingKey: "user-1"})
			assert.Equal(t, of.TargetingMatchReason, res.Reason)
			assert.Equal(t, "user-1", res.Explanation.Subject)
			assert.JSONEq(t, `"hit"`, string(res.Value))
		})
	}
}
