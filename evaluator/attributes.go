package evaluator

import "strings"

// Attributes gives rules access to the evaluation context. Implementations
// must not allocate on lookup if evaluation is to stay allocation-free.
type Attributes interface {
	// Attribute returns the named attribute and whether it is present.
	Attribute(name string) (any, bool)
}

// MapAttributes is Attributes over a map such as OpenFeature's flattened
// context. A name that is not a key of the map and holds dots walks nested
// maps: "user.email" finds m["user"].(map[string]any)["email"], the shape of
// a LaunchDarkly multi-context. Lookups do not allocate.
type MapAttributes map[string]any

// Attribute implements [Attributes].
func (m MapAttributes) Attribute(name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur map[string]any = m
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			v, ok := cur[name]
			return v, ok
		}
		next, ok := cur[name[:i]].(map[string]any)
		if !ok {
			return nil, false
		}
		cur, name = next, name[i+1:]
	}
}

// attribute looks a rule's attribute up in the input: the subject names map
// to the subject, anything else to in.Attributes.
func (in *Input) attribute(name string) (any, bool) {
	switch name {
	case "targetingKey", "subject":
		if in.Subject == "" {
			return nil, false
		}
		return in.Subject, true
	}
	if in.Attributes == nil {
		return nil, false
	}
	v, ok := in.Attributes.Attribute(name)
	if ok && v == nil {
		return nil, false
	}
	return v, ok
}
