package importer

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/redisflags/redisflags/evaluator"
)

// ImportSpec reads the OpenFeature specification's test-flag format (the
// flags its gherkin suites evaluate): a JSON object of flag key →
//
//	{"variants": {name: value, …}, "defaultVariant": name,
//	 "disabled": bool, "contextEvaluator": CEL, "flagMetadata": {…}}
//
// Each becomes a variant flag that applies to every environment:
// disabled:true turns DefaultEnabled off with no off variant (the caller's
// default, reason DISABLED); a non-empty contextEvaluator becomes one rule
// holding that CEL expression, which names the variant to serve ("" meaning
// none: the default variant, reason DEFAULT); flagMetadata becomes Metadata.
//
// A flag without a default variant is unsupported: redisflags always has one
// to serve. Every problem of the file is reported at once, as an [*Error];
// then no flags are returned. The flags come back sorted by key.
func ImportSpec(data []byte, opts ...Option) ([]evaluator.Flag, error) {
	cfg := newConfig(opts)
	var ps problems
	var top map[string]json.RawMessage
	if err := decodeJSON(data, &top); err != nil || top == nil {
		ps.invalid("", "", "must be a JSON object of flag key → definition")
		return nil, ps.err(FormatSpec)
	}
	var flags []evaluator.Flag
	for _, key := range slices.Sorted(maps.Keys(top)) {
		if cfg.skip[key] {
			continue
		}
		if f, ok := specFlag(&ps, key, top[key]); ok {
			flags = append(flags, f)
		}
	}
	if err := ps.err(FormatSpec); err != nil {
		return nil, err
	}
	return flags, nil
}

// specFlag translates one definition of the spec's format.
func specFlag(ps *problems, key string, raw json.RawMessage) (evaluator.Flag, bool) {
	before := len(ps.list)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		ps.invalid(key, "", "must be a JSON object")
		return evaluator.Flag{}, false
	}
	f := evaluator.Flag{Key: key, DefaultEnabled: true}
	if _, ok := fields["variants"]; !ok {
		ps.invalid(key, "variants", "is required")
	}
	if _, ok := fields["defaultVariant"]; !ok {
		fields["defaultVariant"] = nil
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		switch name {
		case "variants":
			f.Variants = decodeVariants(ps, key, name, v)
		case "defaultVariant":
			if isNull(v) {
				ps.add(Problem{Flag: key, Field: name, Unsupported: true,
					Message: "is missing or null; the spec then serves the caller's default, but a redisflags variant flag always has a default variant"})
			} else if json.Unmarshal(v, &f.DefaultVariant) != nil {
				ps.invalid(key, name, "must be a variant name (a string)")
			}
		case "disabled":
			var disabled bool
			if !isNull(v) && json.Unmarshal(v, &disabled) != nil {
				ps.invalid(key, name, "must be true or false")
			}
			f.DefaultEnabled = !disabled
		case "contextEvaluator":
			if !isNull(v) && json.Unmarshal(v, new(string)) != nil {
				ps.invalid(key, name, "must be a CEL expression (a string)")
				break
			}
			var expr string
			_ = json.Unmarshal(v, &expr)
			if expr != "" {
				f.Rules = []evaluator.Rule{{Name: "contextEvaluator", CEL: expr}}
			}
		case "flagMetadata":
			f.Metadata = decodeMetadata(ps, key, name, v)
		default:
			ps.invalid(key, name, "is not a field of the spec's test-flag format")
		}
	}
	if len(ps.list) > before {
		return evaluator.Flag{}, false
	}
	return f, validate(ps, f)
}
