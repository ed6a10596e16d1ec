package provider

import (
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
)

// target is what an evaluation context says about one evaluation.
type target struct {
	environment string
	subject     string
	region      string
}

// targetOf maps an evaluation context onto the evaluator's input (DESIGN §5):
//
//   - subject: the targeting key; else the attribute "key" (a LaunchDarkly
//     single context); else, when "kind" is "multi", the "key" of the
//     configured context kind's object;
//   - region: the attribute "region" at the top level, else inside that
//     context kind's object;
//   - environment: the attribute "environment", else the provider's.
//
// An attribute of the wrong type is an INVALID_CONTEXT error naming it. It
// does not allocate on success.
func (p *Provider) targetOf(fc openfeature.FlattenedContext) (target, error) {
	t := target{environment: p.cfg.environment}
	var err error
	if t.subject, err = stringAttr(fc, openfeature.TargetingKey); err != nil {
		return t, err
	}
	if t.subject == "" {
		if t.subject, err = stringAttr(fc, "key"); err != nil {
			return t, err
		}
	}
	if t.region, err = stringAttr(fc, "region"); err != nil {
		return t, err
	}
	if env, err := stringAttr(fc, "environment"); err != nil {
		return t, err
	} else if env != "" {
		t.environment = env
	}
	if t.subject != "" && t.region != "" {
		return t, nil
	}
	if kind, _ := fc["kind"].(string); kind != "multi" {
		return t, nil
	}
	raw, ok := fc[p.cfg.contextKind]
	if !ok {
		return t, nil
	}
	inner, ok := raw.(map[string]any)
	if !ok {
		return t, fmt.Errorf("context attribute %q must be an object (a context of kind %q), got %T", p.cfg.contextKind, p.cfg.contextKind, raw)
	}
	if t.subject == "" {
		if t.subject, err = stringAttr(inner, "key"); err != nil {
			return t, fmt.Errorf("%s.%w", p.cfg.contextKind, err)
		}
	}
	if t.region == "" {
		if t.region, err = stringAttr(inner, "region"); err != nil {
			return t, fmt.Errorf("%s.%w", p.cfg.contextKind, err)
		}
	}
	return t, nil
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
