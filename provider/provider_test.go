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
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

var modes = []struct {
	name string
	opts []provider.Option
}{
	{"snapshot", nil},
	{"direct", []provider.Option{provider.WithDirectReads()}},
}

// eachModeAndServer runs fn for both provider modes against miniredis and a
// real redis-server.
func eachModeAndServer(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option)) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		for _, m := range modes {
			t.Run(m.name, func(t *testing.T) { fn(t, rdb, m.opts) })
		}
	})
}

// TestTutorialWrittenFlagsEvaluateLikeTheTutorial writes flags with the
// tutorial's raw commands and checks, for 1,000 subjects, every answer,
// bucket-derived reason and variant against sha256 computed here.
func TestTutorialWrittenFlagsEvaluateLikeTheTutorial(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", tutorial.CheckoutBanner()))
		// Read back through the store first: the definition is the tutorial's.
		def, err := store.New(rdb).Get(ctx, "checkout-banner")
		require.NoError(t, err)
		require.Equal(t, 25, def.Environments["production"].RolloutPercent)

		c := bind(t, provider.New(rdb, opts...))
		hits := 0
		for i := range 1000 {
			subject := fmt.Sprintf("subject-%d", i)
			region := []string{"eu-central", "ap-south", ""}[i%3]
			d, err := c.BooleanValueDetails(ctx, "checkout-banner", false, of.NewEvaluationContext(subject, map[string]any{"region": region}))
			require.NoError(t, err)
			want := referenceBucket("checkout-banner", "production", subject) < 25
			require.Equal(t, want, d.Value, "subject %s", subject)
			require.Equal(t, of.SplitReason, d.Reason)
			wantReason := "rollout-miss"
			if want {
				hits++
				wantReason = "rollout-hit"
				require.Equal(t, "on", d.Variant)
			} else {
				require.Equal(t, "off", d.Variant)
			}
			require.Equal(t, wantReason, d.FlagMetadata["evaluationReason"])
			require.Equal(t, "production", d.FlagMetadata["environment"])

			obj, err := c.ObjectValue(ctx, "checkout-banner", map[string]any{"title": "default"}, of.NewEvaluationContext(subject, nil))
			require.NoError(t, err)
			if want {
				require.Equal(t, map[string]any{"title": "Fast checkout"}, obj)
			} else {
				require.Equal(t, map[string]any{"title": "default"}, obj)
			}
		}
		assert.InDelta(t, 250, hits, 60, "about a quarter of 1,000 subjects are in a 25%% rollout")
	})
}

// TestTutorialBucketsAreRecoveredExactly recovers, through OpenFeature
// alone, the exact bucket of each of 1,000 subjects of a flag written with
// the tutorial's raw commands, and compares it with sha256 computed here. A
// subject's bucket is b when it is on at rolloutPercent b+1 and off at b, so
// the test rewrites the flag (with the tutorial's own upsert) at the
// percents it needs: in snapshot mode every percent 1–100, each read by a
// fresh provider; in direct mode, which reads Redis on every evaluation, a
// binary search per subject.
func TestTutorialBucketsAreRecoveredExactly(t *testing.T) {
	const subjects = 1000
	flag := func(percent int) tutorial.Flag {
		return tutorial.Flag{Key: "checkout-banner", DefaultEnabled: true,
			Envs: map[string]tutorial.Env{"production": {Enabled: true, RolloutPercent: percent}}}
	}
	subject := func(i int) string { return fmt.Sprintf("subject-%d", i) }
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		for _, m := range modes {
			t.Run(m.name, func(t *testing.T) {
				ctx := t.Context()
				require.NoError(t, rdb.FlushAll(ctx).Err())
				write := func(percent int) {
					require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", flag(percent)))
				}
				on := func(c *of.Client, i int) bool {
					d, err := c.BooleanValueDetails(ctx, "checkout-banner", false, of.NewEvaluationContext(subject(i), nil))
					require.NoError(t, err)
					return d.Value
				}
				got := make([]int, subjects)
				if m.name == "direct" {
					write(0)
					c := bind(t, provider.New(rdb, m.opts...))
					for i := range subjects {
						lo, hi := 0, 100 // on at hi, off at lo
						for hi-lo > 1 {
							mid := (lo + hi) / 2
							write(mid)
							if on(c, i) {
								hi = mid
							} else {
								lo = mid
							}
						}
						got[i] = lo
					}
				} else {
					for i := range got {
						got[i] = -1
					}
					for percent := 1; percent <= 100; percent++ {
						write(percent)
						p := provider.New(rdb, m.opts...)
						domain := newDomain(t)
						require.NoError(t, of.SetNamedProviderAndWait(domain, p))
						c := of.NewClient(domain)
						for i := range subjects {
							if got[i] < 0 && on(c, i) {
								got[i] = percent - 1
							}
						}
						p.Shutdown()
					}
				}
				for i := range subjects {
					require.Equal(t, referenceBucket("checkout-banner", "production", subject(i)), got[i], subject(i))
				}
			})
		}
	})
}

func TestReasonsVariantsAndMetadata(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		_, err := s.Upsert(ctx, evaluator.Flag{Key: "banner", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 25, AllowlistUsers: []string{"user-123"}, AllowlistRegions: []string{"us-west"}},
			"staging":    {Enabled: false, RolloutPercent: 100},
			"full":       {Enabled: true, RolloutPercent: 100},
			"none":       {Enabled: true, RolloutPercent: 0},
		}})
		require.NoError(t, err)
		_, err = s.Upsert(ctx, evaluator.Flag{Key: "killed", DefaultEnabled: false, Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 100}}})
		require.NoError(t, err)
		c := bind(t, provider.New(rdb, opts...))
		tests := []struct {
			name, flag, subject string
			attrs               map[string]any
			value               bool
			reason              of.Reason
			variant, tutorial   string
		}{
			{"flag disabled", "killed", "user-123", nil, false, of.DisabledReason, "off", "flag-disabled"},
			{"environment missing", "banner", "user-123", map[string]any{"environment": "nowhere"}, false, of.DefaultReason, "off", "environment-missing"},
			{"environment disabled", "banner", "user-123", map[string]any{"environment": "staging"}, false, of.DisabledReason, "off", "environment-disabled"},
			{"allowlisted user", "banner", "user-123", nil, true, of.TargetingMatchReason, "on", "allowlist-user"},
			{"allowlisted region", "banner", "nobody", map[string]any{"region": "us-west"}, true, of.TargetingMatchReason, "on", "allowlist-region"},
			{"100 percent", "banner", "", map[string]any{"environment": "full"}, true, of.DefaultReason, "on", "rollout-hit"},
			{"0 percent", "banner", "u", map[string]any{"environment": "none"}, false, of.DefaultReason, "off", "rollout-miss"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d, err := c.BooleanValueDetails(ctx, tt.flag, !tt.value, of.NewEvaluationContext(tt.subject, tt.attrs))
				require.NoError(t, err)
				assert.Equal(t, tt.value, d.Value)
				assert.Equal(t, tt.reason, d.Reason)
				assert.Equal(t, tt.variant, d.Variant)
				assert.Equal(t, tt.tutorial, d.FlagMetadata["evaluationReason"])
				assert.Equal(t, int64(1), d.FlagMetadata["version"])
			})
		}
	})
}

func TestTypedResolution(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		payloads := map[string]string{
			"str": `"hello"`, "int": `42`, "float": `2.5`, "obj": `{"a":{"b":[1,2]}}`, "arr": `[1,"x"]`, "none": ``, "bool": `true`,
		}
		for k, v := range payloads {
			_, err := s.Upsert(ctx, evaluator.Flag{Key: k, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
				"production": {Enabled: true, RolloutPercent: 100, Value: json.RawMessage(v)},
				"off":        {Enabled: false, Value: json.RawMessage(v)},
			}})
			require.NoError(t, err)
		}
		c := bind(t, provider.New(rdb, opts...))
		ec := of.NewEvaluationContext("u", nil)
		offCtx := of.NewEvaluationContext("u", map[string]any{"environment": "off"})

		sd, err := c.StringValueDetails(ctx, "str", "def", ec)
		require.NoError(t, err)
		assert.Equal(t, "hello", sd.Value)
		assert.Equal(t, "on", sd.Variant)
		sd, _ = c.StringValueDetails(ctx, "str", "def", offCtx)
		assert.Equal(t, "def", sd.Value)
		assert.Equal(t, of.DisabledReason, sd.Reason)

		id, err := c.IntValueDetails(ctx, "int", 7, ec)
		require.NoError(t, err)
		assert.Equal(t, int64(42), id.Value)
		id, _ = c.IntValueDetails(ctx, "float", 7, ec)
		assert.Equal(t, int64(7), id.Value)
		assert.Equal(t, of.TypeMismatchCode, id.ErrorCode, "2.5 is not an integer")

		fd, err := c.FloatValueDetails(ctx, "float", 1, ec)
		require.NoError(t, err)
		assert.Equal(t, 2.5, fd.Value)
		fd, _ = c.FloatValueDetails(ctx, "int", 1, ec)
		assert.Equal(t, 42.0, fd.Value, "an integer is a number")

		od, err := c.ObjectValueDetails(ctx, "obj", nil, ec)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"a": map[string]any{"b": []any{1.0, 2.0}}}, od.Value)
		od.Value.(map[string]any)["a"] = "changed by the caller"
		od, _ = c.ObjectValueDetails(ctx, "obj", nil, ec)
		assert.Equal(t, map[string]any{"a": map[string]any{"b": []any{1.0, 2.0}}}, od.Value, "each caller gets its own copy")
		od, _ = c.ObjectValueDetails(ctx, "arr", nil, ec)
		assert.Equal(t, []any{1.0, "x"}, od.Value)

		sd, _ = c.StringValueDetails(ctx, "int", "def", ec)
		assert.Equal(t, "def", sd.Value)
		assert.Equal(t, of.TypeMismatchCode, sd.ErrorCode)
		assert.Equal(t, of.ErrorReason, sd.Reason)
		assert.Empty(t, sd.Variant)
		assert.Contains(t, sd.ErrorMessage, `"int"`)

		sd, err = c.StringValueDetails(ctx, "none", "def", ec)
		require.NoError(t, err)
		assert.Equal(t, "def", sd.Value)
		assert.Equal(t, of.DefaultReason, sd.Reason, "on without a payload gives the default")

		bd, _ := c.BooleanValueDetails(ctx, "bool", false, ec)
		assert.True(t, bd.Value)
	})
}

func TestErrorCodes(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		for _, k := range []string{"good", "bad-percent", "bad-value", "bad-percent-high", "bad-percent-negative"} {
			_, err := s.Upsert(ctx, evaluator.Flag{Key: k, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
				"production": {Enabled: true, RolloutPercent: 50, Value: json.RawMessage(`"v"`)}}})
			require.NoError(t, err)
		}
		env := func(k string) string { return "feature-flags:flag:" + k + ":environment:production" }
		require.NoError(t, rdb.HSet(ctx, env("bad-percent"), "rolloutPercent", "abc").Err())
		require.NoError(t, rdb.HSet(ctx, env("bad-percent-high"), "rolloutPercent", "101").Err())
		require.NoError(t, rdb.HSet(ctx, env("bad-percent-negative"), "rolloutPercent", "-1").Err())
		require.NoError(t, rdb.HSet(ctx, env("bad-value"), "value", "{not json").Err())
		c := bind(t, provider.New(rdb, opts...))

		for _, k := range []string{"bad-percent", "bad-value", "bad-percent-high", "bad-percent-negative"} {
			d, _ := c.BooleanValueDetails(ctx, k, true, of.NewEvaluationContext("u", nil))
			assert.Equal(t, of.ParseErrorCode, d.ErrorCode, k)
			assert.True(t, d.Value, "the caller's default")
			assert.Equal(t, of.ErrorReason, d.Reason)
			assert.Contains(t, d.ErrorMessage, k)
		}
		d, err := c.BooleanValueDetails(ctx, "good", false, of.NewEvaluationContext("u", nil))
		require.NoError(t, err, "a corrupt flag does not affect the others")
		assert.Equal(t, of.SplitReason, d.Reason)

		d, _ = c.BooleanValueDetails(ctx, "missing", true, of.NewEvaluationContext("u", nil))
		assert.Equal(t, of.FlagNotFoundCode, d.ErrorCode)
		assert.True(t, d.Value)

		d, _ = c.BooleanValueDetails(ctx, "good", true, of.NewEvaluationContext("", nil))
		assert.Equal(t, of.TargetingKeyMissingCode, d.ErrorCode)

		d, _ = c.BooleanValueDetails(ctx, "good", true, of.NewEvaluationContext("u", map[string]any{"region": 7}))
		assert.Equal(t, of.InvalidContextCode, d.ErrorCode)
		assert.Contains(t, d.ErrorMessage, "region")
	})
}

func TestNotReadyBeforeInit(t *testing.T) {
	m := redistest.Start(t)
	p := provider.New(m.Client(t))
	d := p.BooleanEvaluation(t.Context(), "x", true, of.FlattenedContext{"targetingKey": "u"})
	assert.True(t, d.Value)
	assert.Equal(t, of.ProviderNotReadyCode, d.ResolutionDetail().ErrorCode)
}

// TestLaunchDarklyShapedContexts checks docs/design.md §5: an application written for
// LaunchDarkly's OpenFeature provider works unchanged.
func TestLaunchDarklyShapedContexts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		_, err := store.New(rdb).Upsert(ctx, evaluator.Flag{Key: "f", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, AllowlistUsers: []string{"u-1"}, AllowlistRegions: []string{"r-1"}},
			"staging":    {Enabled: true, AllowlistUsers: []string{"u-2"}},
		}})
		require.NoError(t, err)
		p := provider.New(rdb, provider.WithContextKind("user"))
		c := bind(t, p)
		tests := []struct {
			name string
			ec   of.EvaluationContext
			on   bool
			code of.ErrorCode
		}{
			{"targeting key", of.NewEvaluationContext("u-1", nil), true, ""},
			{"single context key", of.NewTargetlessEvaluationContext(map[string]any{"kind": "user", "key": "u-1"}), true, ""},
			{"multi context", of.NewTargetlessEvaluationContext(map[string]any{"kind": "multi",
				"user": map[string]any{"key": "u-1"}, "org": map[string]any{"key": "o-1"}}), true, ""},
			{"multi context region in kind", of.NewTargetlessEvaluationContext(map[string]any{"kind": "multi",
				"user": map[string]any{"key": "nobody", "region": "r-1"}}), true, ""},
			{"environment override", of.NewEvaluationContext("u-2", map[string]any{"environment": "staging"}), true, ""},
			{"other subject", of.NewEvaluationContext("u-2", nil), false, ""},
			{"key of wrong type", of.NewTargetlessEvaluationContext(map[string]any{"key": 12}), false, of.InvalidContextCode},
			{"multi kind not an object", of.NewTargetlessEvaluationContext(map[string]any{"kind": "multi", "user": "u-1"}), false, of.InvalidContextCode},
			{"environment of wrong type", of.NewEvaluationContext("u-1", map[string]any{"environment": true}), false, of.InvalidContextCode},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d, _ := c.BooleanValueDetails(ctx, "f", false, tt.ec)
				assert.Equal(t, tt.code, d.ErrorCode, d.ErrorMessage)
				assert.Equal(t, tt.on, d.Value)
			})
		}
	})
}

func TestSnapshotBooleanDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	_, err := store.New(rdb).Upsert(t.Context(), evaluator.Flag{Key: "f", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, RolloutPercent: 25, AllowlistUsers: []string{"u"}, Value: json.RawMessage(`{"a":1}`)}}})
	require.NoError(t, err)
	p := provider.New(rdb)
	require.NoError(t, p.Init(of.EvaluationContext{}))
	defer p.Shutdown()
	ctx := t.Context()
	for _, fc := range []of.FlattenedContext{
		{"targetingKey": "someone", "region": "eu"},
		{"targetingKey": "u"},
		{"kind": "multi", "user": map[string]any{"key": "someone"}},
	} {
		var d of.BoolResolutionDetail
		allocs := testing.AllocsPerRun(1000, func() { d = p.BooleanEvaluation(ctx, "f", false, fc) })
		require.NoError(t, d.Error())
		assert.Zero(t, allocs, "context %v", fc)
	}
}
