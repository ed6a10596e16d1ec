package evaluator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// ParseFlag decodes and validates the JSON form of one definition (the
// tutorial's shape, see [Flag]). Every problem — malformed JSON, a field of
// the wrong type, a percent of 101 or 1.5, a bad key — comes back as a
// *ValidationError naming the field. Unknown fields are rejected so that a
// typo ("rollout") is not silently ignored. updatedAt and version are read
// but a store overwrites them.
//
// When key is not empty it is the key the caller expects (for example the
// one in a URL); a body naming another key is an error, and a body naming
// none takes it.
func ParseFlag(data []byte, key string) (Flag, error) {
	v := &ValidationError{Flag: key}
	var top map[string]json.RawMessage
	if err := strictDecode(data, &top); err != nil {
		v.add("(body)", "is not a JSON object: %v", err)
		return Flag{}, v
	}
	if top == nil {
		v.add("(body)", "must be a JSON object, got null")
		return Flag{}, v
	}
	var f Flag
	for name, raw := range top {
		switch name {
		case "flagKey":
			decodeField(v, name, raw, &f.Key)
		case "description":
			decodeField(v, name, raw, &f.Description)
		case "defaultEnabled":
			decodeField(v, name, raw, &f.DefaultEnabled)
		case "updatedAt":
			decodeField(v, name, raw, &f.UpdatedAt)
		case "version":
			f.Version = int64(decodeInt(v, name, raw, 0, math.MaxInt64))
		case "environments":
			f.Environments = parseEnvironments(v, raw)
		case "variants":
			f.Variants = parseVariants(v, raw)
		case "defaultVariant":
			decodeField(v, name, raw, &f.DefaultVariant)
		case "offVariant":
			decodeField(v, name, raw, &f.OffVariant)
		case "bucketing":
			decodeField(v, name, raw, &f.Bucketing)
		case "expiresAt":
			decodeField(v, name, raw, &f.ExpiresAt)
		case "rules":
			decodeStrict(v, name, raw, &f.Rules, "an array of rules")
		case "split":
			decodeStrict(v, name, raw, &f.Split, "a split object")
		case "metadata":
			decodeStrict(v, name, raw, &f.Metadata, "an object of strings, numbers and bools")
		case "prerequisites":
			decodeStrict(v, name, raw, &f.Prerequisites, "an array of prerequisites")
		case "targets":
			decodeStrict(v, name, raw, &f.Targets, "an array of targets")
		case "segments":
			decodeStrict(v, name, raw, &f.Segments, "an object of segment key to segment")
		case "salt":
			decodeField(v, name, raw, &f.Salt)
		case "semantics":
			decodeField(v, name, raw, &f.Semantics)
		case "malformed":
			decodeField(v, name, raw, &f.Malformed)
		default:
			v.add(name, "is not a known field")
		}
	}
	if key != "" {
		switch f.Key {
		case "":
			f.Key = key
		case key:
		default:
			v.add("flagKey", "is %q but the request names %q", f.Key, key)
		}
	}
	v.Flag = f.Key
	if len(v.Problems) > 0 {
		return Flag{}, v
	}
	if err := Validate(f); err != nil {
		return Flag{}, err
	}
	return f, nil
}

func parseEnvironments(v *ValidationError, raw json.RawMessage) map[string]Environment {
	var envs map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &envs); err != nil {
		v.add("environments", "must be an object of environment objects")
		return nil
	}
	out := make(map[string]Environment, len(envs))
	for name, fields := range envs {
		path := "environments." + name
		var env Environment
		for field, raw := range fields {
			p := path + "." + field
			switch field {
			case "enabled":
				decodeField(v, p, raw, &env.Enabled)
			case "rolloutPercent":
				env.RolloutPercent = decodeInt(v, p, raw, 0, 100)
			case "value":
				if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
					env.Value = compactJSON(raw)
				}
			case "allowlistUsers":
				decodeField(v, p, raw, &env.AllowlistUsers)
			case "allowlistRegions":
				decodeField(v, p, raw, &env.AllowlistRegions)
			case "updatedAt":
				decodeField(v, p, raw, &env.UpdatedAt)
			case "rollout":
				if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
					decodeStrict(v, p, raw, &env.Rollout, "a rollout object (from, to, start, end or steps, variant)")
				}
			default:
				v.add(p, "is not a known field")
			}
		}
		out[name] = env
	}
	return out
}

// parseVariants reads the variants object, keeping each value's JSON text
// (compacted).
func parseVariants(v *ValidationError, raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		v.add("variants", "must be an object of variant name to JSON value, got %s", describeJSON(raw))
		return nil
	}
	for k, val := range m {
		m[k] = compactJSON(val)
	}
	return m
}

// decodeStrict unmarshals raw into dst rejecting unknown fields (a typo in
// a rule is an error, not a rule that silently matches everyone) and keeping
// numbers exact (json.Number, so that metadata integers stay integers).
func decodeStrict(v *ValidationError, path string, raw json.RawMessage, dst any, want string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		v.add(path, "must be %s: %v", want, err)
	}
}

// decodeField unmarshals raw into dst and records a type problem under path.
func decodeField[T any](v *ValidationError, path string, raw json.RawMessage, dst *T) {
	if err := json.Unmarshal(raw, dst); err != nil {
		var zero T
		v.add(path, "must be %s, got %s", jsonTypeName(zero), describeJSON(raw))
	}
}

// decodeInt reads a JSON integer in [lo, hi]; 1.5, "25" and 101 are problems.
func decodeInt(v *ValidationError, path string, raw json.RawMessage, lo, hi int64) int {
	var n json.Number
	trimmed := bytes.TrimSpace(raw)
	// json.Number also accepts a quoted number ("25"); the tutorial's JSON
	// form has a number here, so a string is a type problem.
	if len(trimmed) == 0 || trimmed[0] == '"' || json.Unmarshal(trimmed, &n) != nil {
		v.add(path, "must be an integer from %d to %d, got %s", lo, hi, describeJSON(raw))
		return 0
	}
	i, err := n.Int64()
	if err != nil || i < lo || i > hi {
		v.add(path, "must be an integer from %d to %d, got %s", lo, hi, n)
		return 0
	}
	return int(i)
}

func strictDecode(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case bool:
		return "true or false"
	case string:
		return "a string"
	case []string:
		return "an array of strings"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func describeJSON(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
