package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// The flags of the suite. Tutorial flags cover every outcome of
// docs/design.md §3 (with and without payloads, payloads of every JSON
// type, 0 % and 100 %, an md5 canary); variant flags serve every type;
// corrupt-env has an environment whose stored percent does not parse and
// corrupt-flag a flag hash that does not; the LaunchDarkly flags come from
// importer/testdata. Some are written with the store, some through the
// admin API (after the server has started), some by hand with HSET.

// ldDataFile is LaunchDarkly's test data, shared with the importer.
const ldDataFile = "../importer/testdata/launchdarkly/flags.json"

func env(enabled bool, percent int, value string, users, regions []string) evaluator.Environment {
	e := evaluator.Environment{Enabled: enabled, RolloutPercent: percent, AllowlistUsers: users, AllowlistRegions: regions}
	if value != "" {
		e.Value = json.RawMessage(value)
	}
	return e
}

// storeFlags are written with store.Upsert before the server starts.
func storeFlags() []evaluator.Flag {
	return []evaluator.Flag{
		{Key: "checkout-banner", Description: "the README's flag", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 25, `{"title":"Fast checkout"}`, []string{"user-123"}, []string{"us-west"}),
			"staging":    env(true, 100, `{"title":"Staging checkout"}`, nil, nil),
			"dev":        env(false, 100, `{"title":"Dev checkout"}`, nil, nil),
		}},
		{Key: "plain-switch", Description: "no payload", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 50, "", []string{"vip-1"}, []string{"eu-north"}),
			"staging":    env(true, 0, "", nil, nil),
			"dev":        env(false, 50, "", nil, nil),
		}},
		{Key: "flag-off", DefaultEnabled: false, Environments: map[string]evaluator.Environment{
			"production": env(true, 100, `"hello"`, []string{"user-123"}, nil),
		}},
		{Key: "pct-zero", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 0, `"zero"`, nil, nil),
			"staging":    env(true, 0, "", nil, nil),
		}},
		{Key: "pct-full", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 100, `42`, nil, nil),
			"staging":    env(true, 100, "", nil, nil),
		}},
		{Key: "bool-payload", Description: "a boolean payload must not invert the switch", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 50, `false`, []string{"user-123"}, nil),
		}},
		{Key: "canary-md5", DefaultEnabled: true, Bucketing: evaluator.BucketMD5Canary, Environments: map[string]evaluator.Environment{
			"production": env(true, 100, "", nil, nil),
			"staging":    env(true, 30, `{"variant":"canary"}`, nil, nil),
		}},
		{Key: "corrupt-env", Description: "production's percent is overwritten with \"abc\"", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 100, `"ok"`, nil, nil),
			"staging":    env(true, 100, `"fine"`, nil, nil),
		}},
		{Key: "corrupt-flag", Description: "defaultEnabled is overwritten with \"maybe\"", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": env(true, 100, `"never"`, nil, nil),
		}},
	}
}

// adminFlags are written through PUT /api/admin/flags/{key}, in the
// tutorial's JSON (and its extension for variant flags).
func adminFlags() []map[string]any {
	envs := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	e := func(enabled bool, percent int, value any, users, regions []string) map[string]any {
		m := map[string]any{"enabled": enabled, "rolloutPercent": percent,
			"allowlistUsers": append([]string{}, users...), "allowlistRegions": append([]string{}, regions...)}
		if value != nil {
			m["value"] = value
		}
		return m
	}
	cond := func(attr, op string, values ...any) map[string]any {
		return map[string]any{"attribute": attr, "op": op, "values": values}
	}
	return []map[string]any{
		{"flagKey": "float-payload", "defaultEnabled": true, "environments": envs(
			"production", e(true, 100, 2.5, nil, nil),
			"staging", e(true, 100, 7, nil, nil))},
		{"flagKey": "array-payload", "defaultEnabled": true, "environments": envs(
			"production", e(true, 100, []any{1, "two", map[string]any{"three": 3}}, nil, nil))},
		{"flagKey": "string-payload", "defaultEnabled": true, "environments": envs(
			"production", e(true, 50, "Welcome back", nil, []string{"us-west"}),
			"staging", e(false, 100, "Staging welcome", nil, nil))},
		{"flagKey": "admin-switch", "defaultEnabled": true, "environments": envs(
			"production", e(true, 100, nil, nil, nil),
			"staging", e(false, 100, nil, nil, nil))},

		{"flagKey": "v-bool", "defaultEnabled": true, "environments": envs(),
			"variants": map[string]any{"yes": true, "no": false}, "defaultVariant": "yes", "offVariant": "no",
			"rules": []any{map[string]any{"name": "pro", "conditions": []any{cond("plan", "equals", "pro")}, "variant": "no"}}},
		{"flagKey": "v-string", "defaultEnabled": true, "environments": envs(),
			"variants": map[string]any{"red": "#f00", "green": "#0f0", "blue": "#00f"}, "defaultVariant": "blue",
			"rules":    []any{map[string]any{"name": "staff", "conditions": []any{cond("email", "endsWith", "@example.com")}, "variant": "red"}},
			"metadata": map[string]any{"team": "web"}},
		{"flagKey": "v-int", "defaultEnabled": true, "environments": envs(),
			"variants": map[string]any{"small": 1, "big": 100}, "defaultVariant": "small",
			"split": map[string]any{"weights": []any{map[string]any{"variant": "small", "weight": 50}, map[string]any{"variant": "big", "weight": 50}}}},
		{"flagKey": "v-float", "defaultEnabled": true, "environments": envs(),
			"variants": map[string]any{"low": 0.25, "high": 2.5}, "defaultVariant": "high"},
		{"flagKey": "v-object", "defaultEnabled": true, "environments": envs(),
			"variants": map[string]any{"grid": map[string]any{"layout": "grid", "columns": 3}, "list": []any{"a", "b"}}, "defaultVariant": "grid",
			"rules": []any{map[string]any{"name": "beta", "conditions": []any{cond("beta", "equals", true)}, "variant": "list"}}},
		{"flagKey": "v-off-no-variant", "defaultEnabled": false, "environments": envs(),
			"variants": map[string]any{"a": "A"}, "defaultVariant": "a"},
		{"flagKey": "v-off-variant", "defaultEnabled": false, "environments": envs(),
			"variants": map[string]any{"served": "on-value", "dark": "off-value"}, "defaultVariant": "served", "offVariant": "dark"},
		{"flagKey": "v-md5-split", "defaultEnabled": true, "environments": envs(), "bucketing": evaluator.BucketMD5Canary,
			"variants": map[string]any{"a": "A", "b": "B"}, "defaultVariant": "a",
			"split": map[string]any{"weights": []any{map[string]any{"variant": "a", "weight": 50}, map[string]any{"variant": "b", "weight": 50}}}},
	}
}

// ldFlags are the LaunchDarkly test data imported (all environments), and
// the OpenFeature type each flag is asked with (as the importer's
// equivalence test asks them).
func ldFlags(t *testing.T) ([]evaluator.Flag, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(ldDataFile)
	if err != nil {
		t.Fatal(err)
	}
	res, err := importer.LaunchDarkly(data)
	if err != nil {
		t.Fatalf("import %s: %v", ldDataFile, err)
	}
	types := map[string]string{}
	for _, f := range res.Flags {
		types[f.Key] = ldType(f)
	}
	return res.Flags, types
}

// ldType is the type of a LaunchDarkly flag's first variation.
func ldType(f evaluator.Flag) string {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range f.Variants {
			if !yield(k) {
				return
			}
		}
	})
	var v any
	if len(names) > 0 {
		_ = json.Unmarshal(f.Variants[names[0]], &v)
	}
	switch x := v.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) && f.Key != "float-flag" {
			return "integer"
		}
		return "float"
	}
	return "object"
}

// writeFixture writes the store flags, the LaunchDarkly flags and the
// corruptions; it returns every key written.
func writeFixture(t *testing.T, rs *redistest.Server) []string {
	t.Helper()
	ctx := t.Context()
	rdb := rs.Client(t)
	st := store.New(rdb)
	var keys []string
	ld, _ := ldFlags(t)
	for _, f := range append(storeFlags(), ld...) {
		if _, err := st.Upsert(ctx, f); err != nil {
			t.Fatalf("upsert %s: %v", f.Key, err)
		}
		keys = append(keys, f.Key)
	}
	// By hand, as a careless script would: one environment's percent, and
	// one flag's switch.
	for _, c := range [][]any{
		{"HSET", "feature-flags:flag:corrupt-env:environment:production", "rolloutPercent", "abc"},
		{"HSET", "feature-flags:flag:corrupt-flag", "defaultEnabled", "maybe"},
	} {
		if err := rdb.Do(ctx, c...).Err(); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	return keys
}

// subjectFor returns a subject whose bucket for the flag is below percent
// (hit) or not (miss), with the flag's own bucketing.
func subjectFor(flag, environment string, scheme evaluator.Scheme, percent int, hit bool) string {
	for i := 0; ; i++ {
		s := fmt.Sprintf("user-%d", 1000+i)
		b := evaluator.BucketWith(scheme, flag, environment, s, false)
		if (b < percent) == hit {
			return s
		}
	}
}
