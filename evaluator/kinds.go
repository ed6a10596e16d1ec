package evaluator

import (
	"errors"
	"slices"
	"strings"
)

// This file reads evaluation contexts the way LaunchDarkly does, for the
// parts of the model that come from it: conditions with a ContextKind,
// targets, segments and BucketLaunchDarkly rollouts.
//
// A LaunchDarkly context is one or more individual contexts, each of a kind
// ("user", "org", …) with a key and attributes. An OpenFeature context
// carries them as LaunchDarkly's OpenFeature provider (go-sdk-contrib's
// providers/launchdarkly) reads them, and [MapAttributes] reads them the same
// way:
//
//   - a single context: the attribute "kind" (a string that is not blank;
//     default "user") is its kind; its key is "targetingKey" when that is a
//     string, else "key" when that is a string that is not blank; every other
//     attribute is an attribute of the context, except "privateAttributes"
//     (accepted and ignored) and "_meta"; "anonymous" is a bool (false when
//     absent or not a bool); "name" counts only as a string;
//   - a multi-context: "kind" is "multi" and every other attribute whose
//     value is an object is the individual context of that kind, read as
//     above (its own "kind" is ignored); attributes of other types are
//     ignored, the top-level "targetingKey" included.
//
// Other [Attributes] implementations hold one context of kind "user" whose
// key is Input.Subject.

// SemanticsLaunchDarkly makes a variant flag follow LaunchDarkly's rules
// where they differ from redisflags': the context must be a valid
// LaunchDarkly context — at least one individual context, each with a key
// and a kind of letters, digits, '.', '_' and '-' other than "kind" and
// "multi" — or the evaluation fails with ContextInvalid before any step (as
// LaunchDarkly's SDK and OpenFeature provider fail it); the flag's targets
// decide with outcome TargetMatch, its rules with RuleMatch (a rule's split
// too) and the fallthrough — split or default variant — with Fallthrough.
// A provider reports reasons as LaunchDarkly's OpenFeature provider does.
const SemanticsLaunchDarkly = "launchdarkly"

// DefaultKind is the context kind of a single context without "kind", and
// of a condition, target or rollout whose ContextKind is empty where a kind
// is needed.
const DefaultKind = "user"

// Target serves Variant to the contexts of ContextKind whose key is one of
// Values (LaunchDarkly's individual targeting). An empty ContextKind means
// the evaluation's subject instead of a context's key.
type Target struct {
	ContextKind string   `json:"contextKind,omitempty"`
	Values      []string `json:"values"`
	Variant     string   `json:"variant"`
}

// attrRef is a parsed LaunchDarkly attribute reference: the names to walk,
// from the context down through nested objects.
type attrRef []string

var errBadRef = errors.New("is not a LaunchDarkly attribute reference (a name, or a path such as \"/address/city\" with ~0 for '~' and ~1 for '/')")

// parseRef reads a LaunchDarkly attribute reference: a name not starting
// with '/' is one attribute of that name ("a/b" included); "/a/b" walks
// object a to its property b, each part unescaping ~1 to '/' and ~0 to '~'.
// Empty parts, "" and "/" are errors.
func parseRef(s string) (attrRef, error) {
	if s == "" || s == "/" {
		return nil, errBadRef
	}
	if s[0] != '/' {
		return attrRef{s}, nil
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if p == "" {
			return nil, errBadRef
		}
		if !strings.Contains(p, "~") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			if p[j] != '~' {
				b.WriteByte(p[j])
				continue
			}
			j++
			if j == len(p) || (p[j] != '0' && p[j] != '1') {
				return nil, errBadRef
			}
			if p[j] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
		}
		parts[i] = b.String()
	}
	return parts, nil
}

// LiteralRef returns the attribute reference that names the attribute name
// as a whole, even when it starts with '/': what LaunchDarkly reads an
// "attribute" or "bucketBy" as when no context kind is given.
func LiteralRef(name string) string {
	if name == "" || name[0] != '/' {
		return name
	}
	return "/" + strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// kindContext is one individual context found in an input.
type kindContext struct {
	attrs map[string]any // nil for other Attributes implementations
	gen   Attributes     // the input's Attributes when attrs is nil
	kind  string
	key   string
}

// contextKindOf returns the kind a map context declares: "kind" when it is
// a string that is not blank, else "user".
func contextKindOf(m map[string]any) string {
	if k, ok := m["kind"].(string); ok && strings.Trim(k, " ") != "" {
		return k
	}
	return DefaultKind
}

// contextKeyOf returns an individual context's key: "targetingKey" when it
// is a string, else "key" when it is a string that is not blank. ok is false
// when there is none (or it is empty): not a valid LaunchDarkly context.
func contextKeyOf(m map[string]any) (string, bool) {
	if s, ok := m["targetingKey"].(string); ok {
		return s, s != ""
	}
	if s, ok := m["key"].(string); ok && strings.Trim(s, " ") != "" {
		return s, true
	}
	return "", false
}

// contextOf finds the individual context of a kind ("" is "user"). It does
// not allocate.
func (in *Input) contextOf(kind string) (kindContext, bool) {
	if kind == "" {
		kind = DefaultKind
	}
	m, isMap := in.Attributes.(MapAttributes)
	if !isMap {
		if kind != DefaultKind {
			return kindContext{}, false
		}
		return kindContext{gen: in.Attributes, kind: kind, key: in.Subject}, true
	}
	k := contextKindOf(m)
	if k != "multi" {
		if k != kind {
			return kindContext{}, false
		}
		key, _ := contextKeyOf(m)
		return kindContext{attrs: m, kind: k, key: key}, true
	}
	if kind == "kind" {
		return kindContext{}, false
	}
	inner, ok := m[kind].(map[string]any)
	if !ok && kind == DefaultKind {
		inner, ok = m[""].(map[string]any) // LaunchDarkly reads kind "" as "user"
	}
	if !ok {
		return kindContext{}, false
	}
	key, _ := contextKeyOf(inner)
	return kindContext{attrs: inner, kind: kind, key: key}, true
}

// value returns the attribute ref names in the context (LaunchDarkly's
// GetValueForRef): "kind", "key", "name" and "anonymous" are built in; nil
// values count as absent.
func (c *kindContext) value(ref attrRef) (any, bool) {
	var v any
	switch first := ref[0]; first {
	case "kind":
		v = c.kindValue()
	case "key":
		v = c.keyValue()
	case "anonymous":
		b, _ := c.lookup(first).(bool)
		v = b
	case "name":
		v = c.lookup(first)
		if _, ok := v.(string); !ok {
			return nil, false
		}
	case "targetingKey", "privateAttributes", "_meta":
		return nil, false
	default:
		v = c.lookup(first)
	}
	for _, name := range ref[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = m[name]
	}
	return v, v != nil
}

// keyValue is c.key as an interface value. Boxing a string allocates, so it
// returns the context's own value when the key came from a map (as
// contextKeyOf found it); only other Attributes implementations pay.
func (c *kindContext) keyValue() any {
	if c.key == "" {
		return ""
	}
	if c.attrs != nil {
		if v := c.attrs["targetingKey"]; v != nil {
			if s, ok := v.(string); ok && s == c.key {
				return v
			}
		}
		if v := c.attrs["key"]; v != nil {
			if s, ok := v.(string); ok && s == c.key {
				return v
			}
		}
	}
	return c.key
}

// kindValue is c.kind as an interface value, without allocating for the
// default kind or a kind the context's map declares itself.
func (c *kindContext) kindValue() any {
	if c.kind == DefaultKind {
		return DefaultKind
	}
	if c.attrs != nil {
		if v := c.attrs["kind"]; v != nil {
			if s, ok := v.(string); ok && s == c.kind {
				return v
			}
		}
	}
	return c.kind
}

func (c *kindContext) lookup(name string) any {
	if c.attrs != nil {
		return c.attrs[name]
	}
	if c.gen == nil {
		return nil
	}
	v, _ := c.gen.Attribute(name)
	return v
}

// validKind reports whether k may name an individual context's kind.
func validKind(k string) bool {
	if k == "" || k == "kind" || k == "multi" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// launchDarklyContext reports whether the input is a valid LaunchDarkly
// context (see SemanticsLaunchDarkly) and, when it is, whether it is a
// single context of kind "user" (LaunchDarkly's segments treat that case
// apart). It does not allocate.
func (in *Input) launchDarklyContext() (valid, onlyUser bool) {
	m, isMap := in.Attributes.(MapAttributes)
	if !isMap {
		return in.Subject != "", true
	}
	k := contextKindOf(m)
	if k != "multi" {
		_, hasKey := contextKeyOf(m)
		return hasKey && validKind(k), k == DefaultKind
	}
	n := 0
	users := 0
	for name, v := range m {
		if name == "kind" {
			continue
		}
		inner, ok := v.(map[string]any)
		if !ok {
			continue
		}
		n++
		kind := name
		if kind == "" {
			kind = DefaultKind
		}
		if kind == DefaultKind {
			users++
		}
		if _, hasKey := contextKeyOf(inner); !hasKey || !validKind(kind) {
			return false, false
		}
	}
	// "" and "user" are the same kind: twice is LaunchDarkly's duplicate
	// kinds error. A multi-context of one context is that context.
	return n > 0 && users < 2, n == 1 && users == 1
}

// onlyUserContext reports whether the input is one context of kind "user"
// (a single context, or a multi-context holding only that one).
func (in *Input) onlyUserContext() bool {
	_, only := in.launchDarklyContext()
	return only
}

// anyKind reports whether match holds for the kind of some individual
// context of the input (LaunchDarkly's clause on the attribute "kind").
func (in *Input) anyKind(c *cond) bool {
	m, isMap := in.Attributes.(MapAttributes)
	if !isMap {
		return c.matchValue(DefaultKind)
	}
	k := contextKindOf(m)
	if k != "multi" {
		return c.matchValue(k)
	}
	for name, v := range m {
		if name == "kind" {
			continue
		}
		if _, ok := v.(map[string]any); !ok {
			continue
		}
		if name == "" {
			name = DefaultKind
		}
		if c.matchValue(name) {
			return true
		}
	}
	return false
}

func cloneKinds(c *Flag, f Flag) {
	c.Malformed = slices.Clone(f.Malformed)
	if f.Targets != nil {
		c.Targets = make([]Target, len(f.Targets))
		for i, t := range f.Targets {
			t.Values = append([]string(nil), t.Values...)
			c.Targets[i] = t
		}
	}
	if f.Prerequisites != nil {
		c.Prerequisites = append([]Prerequisite(nil), f.Prerequisites...)
	}
	if f.Segments != nil {
		c.Segments = make(map[string]Segment, len(f.Segments))
		for k, s := range f.Segments {
			c.Segments[k] = s.clone()
		}
	}
}

// ValidAttributeRef reports whether s is a valid LaunchDarkly attribute
// reference (see Condition.ContextKind): a name, or a path such as
// "/address/city" with ~0 for '~' and ~1 for '/'.
func ValidAttributeRef(s string) bool {
	_, err := parseRef(s)
	return err == nil
}
