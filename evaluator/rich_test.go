package evaluator_test

import (
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/murmur3"

	"github.com/redisflags/redisflags/evaluator"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// colorFlag is a string variant flag with three rules, a CEL rule and a
// default split.
func colorFlag() evaluator.Flag {
	return evaluator.Flag{
		Key:            "button-color",
		DefaultEnabled: true,
		Variants:       map[string]json.RawMessage{"red": raw(`"#f00"`), "green": raw(`"#0f0"`), "blue": raw(`"#00f"`), "grey": raw(`"#888"`)},
		DefaultVariant: "blue",
		OffVariant:     "grey",
		Rules: []evaluator.Rule{
			{Name: "staff", Conditions: []evaluator.Condition{
				{Attribute: "email", Op: evaluator.OpEndsWith, Values: []any{"@example.com"}},
				{Attribute: "age", Op: evaluator.OpGTE, Values: []any{18.0}},
				{Attribute: "plan", Op: evaluator.OpIn, Values: []any{"pro", "enterprise"}},
			}, Variant: "red"},
			{Name: "beta", CEL: `beta == true && version.startsWith("2.")`, Variant: "green"},
			{Name: "eu", Conditions: []evaluator.Condition{{Attribute: "region", Op: evaluator.OpEquals, Values: []any{"eu"}}},
				Split: &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "red", Weight: 50}, {Variant: "green", Weight: 50}}}},
		},
		Metadata: map[string]any{"team": "web", "ticket": 42.0},
	}
}

func TestVariantFlagFollowsItsRulesInOrder(t *testing.T) {
	c, err := evaluator.Compile(colorFlag())
	require.NoError(t, err)
	staff := evaluator.MapAttributes{"email": "ann@example.com", "age": 30, "plan": "pro"}
	tests := []struct {
		name    string
		in      evaluator.Input
		variant string
		outcome evaluator.Outcome
		err     evaluator.ErrorKind
	}{
		{"all three conditions", evaluator.Input{Environment: "production", Subject: "u1", Attributes: staff}, "red", evaluator.RuleMatch, 0},
		{"one condition fails", evaluator.Input{Environment: "production", Subject: "u1", Attributes: evaluator.MapAttributes{"email": "ann@example.com", "age": 17, "plan": "pro"}}, "blue", evaluator.DefaultServed, 0},
		{"CEL rule", evaluator.Input{Environment: "production", Subject: "u1", Attributes: evaluator.MapAttributes{"beta": true, "version": "2.1"}}, "green", evaluator.RuleMatch, 0},
		{"CEL attribute missing is no match", evaluator.Input{Environment: "production", Subject: "u1", Attributes: evaluator.MapAttributes{"beta": true}}, "blue", evaluator.DefaultServed, 0},
		{"nil attributes", evaluator.Input{Environment: "production", Subject: "u1"}, "blue", evaluator.DefaultServed, 0},
		{"split needs a subject", evaluator.Input{Environment: "production", Attributes: evaluator.MapAttributes{"region": "eu"}}, "", evaluator.NoOutcome, evaluator.SubjectMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Evaluate(tt.in)
			assert.Equal(t, tt.variant, r.Variant)
			assert.Equal(t, tt.outcome, r.Outcome)
			assert.Equal(t, tt.err, r.Err)
			if tt.variant != "" {
				require.NotNil(t, r.Value)
				assert.Equal(t, evaluator.KindString, r.Value.Kind)
			}
		})
	}
	md := c.FlagMetadata()
	assert.Equal(t, map[string]any{"team": "web", "ticket": int64(42)}, md)
}

func TestVariantFlagDisabledServesOffVariant(t *testing.T) {
	f := colorFlag()
	f.DefaultEnabled = false
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	r := c.Evaluate(evaluator.Input{Environment: "production", Subject: "u"})
	assert.Equal(t, "grey", r.Variant)
	assert.Equal(t, evaluator.FlagDisabled, r.Outcome)

	f.OffVariant = ""
	c, err = evaluator.Compile(f)
	require.NoError(t, err)
	r = c.Evaluate(evaluator.Input{Environment: "production", Subject: "u"})
	assert.Empty(t, r.Variant)
	assert.Nil(t, r.Value)
	assert.Equal(t, evaluator.FlagDisabled, r.Outcome)
}

func TestVariantFlagEnvironments(t *testing.T) {
	f := colorFlag()
	f.Rules = nil
	f.Environments = map[string]evaluator.Environment{"production": {Enabled: true}, "staging": {Enabled: false}}
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	r := c.Evaluate(evaluator.Input{Environment: "production"})
	assert.Equal(t, "blue", r.Variant)
	assert.Equal(t, evaluator.Static, r.Outcome)
	r = c.Evaluate(evaluator.Input{Environment: "staging"})
	assert.Equal(t, "grey", r.Variant)
	assert.Equal(t, evaluator.EnvironmentDisabled, r.Outcome)
	r = c.Evaluate(evaluator.Input{Environment: "dev"})
	assert.Equal(t, "grey", r.Variant)
	assert.Equal(t, evaluator.EnvironmentMissing, r.Outcome)
}

func TestSplitSharesFollowWeights(t *testing.T) {
	for _, scheme := range []string{evaluator.BucketSHA256, evaluator.BucketMD5Canary, evaluator.BucketMurmur3} {
		t.Run(scheme, func(t *testing.T) {
			f := colorFlag()
			f.Rules = nil
			f.Bucketing = scheme
			f.Split = &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "red", Weight: 10}, {Variant: "green", Weight: 30}, {Variant: "blue", Weight: 60}}}
			c, err := evaluator.Compile(f)
			require.NoError(t, err)
			counts := map[string]int{}
			const n = 20000
			for i := range n {
				r := c.Evaluate(evaluator.Input{Environment: "production", Subject: fmt.Sprintf("user-%d", i)})
				require.Equal(t, evaluator.SplitServed, r.Outcome)
				counts[r.Variant]++
			}
			// 4 standard deviations of a binomial share at n = 20,000 is
			// at most 1.4 points.
			assert.InDelta(t, 0.10, float64(counts["red"])/n, 0.014)
			assert.InDelta(t, 0.30, float64(counts["green"])/n, 0.014)
			assert.InDelta(t, 0.60, float64(counts["blue"])/n, 0.014)
		})
	}
}

func TestSplitByAttribute(t *testing.T) {
	f := colorFlag()
	f.Rules = nil
	f.Split = &evaluator.Split{BucketBy: "company", Weights: []evaluator.WeightedValue{{Variant: "red", Weight: 50}, {Variant: "green", Weight: 50}}}
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	a := c.Evaluate(evaluator.Input{Environment: "p", Subject: "u1", Attributes: evaluator.MapAttributes{"company": "acme"}})
	b := c.Evaluate(evaluator.Input{Environment: "p", Subject: "u2", Attributes: evaluator.MapAttributes{"company": "acme"}})
	assert.Equal(t, a.Variant, b.Variant, "one company, one variant")
	assert.Equal(t, evaluator.Bucket("button-color", "p", "acme"), a.Bucket)
	r := c.Evaluate(evaluator.Input{Environment: "p", Subject: "u1"})
	assert.Equal(t, evaluator.AttributeMissing, r.Err)
}

func TestBucketMD5MatchesBigIntegerArithmetic(t *testing.T) {
	for i := range 500 {
		subject := fmt.Sprintf("user-%d", i)
		sum := md5.Sum([]byte(subject + "-new_checkout_flow"))
		want := new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), big.NewInt(100)).Int64()
		require.Equal(t, int(want), evaluator.BucketMD5("new_checkout_flow", subject), subject)
	}
}

func TestBucketFlagdMatchesMurmur3(t *testing.T) {
	for _, s := range []string{"", "a", "ab", "abc", "abcd", "user-12345", strings.Repeat("x", 301)} {
		want := int(uint64(murmur3.StringSum32("flag"+s)) * 100 >> 32)
		assert.Equal(t, want, evaluator.BucketFlagd("flag", s, false), s)
		want = int(uint64(murmur3.StringSum32(s)) * 100 >> 32)
		assert.Equal(t, want, evaluator.BucketFlagd("flag", s, true), s)
	}
}

func TestTutorialFlagWithCanaryBucketing(t *testing.T) {
	f := banner()
	f.Bucketing = evaluator.BucketMD5Canary
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	for i := range 200 {
		s := fmt.Sprintf("s-%d", i)
		r := c.Evaluate(evaluator.Input{Environment: "production", Subject: s})
		if r.Outcome == evaluator.AllowlistUser {
			continue
		}
		require.Equal(t, evaluator.BucketMD5("checkout-banner", s), r.Bucket)
		require.Equal(t, r.Bucket < 25, r.On)
	}
}

func TestConditionOperators(t *testing.T) {
	attrs := evaluator.MapAttributes{
		"email": "ann@example.com", "age": 30, "score": 2.5, "admin": true, "version": "2.10.0-rc.1",
		"nothing": nil, "user": map[string]any{"country": "NO"},
	}
	tests := []struct {
		attr, op string
		values   []any
		want     bool
	}{
		{"email", evaluator.OpEquals, []any{"ann@example.com"}, true},
		{"email", evaluator.OpEquals, []any{"bob@example.com"}, false},
		{"age", evaluator.OpEquals, []any{30.0}, true},
		{"age", evaluator.OpEquals, []any{"30"}, false},
		{"admin", evaluator.OpEquals, []any{true}, true},
		{"admin", evaluator.OpNotEquals, []any{true}, false},
		{"email", evaluator.OpNotEquals, []any{"x"}, true},
		{"missing", evaluator.OpNotEquals, []any{"x"}, false},
		{"nothing", evaluator.OpExists, nil, false},
		{"email", evaluator.OpExists, nil, true},
		{"email", evaluator.OpIn, []any{"a", "ann@example.com"}, true},
		{"email", evaluator.OpNotIn, []any{"a", "b"}, true},
		{"email", evaluator.OpNotIn, []any{"ann@example.com"}, false},
		{"email", evaluator.OpStartsWith, []any{"bob", "ann"}, true},
		{"email", evaluator.OpEndsWith, []any{".org"}, false},
		{"email", evaluator.OpContains, []any{"@ex"}, true},
		{"email", evaluator.OpMatches, []any{`^[a-z]+@example\.com$`}, true},
		{"age", evaluator.OpMatches, []any{`3`}, false},
		{"age", evaluator.OpLT, []any{31.0}, true},
		{"age", evaluator.OpLTE, []any{30.0}, true},
		{"score", evaluator.OpGT, []any{2.5}, false},
		{"score", evaluator.OpGTE, []any{2.5}, true},
		{"email", evaluator.OpGT, []any{1.0}, false},
		{"version", evaluator.OpSemverLT, []any{"2.10.0"}, true},
		{"version", evaluator.OpSemverGT, []any{"2.9.9"}, true},
		{"version", evaluator.OpSemverEq, []any{"2.10.0-rc.1+build.5"}, true},
		{"version", evaluator.OpSemverGTE, []any{"2.10.0-rc.2"}, false},
		{"version", evaluator.OpSemverLTE, []any{"v2.10.0-rc.1"}, true},
		{"email", evaluator.OpSemverEq, []any{"1.0.0"}, false},
		{"user.country", evaluator.OpEquals, []any{"NO"}, true},
		{"user.city", evaluator.OpExists, nil, false},
		{"targetingKey", evaluator.OpEquals, []any{"user-1"}, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %v", tt.attr, tt.op, tt.values), func(t *testing.T) {
			f := colorFlag()
			f.Rules = []evaluator.Rule{{Conditions: []evaluator.Condition{{Attribute: tt.attr, Op: tt.op, Values: tt.values}}, Variant: "red"}}
			c, err := evaluator.Compile(f)
			require.NoError(t, err)
			r := c.Evaluate(evaluator.Input{Environment: "p", Subject: "user-1", Attributes: attrs})
			assert.Equal(t, tt.want, r.Variant == "red")
		})
	}
}

func TestSemverPrecedence(t *testing.T) {
	// semver.org §11's example chain, each lower than the next.
	chain := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2", "2"}
	for i := 0; i+1 < len(chain); i++ {
		f := colorFlag()
		f.Rules = []evaluator.Rule{{Conditions: []evaluator.Condition{{Attribute: "v", Op: evaluator.OpSemverLT, Values: []any{chain[i+1]}}}, Variant: "red"}}
		c, err := evaluator.Compile(f)
		require.NoError(t, err)
		r := c.Evaluate(evaluator.Input{Attributes: evaluator.MapAttributes{"v": chain[i]}})
		assert.Equal(t, "red", r.Variant, "%s < %s", chain[i], chain[i+1])
		r = c.Evaluate(evaluator.Input{Attributes: evaluator.MapAttributes{"v": chain[i+1]}})
		assert.NotEqual(t, "red", r.Variant, "not %s < %s", chain[i+1], chain[i+1])
	}
}

func TestBadRulesAreRejectedNamingFlagAndRule(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*evaluator.Flag)
		field string
		text  string
	}{
		{"unknown operator", func(f *evaluator.Flag) { f.Rules[0].Conditions[0].Op = "like" }, "rules[0](staff).conditions[0].op", `unknown operator "like"`},
		{"CEL that does not compile", func(f *evaluator.Flag) { f.Rules[1].CEL = "beta ==" }, "rules[1](beta).cel", "does not parse"},
		{"CEL unknown function", func(f *evaluator.Flag) { f.Rules[1].CEL = "frobnicate(beta)" }, "rules[1](beta).cel", "does not compile"},
		{"weights not summing to 100", func(f *evaluator.Flag) { f.Rules[2].Split.Weights[0].Weight = 40 }, "rules[2](eu).split.weights", "sum to 100, got 90"},
		{"regex that does not compile", func(f *evaluator.Flag) {
			f.Rules[0].Conditions[0] = evaluator.Condition{Attribute: "email", Op: evaluator.OpMatches, Values: []any{"(["}}
		}, "rules[0](staff).conditions[0].values[0]", "does not compile"},
		{"unknown variant", func(f *evaluator.Flag) { f.Rules[0].Variant = "purple" }, "rules[0](staff).variant", `"purple"`},
		{"number operator with a string", func(f *evaluator.Flag) { f.Rules[0].Conditions[1].Values = []any{"18"} }, "rules[0](staff).conditions[1].values[0]", "compares numbers"},
		{"no default variant", func(f *evaluator.Flag) { f.DefaultVariant = "" }, "defaultVariant", "required"},
		{"null variant", func(f *evaluator.Flag) { f.Variants["red"] = raw("null") }, "variants.red", "not null"},
		{"allowlist on a variant flag", func(f *evaluator.Flag) {
			f.Environments = map[string]evaluator.Environment{"production": {Enabled: true, AllowlistUsers: []string{"u"}}}
		}, "environments.production", "rules, not allowlists"},
		{"reserved metadata key", func(f *evaluator.Flag) { f.Metadata = map[string]any{"version": "1"} }, "metadata.version", "set by redisflags"},
		{"metadata object", func(f *evaluator.Flag) { f.Metadata = map[string]any{"x": map[string]any{}} }, "metadata.x", "string, number or bool"},
		{"unknown bucketing", func(f *evaluator.Flag) { f.Bucketing = "crc32" }, "bucketing", "unknown bucketing"},
		{"bad kill date", func(f *evaluator.Flag) { f.ExpiresAt = "next week" }, "expiresAt", "neither a date"},
		{"two forms in one condition", func(f *evaluator.Flag) {
			f.Rules[0].Conditions[0].Any = []evaluator.Condition{{Attribute: "a", Op: evaluator.OpExists}}
		}, "rules[0](staff).conditions[0]", "exactly one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := colorFlag()
			tt.edit(&f)
			_, err := evaluator.Compile(f)
			require.Error(t, err)
			var ve *evaluator.ValidationError
			require.True(t, errors.As(err, &ve))
			assert.Equal(t, "button-color", ve.Flag)
			require.NotEmpty(t, ve.Problems)
			assert.Equal(t, tt.field, ve.Problems[0].Field, err.Error())
			assert.Contains(t, ve.Problems[0].Message, tt.text)
			assert.ErrorIs(t, evaluator.Validate(f), evaluator.ErrInvalid)
		})
	}
}

func TestRichFieldsNeedVariants(t *testing.T) {
	f := banner()
	f.Rules = []evaluator.Rule{{Variant: "x"}}
	f.DefaultVariant = "x"
	err := evaluator.Validate(f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rules: needs variants")
	assert.Contains(t, err.Error(), "defaultVariant: needs variants")
}

func TestParseFlagReadsRichFields(t *testing.T) {
	body := `{"flagKey":"button-color","defaultEnabled":true,"environments":{},
	 "variants":{"red":"#f00","blue":{"hex":"#00f"}},"defaultVariant":"blue",
	 "rules":[{"name":"vip","conditions":[{"attribute":"tier","op":"in","values":["gold",3]}],"variant":"red"}],
	 "metadata":{"owner":"web","n":2,"ratio":0.5,"live":true},"expiresAt":"2027-01-31","bucketing":"md5-canary"}`
	f, err := evaluator.ParseFlag([]byte(body), "")
	require.NoError(t, err)
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"owner": "web", "n": int64(2), "ratio": 0.5, "live": true, "expiresAt": "2027-01-31"}, c.FlagMetadata())
	r := c.Evaluate(evaluator.Input{Attributes: evaluator.MapAttributes{"tier": 3}})
	assert.Equal(t, "red", r.Variant)

	_, err = evaluator.ParseFlag([]byte(`{"flagKey":"x","variants":{"a":1},"defaultVariant":"a","rules":[{"variant":"a","conditon":[]}]}`), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rules")
	assert.Contains(t, err.Error(), "conditon")
}

func TestRuleEvaluationDoesNotAllocate(t *testing.T) {
	c, err := evaluator.Compile(colorFlag())
	require.NoError(t, err)
	in := evaluator.Input{Environment: "production", Subject: "u1", Attributes: evaluator.MapAttributes{"email": "ann@example.com", "age": 30.0, "plan": "pro"}}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { sink = c.Evaluate(in) }))
	assert.Equal(t, "red", c.Evaluate(in).Variant)
}

// BenchmarkEvaluate/Rule3Conditions… and …/CEL sit beside the tutorial
// cases of BenchmarkEvaluate through benchEvaluateRich, called from it.
func benchEvaluateRich(b *testing.B) {
	three := colorFlag()
	three.Rules = three.Rules[:1]
	c3, err := evaluator.Compile(three)
	require.NoError(b, err)
	celFlag := colorFlag()
	celFlag.Rules = []evaluator.Rule{{CEL: `email.endsWith("@example.com") && age >= 18 && plan in ["pro", "enterprise"]`, Variant: "red"}}
	ccel, err := evaluator.Compile(celFlag)
	require.NoError(b, err)
	hit := evaluator.MapAttributes{"email": "ann@example.com", "age": 30.0, "plan": "pro"}
	miss := evaluator.MapAttributes{"email": "ann@example.com", "age": 30.0, "plan": "free"}
	cases := []struct {
		name string
		c    *evaluator.Compiled
		in   evaluator.Input
	}{
		{"Rule3ConditionsMatchNoAlloc", c3, evaluator.Input{Environment: "production", Subject: "u1", Attributes: hit}},
		{"Rule3ConditionsMissNoAlloc", c3, evaluator.Input{Environment: "production", Subject: "u1", Attributes: miss}},
		{"RuleCELMatch", ccel, evaluator.Input{Environment: "production", Subject: "u1", Attributes: hit}},
		{"RuleCELMiss", ccel, evaluator.Input{Environment: "production", Subject: "u1", Attributes: miss}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = tc.c.Evaluate(tc.in)
			}
		})
	}
}
