package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
)

// Format names a flag file format.
type Format string

// The formats the importers read.
const (
	// FormatNative is redisflags' own JSON form, the tutorial's: an array
	// of definitions (what [Export] writes), the tutorial's list response
	// {"flags": [definition, …]}, or a single definition.
	FormatNative Format = "native"
	// FormatSpec is the OpenFeature specification's test-flag format: an
	// object of flag key → {variants, defaultVariant, disabled,
	// contextEvaluator, flagMetadata}.
	FormatSpec Format = "openfeature-spec"
	// FormatFlagd is flagd's flag definition format: {"flags": {key →
	// {state, variants, defaultVariant, targeting, metadata}},
	// "$evaluators": …, "metadata": …}.
	FormatFlagd Format = "flagd"
)

// Option configures an import.
type Option func(*config)

type config struct {
	skip map[string]bool
}

// WithSkip leaves the named flags out of the import: they are neither
// translated nor checked, so a file whose other flags are fine imports even
// when these could not be. Default: none skipped. The keys are copied.
func WithSkip(keys ...string) Option {
	return func(c *config) {
		if c.skip == nil {
			c.skip = make(map[string]bool, len(keys))
		}
		for _, k := range keys {
			c.skip[k] = true
		}
	}
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Detect guesses the format of data: an array, or an object with a "flags"
// array, is native; an object of nothing but "flags", "segments" and
// "flagValues" whose flags have "variations" (or which has segments or flag
// values) is LaunchDarkly's; another object with a "flags" object is
// flagd's; any other object is the OpenFeature spec's.
func Detect(data []byte) (Format, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", fmt.Errorf("%w: the file is empty", ErrInvalid)
	}
	switch trimmed[0] {
	case '[':
		return FormatNative, nil
	case '{':
	default:
		return "", fmt.Errorf("%w: not a JSON object or array", ErrInvalid)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return "", fmt.Errorf("%w: not JSON: %v", ErrInvalid, err)
	}
	if flags, ok := top["flags"]; ok {
		if t := bytes.TrimSpace(flags); len(t) > 0 && t[0] == '[' {
			return FormatNative, nil
		}
	}
	if looksLikeLaunchDarkly(top) {
		return FormatLaunchDarkly, nil
	}
	if _, ok := top["flags"]; ok {
		return FormatFlagd, nil
	}
	if _, ok := top["flagKey"]; ok {
		return FormatNative, nil
	}
	return FormatSpec, nil
}

// looksLikeLaunchDarkly reports whether a top-level object is LaunchDarkly's
// flag data: no fields but "flags", "segments" and "flagValues", and
// segments, flag values or a flag with "variations" (flagd's flags have
// "variants").
func looksLikeLaunchDarkly(top map[string]json.RawMessage) bool {
	if len(top) == 0 {
		return false
	}
	for name := range top {
		if name != "flags" && name != "segments" && name != "flagValues" {
			return false
		}
	}
	if _, ok := top["segments"]; ok {
		return true
	}
	if _, ok := top["flagValues"]; ok {
		return true
	}
	var flags map[string]map[string]json.RawMessage
	if json.Unmarshal(top["flags"], &flags) != nil {
		return false
	}
	for _, f := range flags {
		if _, ok := f["variations"]; ok {
			return true
		}
	}
	return false
}

// Import reads data in the format [Detect] finds and returns its flags,
// sorted by key, with that format. LaunchDarkly's data is read by
// [LaunchDarkly] with its defaults (WithSkip becomes LDSkip); use
// [LaunchDarkly] itself for its other options and for the list of what is
// unsupported.
func Import(data []byte, opts ...Option) ([]evaluator.Flag, Format, error) {
	f, err := Detect(data)
	if err != nil {
		return nil, "", err
	}
	var flags []evaluator.Flag
	switch f {
	case FormatNative:
		flags, err = ImportNative(data, opts...)
	case FormatFlagd:
		flags, err = ImportFlagd(data, opts...)
	case FormatLaunchDarkly:
		cfg := newConfig(opts)
		var res *LDImport
		if res, err = LaunchDarkly(data, LDSkip(slices.Collect(maps.Keys(cfg.skip))...)); err == nil {
			flags = res.Flags
		}
	default:
		flags, err = ImportSpec(data, opts...)
	}
	return flags, f, err
}

// ImportNative reads redisflags' own JSON: an array of definitions (as
// [Export] writes it), the tutorial's list response {"flags": [definition,
// …]}, or one definition. Each definition goes through
// [evaluator.ParseFlag], so unknown fields and invalid values are problems
// named by field. The flags come back sorted by key.
func ImportNative(data []byte, opts ...Option) ([]evaluator.Flag, error) {
	cfg := newConfig(opts)
	var ps problems
	trimmed := bytes.TrimSpace(data)
	var items []json.RawMessage
	switch {
	case len(trimmed) == 0:
		ps.invalid("", "", "the file is empty")
	case trimmed[0] == '[':
		if err := json.Unmarshal(data, &items); err != nil {
			ps.invalid("", "", "not a JSON array of definitions: %v", JSONPosition(data, err))
		}
	case trimmed[0] == '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			ps.invalid("", "", "not JSON: %v", JSONPosition(data, err))
			break
		}
		list, ok := top["flags"]
		if !ok {
			items = []json.RawMessage{trimmed}
			break
		}
		if err := json.Unmarshal(list, &items); err != nil {
			ps.invalid("", "flags", "must be an array of definitions: %v", err)
		}
		for name, raw := range top {
			switch name {
			case "flags":
			case "errors":
				// The list response names stored flags that did not load;
				// importing it would silently drop them.
				var errs []string
				if json.Unmarshal(raw, &errs) != nil || len(errs) > 0 {
					ps.invalid("", "errors", "the list response reports flags that did not load, so it is incomplete: %s", bytes.TrimSpace(raw))
				}
			default:
				ps.invalid("", name, "is not a known field of the list response")
			}
		}
	default:
		ps.invalid("", "", "not the native JSON: expected an array of definitions, {\"flags\": […]} or one definition")
	}
	var flags []evaluator.Flag
	seen := map[string]int{}
	for i, raw := range items {
		f, err := evaluator.ParseFlag(raw, "")
		if err != nil {
			var ve *evaluator.ValidationError
			if errors.As(err, &ve) {
				if cfg.skip[ve.Flag] {
					continue
				}
				for _, p := range ve.Problems {
					ps.invalid(ve.Flag, fmt.Sprintf("[%d].%s", i, p.Field), "%s", p.Message)
				}
			} else {
				ps.invalid("", fmt.Sprintf("[%d]", i), "%v", err)
			}
			continue
		}
		if cfg.skip[f.Key] {
			continue
		}
		if j, dup := seen[f.Key]; dup {
			ps.invalid(f.Key, fmt.Sprintf("[%d].flagKey", i), "also defined at [%d]", j)
			continue
		}
		seen[f.Key] = i
		flags = append(flags, f)
	}
	if err := ps.err(FormatNative); err != nil {
		return nil, err
	}
	sortFlags(flags)
	return flags, nil
}

// Export writes flags in the native JSON form: an indented array of
// definitions sorted by key, which [ImportNative] reads back to the same
// definitions. updatedAt and version are written as the flags carry them (a
// store sets both again on write). flags is not modified.
func Export(flags []evaluator.Flag) ([]byte, error) {
	sorted := slices.Clone(flags)
	sortFlags(sorted)
	if sorted == nil {
		sorted = []evaluator.Flag{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sorted); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return b.Bytes(), nil
}

func sortFlags(flags []evaluator.Flag) {
	slices.SortFunc(flags, func(a, b evaluator.Flag) int { return strings.Compare(a.Key, b.Key) })
}

// validate runs evaluator validation on a translated flag and records its
// problems under the evaluator's field paths (which name redisflags'
// fields: "rules[0](contextEvaluator).cel"), saying so in the message.
func validate(ps *problems, f evaluator.Flag) bool {
	err := evaluator.Validate(f)
	if err == nil {
		return true
	}
	var ve *evaluator.ValidationError
	if !errors.As(err, &ve) {
		ps.invalid(f.Key, "", "%v", err)
		return false
	}
	for _, p := range ve.Problems {
		ps.invalid(f.Key, p.Field, "in the translated definition: %s", p.Message)
	}
	return false
}

// decodeJSON decodes data into dst keeping numbers exact (json.Number) and
// refusing trailing data.
func decodeJSON(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return JSONPosition(data, err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// compact returns raw without insignificant whitespace.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return slices.Clone(raw)
	}
	return b.Bytes()
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// decodeVariants reads a variants object (name → any JSON value) into the
// evaluator's form; null values are problems (a variant must serve a value).
func decodeVariants(ps *problems, flag, field string, raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		ps.invalid(flag, field, "must be an object of variant name → value")
		return nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if isNull(m[name]) {
			ps.add(Problem{Flag: flag, Field: field + "." + name, Unsupported: true,
				Message: "a null variant value cannot be served; redisflags variants hold JSON values"})
			continue
		}
		out[name] = compact(m[name])
	}
	return out
}

// decodeMetadata reads flag metadata (string, number or bool values).
func decodeMetadata(ps *problems, flag, field string, raw json.RawMessage) map[string]any {
	if isNull(raw) {
		return nil
	}
	var m map[string]any
	if err := decodeJSON(raw, &m); err != nil {
		ps.invalid(flag, field, "must be an object of strings, numbers and bools")
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch m[k].(type) {
		case string, bool, json.Number:
		default:
			ps.invalid(flag, field+"."+k, "must be a string, number or bool")
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
