package provider_test

import (
	"encoding/json"
	"fmt"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

func variantFlags() []evaluator.Flag {
	rawv := func(s string) json.RawMessage { return json.RawMessage(s) }
	return []evaluator.Flag{
		{Key: "greeting", DefaultEnabled: true, Variants: map[string]json.RawMessage{"hi": rawv(`"hi"`), "bye": rawv(`"bye"`)},
			DefaultVariant: "hi", Metadata: map[string]any{"owner": "web", "n": 2.0}},
		{Key: "limits", DefaultEnabled: true,
			Variants:       map[string]json.RawMessage{"low": rawv(`10`), "high": rawv(`1000`), "tenth": rawv(`0.1`), "obj": rawv(`{"a":[1,2]}`), "yes": rawv(`true`)},
			DefaultVariant: "low",
			Rules: []evaluator.Rule{
				{Name: "vip", Conditions: []evaluator.Condition{{Attribute: "tier", Op: evaluator.OpEquals, Values: []any{"gold"}}, {Attribute: "age", Op: evaluator.OpGTE, Values: []any{18.0}}}, Variant: "high"},
				{Name: "cel", CEL: `kind == "float" ? "tenth" : (kind == "obj" ? "obj" : (kind == "bool" ? "yes" : ""))`},
				{Name: "ab", Conditions: []evaluator.Condition{{Attribute: "ab", Op: evaluator.OpExists}}, Split: &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "low", Weight: 50}, {Variant: "high", Weight: 50}}}},
			}},
		{Key: "off-with-variant", DefaultEnabled: false, Variants: map[string]json.RawMessage{"a": rawv(`"a"`), "b": rawv(`"b"`)}, DefaultVariant: "a", OffVariant: "b"},
		{Key: "off-without-variant", DefaultEnabled: false, Variants: map[string]json.RawMessage{"a": rawv(`"a"`)}, DefaultVariant: "a"},
		{Key: "per-env", DefaultEnabled: true, Variants: map[string]json.RawMessage{"a": rawv(`"a"`), "b": rawv(`"b"`)}, DefaultVariant: "a", OffVariant: "b",
			Environments: map[string]evaluator.Environment{"production": {Enabled: true}, "staging": {Enabled: false}}},
	}
}

func TestVariantFlagsResolveWithSpecReasons(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		for _, f := range variantFlags() {
			_, err := s.Upsert(ctx, f)
			require.NoError(t, err, f.Key)
		}
		c := bind(t, provider.New(rdb, opts...))
		ec := func(attrs map[string]any) of.EvaluationContext { return of.NewEvaluationContext("user-1", attrs) }

		sd, err := c.StringValueDetails(ctx, "greeting", "x", ec(nil))
		require.NoError(t, err)
		assert.Equal(t, "hi", sd.Value)
		assert.Equal(t, "hi", sd.Variant)
		assert.Equal(t, of.StaticReason, sd.Reason)
		assert.Equal(t, of.FlagMetadata{"owner": "web", "n": int64(2)}, sd.FlagMetadata)
		n, err := sd.FlagMetadata.GetInt("n")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)

		id, err := c.IntValueDetails(ctx, "limits", 1, ec(map[string]any{"tier": "gold", "age": 20}))
		require.NoError(t, err)
		assert.Equal(t, int64(1000), id.Value)
		assert.Equal(t, "high", id.Variant)
		assert.Equal(t, of.TargetingMatchReason, id.Reason)

		id, err = c.IntValueDetails(ctx, "limits", 1, ec(map[string]any{"tier": "gold"}))
		require.NoError(t, err)
		assert.Equal(t, int64(10), id.Value, "a missing attribute: rules do not hold")
		assert.Equal(t, of.DefaultReason, id.Reason)

		fd, err := c.FloatValueDetails(ctx, "limits", 9, ec(map[string]any{"kind": "float"}))
		require.NoError(t, err)
		assert.Equal(t, 0.1, fd.Value)
		assert.Equal(t, of.TargetingMatchReason, fd.Reason)

		od, err := c.ObjectValueDetails(ctx, "limits", nil, ec(map[string]any{"kind": "obj"}))
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"a": []any{1.0, 2.0}}, od.Value)

		bd, err := c.BooleanValueDetails(ctx, "limits", false, ec(map[string]any{"kind": "bool"}))
		require.NoError(t, err)
		assert.True(t, bd.Value)
		assert.Equal(t, "yes", bd.Variant)

		bd, _ = c.BooleanValueDetails(ctx, "greeting", true, ec(nil))
		assert.Equal(t, of.TypeMismatchCode, bd.ErrorCode)
		assert.True(t, bd.Value, "caller's default on a type mismatch")
		assert.Contains(t, bd.ErrorMessage, `variant "hi"`)

		seen := map[string]int{}
		for i := range 400 {
			d, err := c.IntValueDetails(ctx, "limits", 1, of.NewEvaluationContext(fmt.Sprintf("s-%d", i), map[string]any{"ab": true}))
			require.NoError(t, err)
			require.Equal(t, of.SplitReason, d.Reason)
			seen[d.Variant]++
		}
		assert.InDelta(t, 200, seen["low"], 60)
		assert.InDelta(t, 200, seen["high"], 60)

		d, _ := c.IntValueDetails(ctx, "limits", 1, of.NewEvaluationContext("", map[string]any{"ab": true}))
		assert.Equal(t, of.TargetingKeyMissingCode, d.ErrorCode)

		sd, err = c.StringValueDetails(ctx, "off-with-variant", "x", ec(nil))
		require.NoError(t, err)
		assert.Equal(t, "b", sd.Value)
		assert.Equal(t, of.DisabledReason, sd.Reason)
		sd, err = c.StringValueDetails(ctx, "off-without-variant", "x", ec(nil))
		require.NoError(t, err)
		assert.Equal(t, "x", sd.Value)
		assert.Empty(t, sd.Variant)
		assert.Equal(t, of.DisabledReason, sd.Reason)

		sd, _ = c.StringValueDetails(ctx, "per-env", "x", ec(nil))
		assert.Equal(t, "a", sd.Value)
		sd, _ = c.StringValueDetails(ctx, "per-env", "x", ec(map[string]any{"environment": "staging"}))
		assert.Equal(t, "b", sd.Value)
		assert.Equal(t, of.DisabledReason, sd.Reason)
		sd, _ = c.StringValueDetails(ctx, "per-env", "x", ec(map[string]any{"environment": "qa"}))
		assert.Equal(t, "b", sd.Value)
		assert.Equal(t, of.DefaultReason, sd.Reason)
	})
}

func TestBadStoredRuleIsParseErrorForThatFlagOnly(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		for _, f := range variantFlags()[:2] {
			_, err := s.Upsert(ctx, f)
			require.NoError(t, err)
		}
		// A hand-written rule with an operator that does not exist, and one
		// whose JSON is broken.
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:limits", "rules", `[{"conditions":[{"attribute":"a","op":"like","values":["x"]}],"variant":"high"}]`).Err())
		c := bind(t, provider.New(rdb, opts...))
		d, _ := c.IntValueDetails(ctx, "limits", 7, of.NewEvaluationContext("u", nil))
		assert.Equal(t, of.ParseErrorCode, d.ErrorCode)
		assert.Equal(t, int64(7), d.Value)
		assert.Contains(t, d.ErrorMessage, "limits")
		assert.Contains(t, d.ErrorMessage, `rules[0].conditions[0].op`)
		sd, err := c.StringValueDetails(ctx, "greeting", "x", of.NewEvaluationContext("u", nil))
		require.NoError(t, err, "other flags still evaluate")
		assert.Equal(t, "hi", sd.Value)
	})
}
