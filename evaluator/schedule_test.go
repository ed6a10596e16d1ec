package evaluator_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
)

var rampStart = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func rampFlag(from, to int) evaluator.Flag {
	return evaluator.Flag{
		Key: "checkout-banner", DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{"production": {
			Enabled: true, RolloutPercent: from,
			Rollout: &evaluator.Rollout{From: from, To: to,
				Start: rampStart.Format(time.RFC3339), End: rampStart.Add(100 * time.Hour).Format(time.RFC3339)},
		}},
	}
}

func TestRolloutPercentAtRampAndSteps(t *testing.T) {
	ramp, err := evaluator.CompileRollout(&evaluator.Rollout{From: 10, To: 60,
		Start: rampStart.Format(time.RFC3339), End: rampStart.Add(50 * time.Hour).Format(time.RFC3339)})
	require.NoError(t, err)
	steps, err := evaluator.CompileRollout(&evaluator.Rollout{From: 0, Steps: []evaluator.RolloutStep{
		{At: rampStart.Format(time.RFC3339), Percent: 1},
		{At: rampStart.Add(time.Hour).Format(time.RFC3339), Percent: 5},
		{At: rampStart.Add(2 * time.Hour).Format(time.RFC3339), Percent: 25},
	}})
	require.NoError(t, err)
	tests := []struct {
		name      string
		r         *evaluator.CompiledRollout
		at        time.Time
		want      int
		nextAfter time.Duration // from rampStart; <0: none
	}{
		{"ramp before start", ramp, rampStart.Add(-time.Hour), 10, 1 * time.Hour},
		{"ramp at start", ramp, rampStart, 10, 1 * time.Hour},
		{"ramp one hour in", ramp, rampStart.Add(time.Hour), 11, 2 * time.Hour},
		{"ramp half way", ramp, rampStart.Add(25 * time.Hour), 35, 26 * time.Hour},
		{"ramp just before end", ramp, rampStart.Add(50*time.Hour - time.Millisecond), 59, 50 * time.Hour},
		{"ramp at end", ramp, rampStart.Add(50 * time.Hour), 60, -1},
		{"ramp long after", ramp, rampStart.Add(5000 * time.Hour), 60, -1},
		{"zero time", ramp, time.Time{}, 10, 0},
		{"steps before", steps, rampStart.Add(-time.Second), 0, 0},
		{"steps first", steps, rampStart, 1, time.Hour},
		{"steps between", steps, rampStart.Add(90 * time.Minute), 5, 2 * time.Hour},
		{"steps last", steps, rampStart.Add(3 * time.Hour), 25, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.PercentAt(tt.at))
			next, ok := tt.r.NextChange(tt.at)
			if tt.nextAfter < 0 {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			if tt.name != "zero time" {
				assert.Equal(t, rampStart.Add(tt.nextAfter), next)
				assert.NotEqual(t, tt.r.PercentAt(tt.at), tt.r.PercentAt(next), "the percent changes at the next change")
				assert.Equal(t, tt.r.PercentAt(tt.at), tt.r.PercentAt(next.Add(-time.Millisecond)), "and not before")
			}
		})
	}
}

func TestRolloutPausedFreezes(t *testing.T) {
	r := rampFlag(0, 100).Environments["production"].Rollout
	r.PausedAt = rampStart.Add(30 * time.Hour).Format(time.RFC3339)
	c, err := evaluator.CompileRollout(r)
	require.NoError(t, err)
	assert.Equal(t, 20, c.PercentAt(rampStart.Add(20*time.Hour)))
	assert.Equal(t, 30, c.PercentAt(rampStart.Add(30*time.Hour)))
	assert.Equal(t, 30, c.PercentAt(rampStart.Add(90*time.Hour)))
	_, ok := c.NextChange(rampStart)
	assert.False(t, ok)
}

// TestRolloutMembershipMonotonic: across the whole ramp, 10,000 subjects
// only ever join (a subject in at t is in at every later instant), and the
// share served tracks the percent.
func TestRolloutMembershipMonotonic(t *testing.T) {
	c, err := evaluator.Compile(rampFlag(1, 100))
	require.NoError(t, err)
	const n = 10000
	in := make([]bool, n)
	subjects := make([]string, n)
	for i := range n {
		subjects[i] = fmt.Sprintf("user-%d", i)
	}
	for step := 0; step <= 110; step += 5 {
		at := rampStart.Add(time.Duration(step) * time.Hour)
		count := 0
		for i, subject := range subjects {
			r := c.Evaluate(evaluator.Input{Environment: "production", Subject: subject, Now: at})
			if r.Err != evaluator.NoError {
				t.Fatalf("%s at %v: error %v", subject, at, r.Err)
			}
			if in[i] && !r.On {
				t.Fatalf("%s was in and left at %v", subject, at)
			}
			in[i] = r.On
			if r.On {
				count++
			}
			if step == 0 && r.Bucket != referenceBucket("checkout-banner", "production", subject) {
				t.Fatalf("%s: bucket %d", subject, r.Bucket)
			}
		}
		pct := min(100, 1+int(float64(99)*float64(step)/100))
		assert.Equal(t, pct, c.Evaluate(evaluator.Input{Environment: "production", Subject: "x", Now: at}).Percent)
		// The share is the percent within a few points (10,000 samples).
		assert.InDelta(t, float64(pct), float64(count)/n*100, 2.5, "at hour %d", step)
	}
	for i := range n {
		require.True(t, in[i], "everyone is in at 100 %%")
	}
}

func TestRolloutVariantFlagMovesControlToTreatment(t *testing.T) {
	f := evaluator.Flag{
		Key: "new-checkout", DefaultEnabled: true,
		Variants:       map[string]json.RawMessage{"control": json.RawMessage(`"old"`), "treatment": json.RawMessage(`"new"`)},
		DefaultVariant: "control",
		Rules:          []evaluator.Rule{{Conditions: []evaluator.Condition{{Attribute: "email", Op: evaluator.OpEndsWith, Values: []any{"@example.com"}}}, Variant: "treatment"}},
		Environments: map[string]evaluator.Environment{"production": {Enabled: true,
			Rollout: &evaluator.Rollout{Variant: "treatment", From: 0, To: 100,
				Start: rampStart.Format(time.RFC3339), End: rampStart.Add(100 * time.Hour).Format(time.RFC3339)}}},
	}
	c, err := evaluator.Compile(f)
	require.NoError(t, err)
	const n = 2000
	treated := make([]bool, n)
	for h := 0; h <= 100; h += 5 {
		at := rampStart.Add(time.Duration(h) * time.Hour)
		count := 0
		for i := range n {
			r := c.Evaluate(evaluator.Input{Environment: "production", Subject: fmt.Sprintf("u%d", i), Now: at})
			require.Equal(t, evaluator.NoError, r.Err)
			isT := r.Variant == "treatment"
			if !isT {
				assert.Equal(t, "control", r.Variant)
				assert.Equal(t, evaluator.DefaultServed, r.Outcome)
			} else {
				assert.Equal(t, evaluator.SplitServed, r.Outcome)
				count++
			}
			if treated[i] && !isT {
				t.Fatalf("u%d left the treatment at hour %d", i, h)
			}
			treated[i] = isT
		}
		assert.InDelta(t, float64(h), float64(count)/n*100, 4, "hour %d", h)
	}
	// Rules still come first.
	r := c.Evaluate(evaluator.Input{Environment: "production", Subject: "u1", Now: rampStart,
		Attributes: evaluator.MapAttributes(map[string]any{"email": "a@example.com"})})
	assert.Equal(t, evaluator.RuleMatch, r.Outcome)
}

func TestRolloutValidationNamesTheField(t *testing.T) {
	at := func(h int) string { return rampStart.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	tests := []struct {
		name  string
		r     evaluator.Rollout
		field string
	}{
		{"ramp down", evaluator.Rollout{From: 50, To: 10, Start: at(0), End: at(1)}, "environments.production.rollout.to"},
		{"end before start", evaluator.Rollout{From: 0, To: 10, Start: at(1), End: at(0)}, "environments.production.rollout.end"},
		{"bad start", evaluator.Rollout{From: 0, To: 10, Start: "tomorrow", End: at(0)}, "environments.production.rollout.start"},
		{"from 101", evaluator.Rollout{From: 101, Steps: []evaluator.RolloutStep{{At: at(0), Percent: 101}}}, "environments.production.rollout.from"},
		{"steps down", evaluator.Rollout{Steps: []evaluator.RolloutStep{{At: at(0), Percent: 20}, {At: at(1), Percent: 10}}}, "environments.production.rollout.steps[1].percent"},
		{"steps out of order", evaluator.Rollout{Steps: []evaluator.RolloutStep{{At: at(1), Percent: 1}, {At: at(0), Percent: 2}}}, "environments.production.rollout.steps[1].at"},
		{"nothing", evaluator.Rollout{}, "environments.production.rollout"},
		{"both", evaluator.Rollout{To: 5, Start: at(0), End: at(1), Steps: []evaluator.RolloutStep{{At: at(0), Percent: 1}}}, "environments.production.rollout"},
		{"variant on a tutorial flag", evaluator.Rollout{Variant: "x", Steps: []evaluator.RolloutStep{{At: at(0), Percent: 1}}}, "environments.production.rollout.variant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := rampFlag(0, 0)
			env := f.Environments["production"]
			env.Rollout = &tt.r
			f.Environments["production"] = env
			err := evaluator.Validate(f)
			var ve *evaluator.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			var fields []string
			for _, p := range ve.Problems {
				fields = append(fields, p.Field)
			}
			assert.Contains(t, fields, tt.field)
		})
	}
}

func TestParseFlagReadsRollout(t *testing.T) {
	body := `{"flagKey":"a","defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":1,
		"rollout":{"from":1,"steps":[{"at":"2026-12-01T00:00:00Z","percent":5},{"at":"2026-12-02T00:00:00Z","percent":25}]}}}}`
	f, err := evaluator.ParseFlag([]byte(body), "")
	require.NoError(t, err)
	require.NotNil(t, f.Environments["production"].Rollout)
	assert.Len(t, f.Environments["production"].Rollout.Steps, 2)
	_, err = evaluator.ParseFlag([]byte(`{"flagKey":"a","environments":{"production":{"rollout":{"form":1}}}}`), "")
	require.ErrorContains(t, err, "environments.production.rollout")
	c := f.Clone()
	c.Environments["production"].Rollout.Steps[0].Percent = 9
	assert.Equal(t, 5, f.Environments["production"].Rollout.Steps[0].Percent, "Clone copies the rollout")
}

func FuzzParseRollout(f *testing.F) {
	f.Add([]byte(`{"from":1,"to":50,"start":"2026-12-01T00:00:00Z","end":"2026-12-02T00:00:00Z"}`))
	f.Add([]byte(`{"from":0,"steps":[{"at":"2026-12-01T00:00:00Z","percent":5}],"pausedAt":"2026-12-01T10:00:00Z"}`))
	f.Add([]byte(`{"from":0,"to":100,"start":"2026-12-01T00:00:00Z","end":"2026-12-01T00:00:00.001Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := evaluator.ParseRollout(data)
		if err != nil {
			return
		}
		c, err := evaluator.CompileRollout(r)
		require.NoError(t, err)
		prev := -1
		for _, at := range []time.Time{{}, rampStart.Add(-time.Hour), rampStart, rampStart.Add(12 * time.Hour), rampStart.Add(24 * time.Hour), rampStart.Add(1e6 * time.Hour)} {
			p := c.PercentAt(at)
			if p < 0 || p > 100 || p < prev {
				t.Fatalf("percent %d after %d at %v", p, prev, at)
			}
			prev = p
			if next, ok := c.NextChange(at); ok && !next.After(at) {
				t.Fatalf("next change %v not after %v", next, at)
			}
		}
	})
}

func BenchmarkEvaluateRollout(b *testing.B) {
	c, err := evaluator.Compile(rampFlag(1, 100))
	require.NoError(b, err)
	in := evaluator.Input{Environment: "production", Subject: "user-98765", Now: rampStart.Add(50 * time.Hour)}
	b.Run("RampNoAlloc", func(b *testing.B) {
		b.ReportAllocs()
		var r evaluator.Result
		for b.Loop() {
			r = c.Evaluate(in)
		}
		benchSink = r
	})
}

var benchSink evaluator.Result
