package store

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
)

// Rich-flag fields live on the flag hash P:flag:K beside the tutorial's
// fields, each under its JSON name: scalars as text ("defaultVariant",
// "offVariant", "bucketing", "expiresAt", "salt", "semantics"), structures
// as compact JSON text ("variants", "rules", "split", "metadata",
// "prerequisites", "targets", "segments", "malformed"). A field is written only when
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
	addJSON("prerequisites", f.Prerequisites, len(f.Prerequisites) == 0)
	addJSON("targets", f.Targets, len(f.Targets) == 0)
	addJSON("segments", f.Segments, len(f.Segments) == 0)
	add("salt", f.Salt)
	add("semantics", f.Semantics)
	addJSON("malformed", f.Malformed, len(f.Malformed) == 0)
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
	f.Salt = hash["salt"]
	f.Semantics = hash["semantics"]
	fields := []struct {
		name string
		into any
	}{
		{"variants", &f.Variants},
		{"rules", &f.Rules},
		{"split", &f.Split},
		{"metadata", &f.Metadata},
		{"prerequisites", &f.Prerequisites},
		{"targets", &f.Targets},
		{"segments", &f.Segments},
		{"malformed", &f.Malformed},
	}
	for _, fd := range fields {
		v, ok := hash[fd.name]
		if !ok || v == "" {
			continue
		}
		if err := unmarshalExact(v, fd.into); err != nil {
			return decodeError(key, fd.name, v, "is not valid JSON of the expected shape: "+err.Error())
		}
	}
	return nil
}

// unmarshalExact decodes one JSON value keeping numbers exact
// (json.Number), as evaluator.ParseFlag does: metadata integers are int64
// (docs/design.md §4), and a float64 would round one above 2^53. Anything after the
// value is an error, as with json.Unmarshal.
func unmarshalExact(s string, into any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
