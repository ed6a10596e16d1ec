package evaluator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
)

func celFlag(expr string) evaluator.Flag {
	return evaluator.Flag{
		Key:            "cel-attack",
		DefaultEnabled: true,
		Variants:       map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)},
		DefaultVariant: "off",
		Rules:          []evaluator.Rule{{Name: "attack", CEL: expr, Variant: "on"}},
	}
}

// literalList is "[0, 1, …, n-1]".
func literalList(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprint(i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// The attacks of issue 19 are refused when the flag is written, naming the
// flag, the rule and the estimate: three nested .all() (0.63 s per
// evaluation before, 7.9 s at N=215) and a map rule (317 MB of RSS before).
func TestAttackCELRulesAboveTheCostBoundAreRefusedAtWriteTime(t *testing.T) {
	l := literalList(100)
	tests := []struct{ name, expr string }{
		{"three nested all over literal lists", fmt.Sprintf(`%s.all(a, %s.all(b, %s.all(c, a + b + c >= 0)))`, l, l, l)},
		{"three nested all over context lists", `xs.all(a, xs.all(b, xs.all(c, a + b + c >= 0)))`},
		{"two nested all over a context list", `xs.all(a, xs.all(b, a != b || a == b))`},
		{"map of maps building strings", fmt.Sprintf(`size(%s.map(a, %s.map(b, %s.map(c, string(a) + string(b) + string(c))))) > 0`, l, l, l)},
		{"map over a context list of strings", `size(xs.map(a, xs.map(b, a + b))) > 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := evaluator.Validate(celFlag(tt.expr))
			require.Error(t, err)
			var ve *evaluator.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Contains(t, err.Error(), "cel-attack")
			assert.Contains(t, err.Error(), "rules[0](attack).cel")
			assert.Contains(t, err.Error(), "more than 1000000")
			t.Log(err)
		})
	}
}

func TestCELRulesWithinTheBoundCompile(t *testing.T) {
	for _, expr := range []string{
		`email.endsWith("@example.com") && age >= 18 && plan in ["pro", "enterprise"]`,
		`!customer && email == 'ballmer@macrosoft.com' && age > 10`,
		`tags.exists(t, t == "beta")`,
		`xs.all(a, a >= 0)`,
		`size(xs.filter(a, a > 10)) > 2`,
	} {
		assert.NoError(t, evaluator.Validate(celFlag(expr)), expr)
	}
}

func TestCELExpressionLengthIsBounded(t *testing.T) {
	expr := "a == 1" + strings.Repeat(" || a == 1", evaluator.CELMaxLength/10)
	err := evaluator.Validate(celFlag(expr))
	require.ErrorContains(t, err, fmt.Sprintf("more than %d", evaluator.CELMaxLength))
}

// A context list far larger than the estimate assumed cannot make an
// accepted rule run away: the runtime cost limit stops it, and the rule does
// not hold.
func TestAttackCELRuntimeCostLimitStopsARuleOverAHugeContext(t *testing.T) {
	c, err := evaluator.Compile(celFlag(`xs.all(a, a >= 0)`))
	require.NoError(t, err)
	small := make([]any, 1000)
	for i := range small {
		small[i] = float64(i)
	}
	r := c.Evaluate(evaluator.Input{Environment: "production", Subject: "u", Attributes: evaluator.MapAttributes{"xs": small}})
	assert.Equal(t, "on", r.Variant, "within the limit the rule holds")

	huge := make([]any, 5_000_000)
	for i := range huge {
		huge[i] = float64(i)
	}
	start := time.Now()
	r = c.Evaluate(evaluator.Input{Environment: "production", Subject: "u", Attributes: evaluator.MapAttributes{"xs": huge}})
	took := time.Since(start)
	assert.Equal(t, "off", r.Variant, "stopped at the runtime cost limit: the rule does not hold")
	t.Logf("a 5,000,000-element context list stopped after %v (cost limit %d)", took, evaluator.CELMaxRuntimeCost)
}

// A done Interrupt (the caller's context) stops a CEL rule: it does not
// hold. Flags without CEL never consult it.
func TestCELRuleStopsWhenInterrupted(t *testing.T) {
	c, err := evaluator.Compile(celFlag(`xs.all(a, a >= 0)`))
	require.NoError(t, err)
	require.True(t, c.HasCEL())
	xs := make([]any, 900)
	for i := range xs {
		xs[i] = float64(i)
	}
	in := evaluator.Input{Environment: "production", Subject: "u", Attributes: evaluator.MapAttributes{"xs": xs}}
	ctx, cancel := context.WithCancel(t.Context())
	in.Interrupt = ctx
	assert.Equal(t, "on", c.Evaluate(in).Variant)
	cancel()
	assert.Equal(t, "off", c.Evaluate(in).Variant, "a cancelled context stops the rule")

	// An Interrupter that is not a context.Context works the same.
	done := make(chan struct{})
	in.Interrupt = chanInterrupter(done)
	assert.Equal(t, "on", c.Evaluate(in).Variant)
	close(done)
	assert.Equal(t, "off", c.Evaluate(in).Variant)

	plain, err := evaluator.Compile(colorFlag())
	require.NoError(t, err)
	plainNoCEL := colorFlag()
	plainNoCEL.Rules = plainNoCEL.Rules[:1]
	noCEL, err := evaluator.Compile(plainNoCEL)
	require.NoError(t, err)
	assert.True(t, plain.HasCEL())
	assert.False(t, noCEL.HasCEL())
}

type chanInterrupter chan struct{}

func (c chanInterrupter) Done() <-chan struct{} { return c }

// The interrupt check happens inside comprehensions: a rule running when
// the deadline passes stops part way. With the cost limit the rule cannot
// run long, so this counts the check through a deadline that is already
// past when the comprehension starts its second half.
func TestCELInterruptIsCheckedInsideComprehensions(t *testing.T) {
	c, err := evaluator.Compile(celFlag(`xs.all(a, a >= 0)`))
	require.NoError(t, err)
	xs := make([]any, 900)
	for i := range xs {
		xs[i] = float64(i)
	}
	in := evaluator.Input{Environment: "production", Subject: "u", Attributes: nil}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	in.Interrupt = ctx
	in.Attributes = cancelOnRead{MapAttributes: evaluator.MapAttributes{"xs": xs}, cancel: cancel}
	assert.Equal(t, "off", c.Evaluate(in).Variant, "cancelled after the evaluation started: stopped inside the comprehension")
}

// cancelOnRead cancels the evaluation's context when the rule reads its
// attribute: after the pre-evaluation check, before the comprehension.
type cancelOnRead struct {
	evaluator.MapAttributes
	cancel func()
}

func (c cancelOnRead) Attribute(name string) (any, bool) {
	c.cancel()
	return c.MapAttributes.Attribute(name)
}

func conditionFlag(op string, value any) evaluator.Flag {
	f := celFlag("")
	f.Rules = []evaluator.Rule{{Name: "bounded", Conditions: []evaluator.Condition{{Attribute: "v", Op: op, Values: []any{value}}}, Variant: "on"}}
	return f
}

func TestAttackRegexpAndSemverDefinitionsAreBounded(t *testing.T) {
	tests := []struct {
		name  string
		op    string
		value string
		want  string
	}{
		{"long pattern", evaluator.OpMatches, strings.Repeat("a", evaluator.MaxRegexpLength+1), "bytes long"},
		{"pattern expanding to a huge program", evaluator.OpMatches, `(a{1000}){1000}`, ""},
		{"counted repetition within RE2's limit but a big program", evaluator.OpMatches, `(abcdefghijk){999}`, "instructions"},
		{"long semantic version", evaluator.OpSemverEq, "1.2.3-" + strings.Repeat("a", evaluator.MaxSemverLength), "bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := evaluator.Validate(conditionFlag(tt.op, tt.value))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "rules[0](bounded).conditions[0]")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	require.NoError(t, evaluator.Validate(conditionFlag(evaluator.OpMatches, `^user-[0-9]+@example\.com$`)))
}

func TestOverlongAttributesDoNotMatch(t *testing.T) {
	re, err := evaluator.Compile(conditionFlag(evaluator.OpMatches, `a`))
	require.NoError(t, err)
	in := func(v string) evaluator.Input {
		return evaluator.Input{Environment: "production", Subject: "u", Attributes: evaluator.MapAttributes{"v": v}}
	}
	assert.Equal(t, "on", re.Evaluate(in("a")).Variant)
	assert.Equal(t, "off", re.Evaluate(in(strings.Repeat("a", evaluator.MaxMatchedLength+1))).Variant)

	sv, err := evaluator.Compile(conditionFlag(evaluator.OpSemverGTE, "1.0.0"))
	require.NoError(t, err)
	assert.Equal(t, "on", sv.Evaluate(in("2.0.0")).Variant)
	assert.Equal(t, "off", sv.Evaluate(in("2.0.0-"+strings.Repeat("a", evaluator.MaxSemverLength))).Variant)
}
