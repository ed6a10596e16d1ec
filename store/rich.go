package store

import (
	"encoding/json"

	"github.com/redisflags/redisflags/evaluator"
)

// Rich-flag fields live on the flag hash P:flag:K beside the tutorial's
// fields, each under its JSON name: scalars as text ("defaultVariant",
// "offVariant", "bucketing", "expiresAt"), structures as compact JSON text
// ("variants", "rules", "split", "metadata"). A field is written only when
// set, so a tutorial flag's hash is exactly the tutorial's plus "version",
// and a reader that knows nothing of them (the tutorial's app) ignores them.

// richFields returns the HSET field/value pairs of f's rich fields.
// Marshalling cannot fail: f has passed Validate, so every value is plain
// JSON data.
func richFields(f *evaluator.Flag) []any {
	var out []any
	add := func(name, v string) {
		if v != "" {
			out = append(out, name, v)
		}
	}
	addJSON := func(name string, v any, empty bool) {
		if empty {
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		out = append(out, name, string(b))
	}
	addJSON("variants", f.Variants, len(f.Variants) == 0)
	add("defaultVariant", f.DefaultVariant)
	add("offVariant", f.OffVariant)
	addJSON("rules", f.Rules, len(f.Rules) == 0)
	addJSON("split", f.Split, f.Split == nil)
	addJSON("metadata", f.Metadata, len(f.Metadata) == 0)
	add("bucketing", f.Bucketing)
	add("expiresAt", f.ExpiresAt)
	return out
}

// decodeRich reads the rich fields of a flag hash into f. A structure that
// is not the JSON it should be is a *DecodeError naming the field; whether
// the values make sense (a rule's operator, a split's weights) is left to
// evaluator.Validate, which decode runs next.
func decodeRich(key string, hash map[string]string, f *evaluator.Flag) error {
	f.DefaultVariant = hash["defaultVariant"]
	f.OffVariant = hash["offVariant"]
	f.Bucketing = hash["bucketing"]
	f.ExpiresAt = hash["expiresAt"]
	fields := []struct {
		name string
		into any
	}{
		{"variants", &f.Variants},
		{"rules", &f.Rules},
		{"split", &f.Split},
		{"metadata", &f.Metadata},
	}
	for _, fd := range fields {
		v, ok := hash[fd.name]
		if !ok || v == "" {
			continue
		}
		if err := json.Unmarshal([]byte(v), fd.into); err != nil {
			return decodeError(key, fd.name, v, "is not valid JSON of the expected shape: "+err.Error())
		}
	}
	return nil
}
