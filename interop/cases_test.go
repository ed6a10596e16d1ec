package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
)

// tcase is one evaluation: a flag, a context, the type the caller asks
// and the caller's default.
type tcase struct {
	ID      int            `json:"id"`
	Flag    string         `json:"flag"`
	Context map[string]any `json:"context"`
	// Type is the Go type asked: boolean, string, integer, float, object.
	Type    string `json:"-"`
	Default any    `json:"default"`
	// JSType is what a JavaScript caller asks: integer and float are both
	// number (JavaScript has one number type).
	JSType string `json:"type"`
	// Switch marks a tutorial flag asked as a boolean: over OFREP it is
	// always served a value (docs/design.md §8).
	Switch bool `json:"-"`
	// Missing marks a flag key that is not in Redis.
	Missing bool `json:"-"`
	// Covers says what the case is there for, for failure messages.
	Covers string `json:"-"`
	// Want, when set, is what docs/design.md §8 says the answer is: the
	// Go provider is checked against it, so that the clients cannot agree
	// with a Go provider that is itself wrong.
	Want *want `json:"-"`
	// Outcome, when set, is the tutorial outcome (metadata
	// evaluationReason) the Go provider must report, proving the case
	// covers it.
	Outcome string `json:"-"`
}

// want is an expectation from docs/design.md; empty strings are not
// checked, except Code, which is always.
type want struct {
	Value     any
	HasValue  bool
	IsDefault bool // Value is the caller's default
	Variant   string
	Reason    string
	Code      string
}

// answer is one evaluation as the caller's code sees it.
type answer struct {
	CaseID  int    `json:"id"`
	Value   any    `json:"value"`
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
	Code    string `json:"errorCode"`
	Message string `json:"errorMessage"`
	// Outcome is the Go provider's metadata evaluationReason.
	Outcome string `json:"-"`
}

func (a answer) String() string {
	v, _ := json.Marshal(a.Value)
	s := fmt.Sprintf("value=%s variant=%q reason=%s", v, a.Variant, a.Reason)
	if a.Code != "" {
		s += " code=" + a.Code
	}
	return s
}

// normal is v as JSON reads it (numbers float64, objects map[string]any).
func normal(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unmarshalable %T", v)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// same reports whether two answers agree on value, variant, reason and
// error code.
func same(a, b answer) bool {
	return reflect.DeepEqual(normal(a.Value), normal(b.Value)) && a.Variant == b.Variant && a.Reason == b.Reason && a.Code == b.Code
}

// goAnswer evaluates a case through the Go provider, via an OpenFeature
// client, typed as the case asks.
func goAnswer(ctx context.Context, c *of.Client, tc tcase) answer {
	tk, _ := tc.Context[of.TargetingKey].(string)
	attrs := maps.Clone(tc.Context)
	delete(attrs, of.TargetingKey)
	ec := of.NewEvaluationContext(tk, attrs)
	var a answer
	var d of.EvaluationDetails
	switch tc.Type {
	case "boolean":
		r, _ := c.BooleanValueDetails(ctx, tc.Flag, tc.Default.(bool), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "string":
		r, _ := c.StringValueDetails(ctx, tc.Flag, tc.Default.(string), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "integer":
		r, _ := c.IntValueDetails(ctx, tc.Flag, tc.Default.(int64), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "float":
		r, _ := c.FloatValueDetails(ctx, tc.Flag, tc.Default.(float64), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "object":
		r, _ := c.ObjectValueDetails(ctx, tc.Flag, tc.Default, ec)
		a.Value, d = r.Value, r.EvaluationDetails
	default:
		panic("unknown case type " + tc.Type) // a bug in the case table
	}
	a.Variant, a.Reason, a.Code, a.Message = d.Variant, string(d.Reason), string(d.ErrorCode), d.ErrorMessage
	if r, ok := d.FlagMetadata["evaluationReason"].(string); ok {
		a.Outcome = r
	}
	return a
}

// defaults are the callers' defaults, unlike any value a flag serves.
var defaults = map[string]any{
	"boolean": false, "string": "caller-default", "integer": int64(-7), "float": -7.5,
	"object": map[string]any{"callerDefault": true},
}

func jsType(t string) string {
	if t == "integer" || t == "float" {
		return "number"
	}
	return t
}

// caseList builds the cases in the order a web page would meet their
// contexts: every flag for one context, then the next context.
type caseList struct{ cases []tcase }

func (l *caseList) add(tc tcase) *tcase {
	tc.ID = len(l.cases)
	tc.JSType = jsType(tc.Type)
	if tc.Default == nil {
		tc.Default = defaults[tc.Type]
	}
	l.cases = append(l.cases, tc)
	return &l.cases[len(l.cases)-1]
}

// payloadType is the type a caller asks a payload as.
func payloadType(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return "object"
	}
	switch x := v.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "float"
	}
	return "object"
}

// mismatch is a type unlike t, for TYPE_MISMATCH cases.
func mismatch(t string) string {
	if t == "string" {
		return "object"
	}
	return "string"
}

// tutorialFlag is a tutorial flag of the suite as the cases need it.
type tutorialFlag struct {
	key      string
	scheme   evaluator.Scheme
	envs     map[string]evaluator.Environment
	disabled bool
}

func tutorialFlags() []tutorialFlag {
	var out []tutorialFlag
	for _, f := range storeFlags() {
		s, _ := evaluator.ParseScheme(f.Bucketing)
		out = append(out, tutorialFlag{key: f.Key, scheme: s, envs: f.Environments, disabled: !f.DefaultEnabled})
	}
	for _, def := range adminFlags() {
		if _, ok := def["variants"]; ok {
			continue
		}
		b, _ := json.Marshal(def)
		f, err := evaluator.ParseFlag(b, "")
		if err != nil {
			panic(fmt.Sprintf("admin flag %v: %v", def["flagKey"], err)) // a bug in the table
		}
		out = append(out, tutorialFlag{key: f.Key, envs: f.Environments, disabled: !f.DefaultEnabled})
	}
	return out
}

// variantFlags are the admin variant flags and the type each is asked as.
var variantFlags = []struct{ key, typ string }{
	{"v-bool", "boolean"}, {"v-string", "string"}, {"v-int", "integer"}, {"v-float", "float"},
	{"v-object", "object"}, {"v-off-no-variant", "string"}, {"v-off-variant", "string"}, {"v-md5-split", "string"},
}

// buildCases is the suite.
func buildCases(ldTypes map[string]string) []tcase {
	var l caseList
	readme := map[string]any{of.TargetingKey: "user-123", "region": "us-west"}
	contexts := []struct {
		name string
		ctx  map[string]any
	}{
		{"README user", readme},
		{"allowlisted vip", map[string]any{of.TargetingKey: "vip-1"}},
		{"allowlisted region", map[string]any{of.TargetingKey: "anon-7", "region": "eu-north"}},
		{"staging user", map[string]any{of.TargetingKey: "user-2", "environment": "staging"}},
		{"dev (disabled) user", map[string]any{of.TargetingKey: "user-2", "environment": "dev"}},
		{"missing environment", map[string]any{of.TargetingKey: "user-2", "environment": "qa"}},
		{"no targeting key", map[string]any{"region": "ap-south"}},
		{"rule attributes", map[string]any{of.TargetingKey: "user-5", "email": "ann@example.com", "plan": "pro", "beta": true}},
		{"LaunchDarkly multi-context", map[string]any{"kind": "multi",
			"user": map[string]any{"key": "user-123", "region": "us-west", "plan": "free"}, "org": map[string]any{"key": "org-1", "plan": "pro"}}},
		{"region of the wrong type", map[string]any{of.TargetingKey: "user-123", "region": 5}},
		{"environment of the wrong type", map[string]any{of.TargetingKey: "user-123", "environment": true}},
	}
	flags := tutorialFlags()
	for i, c := range contexts {
		for _, f := range flags {
			l.add(tcase{Flag: f.key, Context: c.ctx, Type: "boolean", Default: i%2 == 0, Switch: true,
				Covers: "tutorial switch, " + c.name})
			pt := payloadType(f.envs["production"].Value)
			l.add(tcase{Flag: f.key + ":payload", Context: c.ctx, Type: pt, Covers: "payload, " + c.name})
		}
		for _, v := range variantFlags {
			l.add(tcase{Flag: v.key, Context: c.ctx, Type: v.typ, Covers: "variant flag, " + c.name})
		}
		l.add(tcase{Flag: "no-such-flag", Context: c.ctx, Type: "boolean", Default: true, Missing: true, Covers: "missing flag"})
		l.add(tcase{Flag: "no-such-flag:payload", Context: c.ctx, Type: "object", Missing: true, Covers: "missing flag's payload"})
	}

	// Rollout hits and misses per flag (each with its own bucketing), with
	// the payload asked as its type and as another.
	for _, f := range flags {
		for _, envName := range slices.Sorted(maps.Keys(f.envs)) {
			e := f.envs[envName]
			if f.disabled || !e.Enabled || strings.HasPrefix(f.key, "corrupt-") {
				continue
			}
			for _, hit := range []bool{true, false} {
				if (hit && e.RolloutPercent == 0) || (!hit && e.RolloutPercent == 100) {
					continue
				}
				s := subjectFor(f.key, envName, f.scheme, e.RolloutPercent, hit)
				ctx := map[string]any{of.TargetingKey: s, "environment": envName}
				outcome := "rollout-miss"
				if hit {
					outcome = "rollout-hit"
				}
				l.add(tcase{Flag: f.key, Context: ctx, Type: "boolean", Default: !hit, Switch: true, Outcome: outcome,
					Covers: fmt.Sprintf("%s at %d%% in %s", outcome, e.RolloutPercent, envName)})
				pt := payloadType(e.Value)
				l.add(tcase{Flag: f.key + ":payload", Context: ctx, Type: pt, Outcome: outcome,
					Covers: fmt.Sprintf("payload, %s at %d%% in %s", outcome, e.RolloutPercent, envName)})
				if e.HasValue() {
					// TYPE_MISMATCH carries no metadata: no outcome to check.
					l.add(tcase{Flag: f.key + ":payload", Context: ctx, Type: mismatch(pt),
						Covers: fmt.Sprintf("payload asked as another type, %s in %s", outcome, envName)})
				}
			}
		}
	}
	// Variant flags: splits for several subjects, and asks of another type
	// (a JavaScript number cannot be refused as "not a whole number").
	for i := range 6 {
		ctx := map[string]any{of.TargetingKey: fmt.Sprintf("split-%d", i)}
		l.add(tcase{Flag: "v-int", Context: ctx, Type: "integer", Covers: "variant split"})
		l.add(tcase{Flag: "v-md5-split", Context: ctx, Type: "string", Covers: "variant split, md5 canary"})
	}
	mis := map[string]any{of.TargetingKey: "user-9"}
	l.add(tcase{Flag: "v-string", Context: mis, Type: "boolean", Covers: "variant flag asked as another type"})
	l.add(tcase{Flag: "v-object", Context: mis, Type: "string", Covers: "variant flag asked as another type"})
	l.add(tcase{Flag: "v-float", Context: mis, Type: "integer", Covers: "a fraction asked as a whole number"})
	l.add(tcase{Flag: "v-int", Context: mis, Type: "float", Covers: "a whole number asked as a float"})

	// LaunchDarkly-imported flags, with contexts as an application written
	// for LaunchDarkly's OpenFeature provider sends them.
	ldContexts := []map[string]any{
		{of.TargetingKey: "user-1", "kind": "user", "email": "ann@example.com", "plan": "pro", "country": "NO", "age": 30, "beta": true, "version": "2.1.0"},
		{of.TargetingKey: "user-1001", "plan": "free", "email": "bob@test.org", "country": "US", "age": 17.5},
		{"key": "user-7", "name": "Alice", "tags": []any{"beta", "x"}},
		{"kind": "org", "key": "org-1", "plan": "enterprise", "employees": 1000},
		{"kind": "device", "key": "device-7", "os": "ios"},
		{"kind": "multi", "user": map[string]any{"key": "user-3", "plan": "pro"}, "org": map[string]any{"key": "org-2", "name": "Globex"}},
		{"email": "nokey@example.com"},
	}
	for _, ctx := range ldContexts {
		for _, k := range slices.Sorted(maps.Keys(ldTypes)) {
			l.add(tcase{Flag: k, Context: ctx, Type: ldTypes[k], Covers: "LaunchDarkly-imported flag"})
		}
	}

	// What docs/design.md §8 says, for the Go provider too.
	tutorial := map[string]bool{}
	for _, f := range flags {
		tutorial[f.key] = true
	}
	expect := func(flag string, ctx map[string]any, typ string, def any, w want, covers string) {
		l.add(tcase{Flag: flag, Context: ctx, Type: typ, Default: def, Covers: covers, Want: &w,
			Switch: typ == "boolean" && tutorial[flag]})
	}
	banner := map[string]any{"title": "Fast checkout"}
	miss := map[string]any{of.TargetingKey: subjectFor("checkout-banner", "production", evaluator.SchemeSHA256, 25, false)}
	expect("checkout-banner", readme, "boolean", false, want{Value: true, HasValue: true, Variant: "on", Reason: "TARGETING_MATCH"}, "README example, default false")
	expect("checkout-banner", readme, "boolean", true, want{Value: true, HasValue: true, Variant: "on", Reason: "TARGETING_MATCH"}, "README example, default true")
	expect("checkout-banner:payload", readme, "object", nil, want{Value: banner, HasValue: true, Variant: "on", Reason: "TARGETING_MATCH"}, "README example's payload")
	expect("checkout-banner", miss, "boolean", true, want{Value: false, HasValue: true, Variant: "off", Reason: "SPLIT"}, "rollout miss with default true")
	expect("checkout-banner:payload", miss, "object", nil, want{IsDefault: true}, "payload of a flag that is off")
	expect("bool-payload", map[string]any{of.TargetingKey: "user-123"}, "boolean", false, want{Value: true, HasValue: true, Variant: "on"}, "a false payload does not invert the switch")
	qa := map[string]any{of.TargetingKey: "user-123", "environment": "qa"}
	expect("checkout-banner", qa, "boolean", true, want{Value: false, HasValue: true, Variant: "off", Reason: "DEFAULT"}, "environment-missing")
	expect("checkout-banner:payload", qa, "object", nil, want{IsDefault: true}, "payload in a missing environment")
	expect("plain-switch:payload", map[string]any{of.TargetingKey: "vip-1"}, "object", nil, want{IsDefault: true, Reason: "DEFAULT"}, "on without a payload")
	expect("corrupt-env", map[string]any{of.TargetingKey: "user-1"}, "boolean", true, want{IsDefault: true, Reason: "ERROR", Code: "PARSE_ERROR"}, "a bad field fails its environment")
	expect("corrupt-env", map[string]any{of.TargetingKey: "user-1", "environment": "staging"}, "boolean", false, want{Value: true, HasValue: true, Variant: "on"}, "and only its environment")
	expect("corrupt-flag", map[string]any{of.TargetingKey: "user-1", "environment": "staging"}, "boolean", true, want{IsDefault: true, Reason: "ERROR", Code: "PARSE_ERROR"}, "a bad flag field fails the flag")
	expect("no-such-flag", readme, "boolean", true, want{IsDefault: true, Reason: "ERROR", Code: "FLAG_NOT_FOUND"}, "missing flag")
	expect("checkout-banner", map[string]any{of.TargetingKey: "user-123", "region": 5}, "boolean", true, want{IsDefault: true, Reason: "ERROR", Code: "INVALID_CONTEXT"}, "region of the wrong type")
	expect("plain-switch", map[string]any{"region": "ap-south"}, "boolean", true, want{IsDefault: true, Reason: "ERROR", Code: "TARGETING_KEY_MISSING"}, "rollout without a targeting key")
	canary := map[string]any{of.TargetingKey: "user-2", "environment": "staging"}
	expect("canary-md5", canary, "boolean", true, want{Value: evaluator.BucketMD5("canary-md5", "user-2") < 30, HasValue: true}, "md5 canary bucket (not sha256)")
	return l.cases
}

// check compares an answer with what docs/design.md says; "" when it
// agrees.
func (w want) check(tc tcase, a answer) string {
	var bad []string
	if w.HasValue && !reflect.DeepEqual(normal(w.Value), normal(a.Value)) {
		bad = append(bad, fmt.Sprintf("value %v, want %v", normal(a.Value), normal(w.Value)))
	}
	if w.IsDefault && !reflect.DeepEqual(normal(tc.Default), normal(a.Value)) {
		bad = append(bad, fmt.Sprintf("value %v, want the caller's default %v", normal(a.Value), normal(tc.Default)))
	}
	if w.Variant != "" && a.Variant != w.Variant {
		bad = append(bad, fmt.Sprintf("variant %q, want %q", a.Variant, w.Variant))
	}
	if w.Reason != "" && a.Reason != w.Reason {
		bad = append(bad, fmt.Sprintf("reason %s, want %s", a.Reason, w.Reason))
	}
	if a.Code != w.Code {
		bad = append(bad, fmt.Sprintf("error code %q, want %q", a.Code, w.Code))
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprint(bad)
}
