package provider

import (
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
)

// target is what an evaluation context says about one evaluation.
type target struct {
	environment string
	subject     string
	region      string
}

// targetOf maps an evaluation context onto the evaluator's input (docs/design.md §5):
//
//   - subject: the targeting key; else the attribute "key" (a LaunchDarkly
//     single context); else, when "kind" is "multi", the "key" of the
//     configured context kind's object;
//   - region: the attribute "region" at the top level, else inside that
//     context kind's object;
//   - environment: the attribute "environment", else the provider's.
//
// An attribute of the wrong type is an INVALID_CONTEXT error naming it (the
// first one). The others are still read into t, because a flag imported
// from LaunchDarkly takes any type for them and still lets a string
// "environment" pick the environment. It does not allocate on success.
func (p *Provider) targetOf(fc openfeature.FlattenedContext, t *target) error {
	t.environment = p.cfg.environment
	// left counts attributes not looked at yet: once every attribute has
	// been found, the remaining lookups are skipped (the common contexts,
	// a targeting key with or without a region, need one or two).
	left := len(fc)
	var first error
	keep := func(v string, err error) string {
		if err != nil && first == nil {
			first = err
		}
		return v
	}
	t.subject = keep(lookup(fc, openfeature.TargetingKey, &left))
	if t.subject == "" {
		t.subject = keep(lookup(fc, "key", &left))
	}
	t.region = keep(lookup(fc, "region", &left))
	if env := keep(lookup(fc, "environment", &left)); env != "" {
		t.environment = env
	}
	if left == 0 || (t.subject != "" && t.region != "") {
		return first
	}
	if kind, _ := fc["kind"].(string); kind != "multi" {
		return first
	}
	raw, ok := fc[p.cfg.contextKind]
	if !ok {
		return first
	}
	inner, ok := raw.(map[string]any)
	if !ok {
		if first == nil {
			first = fmt.Errorf("context attribute %q must be an object (a context of kind %q), got %T", p.cfg.contextKind, p.cfg.contextKind, raw)
		}
		return first
	}
	kindErr := func(v string, err error) string {
		if err != nil && first == nil {
			first = fmt.Errorf("%s.%w", p.cfg.contextKind, err)
		}
		return v
	}
	if t.subject == "" {
		t.subject = kindErr(stringAttr(inner, "key"))
	}
	if t.region == "" {
		t.region = kindErr(stringAttr(inner, "region"))
	}
	return first
}

// lookup is stringAttr that skips the lookup when no attribute is left and
// counts the ones it finds.
func lookup(m map[string]any, name string, left *int) (string, error) {
	if *left == 0 {
		return "", nil
	}
	v, ok := m[name]
	if !ok {
		return "", nil
	}
	*left--
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string, got %T", name, v)
	}
	return s, nil
}

// stringAttr returns a string attribute; absent or nil is "", another type
// is an error.
func stringAttr(m map[string]any, name string) (string, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string, got %T", name, v)
	}
	return s, nil
}

// flagdInput reads the context as flagd does for a flag imported from it
// (evaluator.SemanticsFlagd): the subject is the targeting key alone — no
// "key" attribute, no LaunchDarkly multi-context — and "region" and
// "environment" are attributes like any other (targetOf's reading of them
// does not apply, and their type does not matter).
func flagdInput(fc openfeature.FlattenedContext, in *evaluator.Input) {
	in.Subject, _ = fc[openfeature.TargetingKey].(string)
	in.Region = ""
}
