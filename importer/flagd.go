package importer

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/redisflags/redisflags/evaluator"
)

// ImportFlagd reads flagd's flag definition format:
//
//	{"flags": {key: {"state": "ENABLED"|"DISABLED", "variants": {…},
//	                 "defaultVariant": name, "targeting": JSON Logic,
//	                 "metadata": {…}}},
//	 "$evaluators": {name: JSON Logic}, "metadata": {…}}
//
// Each flag becomes a variant flag that applies to every environment and
// follows [evaluator.SemanticsFlagd], so that it reads contexts, versions
// and the time as flagd does; one with a fractional split gets bucketing
// "murmur3-flagd", so that every subject lands in the bucket flagd puts it
// in. state DISABLED turns DefaultEnabled off (the caller's default, reason
// DISABLED). Flag-set metadata is merged under each flag's own.
// {"$ref": name} anywhere in a targeting is replaced by that evaluator.
//
// The targeting is translated into ordered native rules (see the package
// documentation for the operators and the few places where JSON Logic's
// loose typing is not reproduced). An operator without a native counterpart
// is an [ErrUnsupported] problem naming the flag and the operator. Every
// problem of the file is reported at once, as an [*Error], and then no
// flags are returned. The flags come back sorted by key.
func ImportFlagd(data []byte, opts ...Option) ([]evaluator.Flag, error) {
	cfg := newConfig(opts)
	var ps problems
	var top map[string]json.RawMessage
	if err := decodeJSON(data, &top); err != nil {
		ps.invalid("", "", "must be a JSON object with a \"flags\" object: %v", err)
		return nil, ps.err(FormatFlagd)
	}
	if top == nil {
		ps.invalid("", "", "must be a JSON object with a \"flags\" object")
		return nil, ps.err(FormatFlagd)
	}
	var (
		defs       map[string]json.RawMessage
		evaluators map[string]any
		setMeta    map[string]any
	)
	for _, name := range slices.Sorted(maps.Keys(top)) {
		raw := top[name]
		switch name {
		case "$schema":
		case "flags":
			if err := json.Unmarshal(raw, &defs); err != nil || defs == nil {
				ps.invalid("", name, "must be an object of flag key → definition")
			}
		case "$evaluators":
			if err := decodeJSON(raw, &evaluators); err != nil {
				ps.invalid("", name, "must be an object of evaluator name → JSON Logic")
			}
		case "metadata":
			setMeta = decodeMetadata(&ps, "", name, raw)
		default:
			ps.invalid("", name, "is not a field of flagd's format")
		}
	}
	if _, ok := top["flags"]; !ok {
		ps.invalid("", "flags", "is required")
	}
	var flags []evaluator.Flag
	for _, key := range slices.Sorted(maps.Keys(defs)) {
		if cfg.skip[key] {
			continue
		}
		if f, ok := flagdFlag(&ps, key, defs[key], evaluators, setMeta); ok {
			flags = append(flags, f)
		}
	}
	if err := ps.err(FormatFlagd); err != nil {
		return nil, err
	}
	return flags, nil
}

// flagdFlag translates one flagd definition.
func flagdFlag(ps *problems, key string, raw json.RawMessage, evaluators, setMeta map[string]any) (evaluator.Flag, bool) {
	before := len(ps.list)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		ps.invalid(key, "", "must be a JSON object")
		return evaluator.Flag{}, false
	}
	f := evaluator.Flag{Key: key, DefaultEnabled: true, Semantics: evaluator.SemanticsFlagd}
	if _, ok := fields["variants"]; !ok {
		ps.invalid(key, "variants", "is required")
	}
	if _, ok := fields["defaultVariant"]; !ok {
		fields["defaultVariant"] = nil
	}
	var targeting any
	hasTargeting := false
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		switch name {
		case "state":
			var state string
			if err := json.Unmarshal(v, &state); err != nil || (state != "ENABLED" && state != "DISABLED") {
				ps.invalid(key, name, "must be \"ENABLED\" or \"DISABLED\"")
			}
			f.DefaultEnabled = state != "DISABLED"
		case "variants":
			f.Variants = decodeVariants(ps, key, name, v)
		case "defaultVariant":
			if isNull(v) {
				ps.add(Problem{Flag: key, Field: name, Unsupported: true,
					Message: "is missing or null; flagd then serves the caller's default, but a redisflags variant flag always has a default variant"})
			} else if json.Unmarshal(v, &f.DefaultVariant) != nil {
				ps.invalid(key, name, "must be a variant name (a string)")
			}
		case "targeting":
			if err := decodeJSON(v, &targeting); err != nil {
				ps.invalid(key, name, "is not JSON: %v", err)
				break
			}
			// flagd treats an empty targeting object as none (reason
			// STATIC), but evaluates a null one, which yields null (the
			// default variant, reason DEFAULT).
			if m, ok := targeting.(map[string]any); !ok || len(m) > 0 {
				hasTargeting = true
			}
		case "metadata":
			f.Metadata = decodeMetadata(ps, key, name, v)
		default:
			ps.invalid(key, name, "is not a field of a flagd flag")
		}
	}
	if len(setMeta) > 0 {
		merged := maps.Clone(setMeta)
		maps.Copy(merged, f.Metadata)
		f.Metadata = merged
	}
	if hasTargeting && len(ps.list) == before {
		t := translator{ps: ps, flag: key, evaluators: evaluators, defaultVariant: f.DefaultVariant}
		f.Rules = t.targeting(targeting)
		for _, r := range f.Rules {
			if r.Split != nil {
				f.Bucketing = evaluator.BucketMurmur3
			}
		}
	}
	if len(ps.list) > before {
		return evaluator.Flag{}, false
	}
	return f, validate(ps, f)
}
