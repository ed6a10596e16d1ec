package evaluator_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
)

// referenceBucket is the tutorial's bucket, written from its description
// (hex digest, first 8 hex digits, mod 100) rather than from Bucket's code.
func referenceBucket(flag, env, subject string) int {
	sum := sha256.Sum256([]byte(flag + ":" + env + ":" + subject))
	n, err := strconv.ParseUint(hex.EncodeToString(sum[:])[:8], 16, 32)
	if err != nil {
		panic(err)
	}
	return int(n % 100)
}

func TestBucketMatchesHexDigestScheme(t *testing.T) {
	for i := range 5000 {
		subject := fmt.Sprintf("user-%d", i)
		if i%7 == 0 {
			subject = strings.Repeat("ü", i%300) // long and non-ASCII subjects too
		}
		require.Equal(t, referenceBucket("checkout-banner", "production", subject),
			evaluator.Bucket("checkout-banner", "production", subject), "subject %q", subject)
	}
}

func TestBucketKnownVector(t *testing.T) {
	// printf '%s' 'checkout-banner:production:user-123' | sha256sum
	// → 0918a4a6… ; 0x0918a4a6 = 152609958 ; % 100 = 58
	sum := sha256.Sum256([]byte("checkout-banner:production:user-123"))
	assert.Equal(t, 58, evaluator.Bucket("checkout-banner", "production", "user-123"))
	assert.Equal(t, referenceBucket("checkout-banner", "production", "user-123"), evaluator.Bucket("checkout-banner", "production", "user-123"))
	assert.Equal(t, int(uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]))%100,
		evaluator.Bucket("checkout-banner", "production", "user-123"))
}

func banner() evaluator.Flag {
	return evaluator.Flag{
		Key:            "checkout-banner",
		Description:    "Fast checkout banner",
		DefaultEnabled: true,
		Version:        3,
		Environments: map[string]evaluator.Environment{
			"production": {
				Enabled:          true,
				RolloutPercent:   25,
				Value:            json.RawMessage(`{"title":"Fast checkout"}`),
				AllowlistUsers:   []string{"user-123"},
				AllowlistRegions: []string{"us-west"},
			},
			"staging": {Enabled: false, RolloutPercent: 100},
			"dev":     {Enabled: true, RolloutPercent: 100},
			"qa":      {Enabled: true, RolloutPercent: 0},
		},
	}
}

func TestEvaluateSixSteps(t *testing.T) {
	c, err := evaluator.Compile(banner())
	require.NoError(t, err)
	off := banner()
	off.DefaultEnabled = false
	coff, err := evaluator.Compile(off)
	require.NoError(t, err)

	// Find one subject inside and one outside the 25% rollout.
	var hit, miss string
	for i := 0; hit == "" || miss == ""; i++ {
		s := fmt.Sprintf("s-%d", i)
		if referenceBucket("checkout-banner", "production", s) < 25 {
			hit = s
		} else {
			miss = s
		}
	}
	tests := []struct {
		name    string
		c       *evaluator.Compiled
		in      evaluator.Input
		on      bool
		outcome evaluator.Outcome
		err     evaluator.ErrorKind
	}{
		{"flag disabled wins over allowlist", coff, evaluator.Input{Environment: "production", Subject: "user-123", Region: "us-west"}, false, evaluator.FlagDisabled, 0},
		{"environment missing", c, evaluator.Input{Environment: "nowhere", Subject: "user-123", Region: ""}, false, evaluator.EnvironmentMissing, 0},
		{"environment disabled", c, evaluator.Input{Environment: "staging", Subject: "user-123", Region: ""}, false, evaluator.EnvironmentDisabled, 0},
		{"allowlisted user", c, evaluator.Input{Environment: "production", Subject: "user-123", Region: ""}, true, evaluator.AllowlistUser, 0},
		{"allowlisted region", c, evaluator.Input{Environment: "production", Subject: miss, Region: "us-west"}, true, evaluator.AllowlistRegion, 0},
		{"rollout hit", c, evaluator.Input{Environment: "production", Subject: hit, Region: "eu"}, true, evaluator.RolloutHit, 0},
		{"rollout miss", c, evaluator.Input{Environment: "production", Subject: miss, Region: ""}, false, evaluator.RolloutMiss, 0},
		{"100% needs no subject", c, evaluator.Input{Environment: "dev", Subject: "", Region: ""}, true, evaluator.RolloutHit, 0},
		{"0% needs no subject", c, evaluator.Input{Environment: "qa", Subject: "", Region: ""}, false, evaluator.RolloutMiss, 0},
		{"partial rollout needs a subject", c, evaluator.Input{Environment: "production", Subject: "", Region: "eu"}, false, evaluator.NoOutcome, evaluator.SubjectMissing},
		{"region allowlist needs no subject", c, evaluator.Input{Environment: "production", Subject: "", Region: "us-west"}, true, evaluator.AllowlistRegion, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.Evaluate(tt.in)
			assert.Equal(t, tt.on, r.On)
			assert.Equal(t, tt.outcome, r.Outcome)
			assert.Equal(t, tt.err, r.Err)
			if tt.outcome == evaluator.RolloutHit || tt.outcome == evaluator.RolloutMiss {
				if tt.in.Subject != "" {
					assert.Equal(t, referenceBucket("checkout-banner", tt.in.Environment, tt.in.Subject), r.Bucket)
				}
			} else {
				assert.Equal(t, -1, r.Bucket)
			}
		})
	}
}

func TestCompiledMetadataIsSharedAndComplete(t *testing.T) {
	c, err := evaluator.Compile(banner())
	require.NoError(t, err)
	m := c.Metadata("production", evaluator.RolloutHit)
	assert.Equal(t, map[string]any{"environment": "production", "evaluationReason": "rollout-hit", "version": int64(3)}, m)
	m2 := c.Metadata("production", evaluator.RolloutHit)
	assert.Equal(t, fmt.Sprintf("%p", m), fmt.Sprintf("%p", m2), "metadata must be built once and shared")
	assert.Equal(t, "environment-missing", c.Metadata("nowhere", evaluator.EnvironmentMissing)["evaluationReason"])
	noVersion := banner()
	noVersion.Version = 0
	c, err = evaluator.Compile(noVersion)
	require.NoError(t, err)
	assert.NotContains(t, c.Metadata("production", evaluator.AllowlistUser), "version")
}

func TestCompileCopiesDefinition(t *testing.T) {
	f := banner()
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	f.Environments["production"].AllowlistUsers[0] = "mallory"
	r := c.Evaluate(evaluator.Input{Environment: "production", Subject: "user-123"})
	assert.Equal(t, evaluator.AllowlistUser, r.Outcome)
	assert.Equal(t, "user-123", c.Definition().Environments["production"].AllowlistUsers[0])
}

func TestValidateNamesFlagAndField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*evaluator.Flag)
		field string
	}{
		{"empty key", func(f *evaluator.Flag) { f.Key = "" }, "flagKey"},
		{"key with space", func(f *evaluator.Flag) { f.Key = "a b" }, "flagKey"},
		{"key with star", func(f *evaluator.Flag) { f.Key = "a*" }, "flagKey"},
		{"key with colon", func(f *evaluator.Flag) { f.Key = "a:b" }, "flagKey"},
		{"key of 129 characters", func(f *evaluator.Flag) { f.Key = strings.Repeat("k", 129) }, "flagKey"},
		{"key .", func(f *evaluator.Flag) { f.Key = "." }, "flagKey"},
		{"key ..", func(f *evaluator.Flag) { f.Key = ".." }, "flagKey"},
		{"environment ..", func(f *evaluator.Flag) { f.Environments[".."] = evaluator.Environment{} }, "environments..."},
		{"percent 101", func(f *evaluator.Flag) { setPercent(f, 101) }, "environments.production.rolloutPercent"},
		{"percent -1", func(f *evaluator.Flag) { setPercent(f, -1) }, "environments.production.rolloutPercent"},
		{"bad environment name", func(f *evaluator.Flag) { f.Environments["pro duction"] = evaluator.Environment{} }, "environments.pro duction"},
		{"value not JSON", func(f *evaluator.Flag) {
			e := f.Environments["production"]
			e.Value = json.RawMessage(`{nope`)
			f.Environments["production"] = e
		}, "environments.production.value"},
		{"empty allowlisted user", func(f *evaluator.Flag) {
			e := f.Environments["production"]
			e.AllowlistUsers = []string{""}
			f.Environments["production"] = e
		}, "environments.production.allowlistUsers[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := banner()
			tt.edit(&f)
			err := evaluator.Validate(f)
			require.Error(t, err)
			assert.True(t, errors.Is(err, evaluator.ErrInvalid))
			var v *evaluator.ValidationError
			require.True(t, errors.As(err, &v))
			require.NotEmpty(t, v.Problems)
			assert.Equal(t, tt.field, v.Problems[0].Field)
			assert.Contains(t, err.Error(), tt.field)
			_, err = evaluator.Compile(f)
			assert.Error(t, err)
		})
	}
	assert.NoError(t, evaluator.Validate(banner()))
	long := banner()
	long.Key = strings.Repeat("k", 128)
	assert.NoError(t, evaluator.Validate(long))
	dots := banner()
	dots.Key = "..."
	assert.NoError(t, evaluator.Validate(dots), "only . and .. are path segments of their own")
}

func setPercent(f *evaluator.Flag, p int) {
	e := f.Environments["production"]
	e.RolloutPercent = p
	f.Environments["production"] = e
}

func TestParseFlagTutorialJSON(t *testing.T) {
	body := `{"flagKey":"checkout-banner","description":"Fast checkout","defaultEnabled":true,
	  "environments":{"production":{"enabled":true,"rolloutPercent":25,
	    "value":{"title":"Fast checkout"},"allowlistUsers":["user-123"],
	    "allowlistRegions":["us-west"],"updatedAt":"2026-03-19T12:00:00.000Z"}},
	  "updatedAt":"2026-03-19T12:00:00.000Z"}`
	f, err := evaluator.ParseFlag([]byte(body), "checkout-banner")
	require.NoError(t, err)
	assert.Equal(t, "checkout-banner", f.Key)
	assert.True(t, f.DefaultEnabled)
	env := f.Environments["production"]
	assert.Equal(t, 25, env.RolloutPercent)
	assert.JSONEq(t, `{"title":"Fast checkout"}`, string(env.Value))
	assert.Equal(t, []string{"user-123"}, env.AllowlistUsers)
	assert.Equal(t, []string{"us-west"}, env.AllowlistRegions)
}

func TestParseFlagRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"malformed", `{"flagKey":`, "(body)"},
		{"null", `null`, "(body)"},
		{"array", `[]`, "(body)"},
		{"unknown field", `{"flagKey":"a","rollout":5}`, "rollout"},
		{"wrong type", `{"flagKey":"a","defaultEnabled":"yes"}`, "defaultEnabled"},
		{"percent 1.5", `{"flagKey":"a","environments":{"p":{"rolloutPercent":1.5}}}`, "environments.p.rolloutPercent"},
		{"percent 101", `{"flagKey":"a","environments":{"p":{"rolloutPercent":101}}}`, "environments.p.rolloutPercent"},
		{"percent as text", `{"flagKey":"a","environments":{"p":{"rolloutPercent":"25"}}}`, "environments.p.rolloutPercent"},
		{"key mismatch", `{"flagKey":"a"}`, "flagKey"},
		{"key with spaces", `{"flagKey":"a b"}`, "flagKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := ""
			if tt.name == "key mismatch" {
				key = "b"
			}
			_, err := evaluator.ParseFlag([]byte(tt.body), key)
			var v *evaluator.ValidationError
			require.True(t, errors.As(err, &v), "err = %v", err)
			fields := []string{}
			for _, p := range v.Problems {
				fields = append(fields, p.Field)
			}
			assert.Contains(t, fields, tt.field)
		})
	}
}

func TestPayloadTypes(t *testing.T) {
	tests := []struct {
		raw   string
		kind  evaluator.Kind
		isInt bool
	}{
		{``, evaluator.KindNone, false},
		{`null`, evaluator.KindNone, false},
		{`true`, evaluator.KindBool, false},
		{`"hi"`, evaluator.KindString, false},
		{`42`, evaluator.KindNumber, true},
		{`4.5`, evaluator.KindNumber, false},
		{`1e300`, evaluator.KindNumber, false},
		{`{"a":[1,2]}`, evaluator.KindObject, false},
		{`[1]`, evaluator.KindArray, false},
	}
	for _, tt := range tests {
		p, err := evaluator.DecodePayload([]byte(tt.raw))
		require.NoError(t, err, tt.raw)
		assert.Equal(t, tt.kind, p.Kind, tt.raw)
		assert.Equal(t, tt.isInt, p.IsInt, tt.raw)
	}
	p, err := evaluator.DecodePayload([]byte(`{"a":{"b":1}}`))
	require.NoError(t, err)
	cp := p.ObjectCopy().(map[string]any)
	cp["a"].(map[string]any)["b"] = 2.0
	assert.Equal(t, 1.0, p.Object.(map[string]any)["a"].(map[string]any)["b"], "ObjectCopy must be deep")
	_, err = evaluator.DecodePayload([]byte(`{nope`))
	assert.Error(t, err)
	_, err = evaluator.DecodePayload([]byte(`1 2`))
	assert.Error(t, err, "trailing data is not one JSON value")
}

var sink evaluator.Result

func BenchmarkEvaluate(b *testing.B) {
	c, err := evaluator.Compile(banner())
	require.NoError(b, err)
	cases := []struct {
		name string
		in   evaluator.Input
	}{
		{"RolloutNoAlloc", evaluator.Input{Environment: "production", Subject: "user-98765", Region: "eu-central"}},
		{"AllowlistUserNoAlloc", evaluator.Input{Environment: "production", Subject: "user-123"}},
		{"DisabledNoAlloc", evaluator.Input{Environment: "staging", Subject: "user-98765"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.Evaluate(tc.in)
			}
		})
	}
	benchEvaluateRich(b)
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	c, err := evaluator.Compile(banner())
	require.NoError(t, err)
	in := evaluator.Input{Environment: "production", Subject: "user-98765", Region: "eu-central"}
	allocs := testing.AllocsPerRun(1000, func() { sink = c.Evaluate(in) })
	assert.Zero(t, allocs)
	_ = c.Metadata("production", evaluator.RolloutHit)
	allocs = testing.AllocsPerRun(1000, func() { _ = c.Metadata("production", evaluator.RolloutMiss) })
	assert.Zero(t, allocs)
}

func FuzzParseFlag(f *testing.F) {
	f.Add([]byte(`{"flagKey":"a","defaultEnabled":true,"environments":{"p":{"enabled":true,"rolloutPercent":5,"value":{"x":1}}}}`), "a")
	f.Add([]byte(`{"environments":{"p":{"rolloutPercent":1e400}}}`), "")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		fl, err := evaluator.ParseFlag(data, key)
		if err != nil {
			if !errors.Is(err, evaluator.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		c, err := evaluator.Compile(fl)
		if err != nil {
			t.Fatalf("ParseFlag accepted a flag Compile rejects: %v", err)
		}
		for env := range fl.Environments {
			_ = c.Evaluate(evaluator.Input{Environment: env, Subject: "s", Region: "r"})
		}
	})
}

func TestLargeAllowlists(t *testing.T) {
	f := banner()
	env := f.Environments["production"]
	env.AllowlistUsers = nil
	for i := range 100 {
		env.AllowlistUsers = append(env.AllowlistUsers, fmt.Sprintf("vip-%d", i))
	}
	env.AllowlistRegions = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "us-west"}
	f.Environments["production"] = env
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	for i := range 100 {
		assert.Equal(t, evaluator.AllowlistUser, c.Evaluate(evaluator.Input{Environment: "production", Subject: fmt.Sprintf("vip-%d", i)}).Outcome)
	}
	assert.Equal(t, evaluator.AllowlistRegion, c.Evaluate(evaluator.Input{Environment: "production", Subject: "vip-100", Region: "us-west"}).Outcome)
	assert.NotEqual(t, evaluator.AllowlistUser, c.Evaluate(evaluator.Input{Environment: "production", Subject: "vip-100"}).Outcome)
}

func TestCompilerSharesMetadata(t *testing.T) {
	k := evaluator.NewCompiler()
	a, err := k.Compile(banner())
	require.NoError(t, err)
	other := banner()
	other.Key = "other"
	b, err := k.Compile(other)
	require.NoError(t, err)
	ma, mb := a.Metadata("production", evaluator.RolloutHit), b.Metadata("production", evaluator.RolloutHit)
	assert.Equal(t, map[string]any{"environment": "production", "evaluationReason": "rollout-hit", "version": int64(3)}, ma)
	assert.Equal(t, fmt.Sprintf("%p", ma), fmt.Sprintf("%p", mb), "same environment, outcome and version share one map")
	// An outcome that cannot happen still answers correctly.
	assert.Equal(t, "flag-disabled", a.Metadata("production", evaluator.FlagDisabled)["evaluationReason"])
}
