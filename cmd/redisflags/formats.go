package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

// fileFormat reads and writes flag definitions in one file format. Import
// and export look formats up by name (--format); adding one is adding an
// entry to formats. Decode or Encode may be nil for a format that can only
// be imported (a vendor's export, say) or only exported. A format with
// Detect ("auto") names the format of the data instead of reading it.
type fileFormat struct {
	Name string
	// Doc is one line for the usage text.
	Doc string
	// Decode returns every definition in data, validated; a problem is an
	// error naming the flag (and its position) and the field. All of the
	// file's problems are reported at once: nothing is written unless every
	// definition is valid.
	Decode func(data []byte, opts importOptions) (decoded, error)
	// Encode writes flags (sorted by key) to w.
	Encode func(w io.Writer, flags []evaluator.Flag) error
	// Detect returns the name of the format data is in, for "auto".
	Detect func(data []byte) (string, error)
	// SkipUnsupported and Environment say whether Decode honours
	// importOptions.SkipUnsupported and importOptions.Environment; the
	// command refuses them for a format that would ignore them.
	SkipUnsupported, Environment bool
}

// importOptions are the import options a format's Decode may take. Skip
// applies to every format; the others only where fileFormat says so.
type importOptions struct {
	// Skip are flag keys left out of the import, unchecked (--skip).
	Skip []string
	// SkipUnsupported leaves out the flags that use what redisflags cannot
	// reproduce instead of failing the import (--skip-unsupported).
	SkipUnsupported bool
	// Environment imports the flags into this one environment; "" for
	// every environment (--environment).
	Environment string
}

// decoded is what a format's Decode returns.
type decoded struct {
	// Flags are the definitions to write, sorted by key.
	Flags []evaluator.Flag
	// Report are lines for the person importing, printed before the
	// summary: flags left out and why, notes on what was dropped.
	Report []string
}

// formats are the known file formats, by name.
var formats = []fileFormat{
	{
		Name:   "tutorial",
		Doc:    `the tutorial's JSON: {"flags": [definition, …]}, a bare array of definitions, or one definition`,
		Decode: decodeTutorial,
		Encode: func(w io.Writer, flags []evaluator.Flag) error { return writeIndentedJSON(w, newFlagList(flags, nil)) },
	},
	{
		Name:   "native",
		Doc:    `redisflags' JSON as importer.Export writes it: a bare array of definitions (reads the tutorial's forms too)`,
		Decode: decodeNative,
		Encode: encodeNative,
	},
	{
		Name:   string(importer.FormatSpec),
		Doc:    `the OpenFeature spec's test flags: {key: {variants, defaultVariant, disabled, contextEvaluator (CEL), flagMetadata}} (import only)`,
		Decode: decodeSpec,
	},
	{
		Name:   string(importer.FormatFlagd),
		Doc:    `flagd's flag definitions: {"flags": {key: {state, variants, defaultVariant, targeting (JSON Logic)}}, "$evaluators": …} (import only)`,
		Decode: decodeFlagd,
	},
	{
		Name:            string(importer.FormatLaunchDarkly),
		Doc:             `LaunchDarkly's server-side flag data: {"flags": {…}, "segments": {…}, "flagValues": {…}} (import only; --skip-unsupported, --environment)`,
		Decode:          decodeLaunchDarkly,
		SkipUnsupported: true,
		Environment:     true,
	},
	{
		Name:   "auto",
		Doc:    `whichever of the formats above the file's shape shows; the format found is printed (import only)`,
		Detect: detectFormat,
	},
}

// lookupFormat returns the format called name, or an error listing the
// known ones.
func lookupFormat(name string) (fileFormat, error) {
	for _, f := range formats {
		if f.Name == name {
			return f, nil
		}
	}
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.Name
	}
	return fileFormat{}, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(names, ", "))
}

// formatDocs is the formats part of the import and export usage text.
func formatDocs() string {
	var b strings.Builder
	for _, f := range formats {
		fmt.Fprintf(&b, "\n  %-16s %s", f.Name, f.Doc)
	}
	return b.String()
}

// checkOptions refuses the options ff would ignore, naming the formats that
// take them.
func checkOptions(ff fileFormat, opts importOptions) error {
	takers := func(takes func(fileFormat) bool) string {
		var names []string
		for _, f := range formats {
			if takes(f) {
				names = append(names, f.Name)
			}
		}
		return strings.Join(names, ", ")
	}
	if opts.SkipUnsupported && !ff.SkipUnsupported {
		return fmt.Errorf("--skip-unsupported applies to --format %s only, not %s (use --skip KEY,… to leave flags out)",
			takers(func(f fileFormat) bool { return f.SkipUnsupported }), ff.Name)
	}
	if opts.Environment != "" && !ff.Environment {
		return fmt.Errorf("--environment applies to --format %s only, not %s (its flags apply to every environment)",
			takers(func(f fileFormat) bool { return f.Environment }), ff.Name)
	}
	return nil
}

// notTutorial explains an object of flags given to the tutorial's reader:
// that is another format's shape, named when importer.Detect knows it.
func notTutorial(data []byte) error {
	hint := "--format launchdarkly|flagd|openfeature-spec, or --format auto"
	if f, err := importer.Detect(data); err == nil && f != importer.FormatNative {
		hint = fmt.Sprintf("--format %s (it looks like %s data), or --format auto", f, f)
	}
	return fmt.Errorf(`flags: an object of flags, not the tutorial's array of definitions: give %s`, hint)
}

// decodeTutorial reads the tutorial JSON forms. Each definition goes through
// evaluator.ParseFlag, so problems name fields exactly as the HTTP API does;
// duplicate keys are a problem too. Flags in opts.Skip are left out, their
// problems unreported.
func decodeTutorial(data []byte, opts importOptions) (decoded, error) {
	trimmed := bytes.TrimSpace(data)
	var items []json.RawMessage
	switch {
	case len(trimmed) == 0:
		return decoded{}, errors.New("the file is empty")
	case trimmed[0] == '[':
		if err := json.Unmarshal(data, &items); err != nil {
			return decoded{}, fmt.Errorf("not a JSON array of definitions: %w", importer.JSONPosition(data, err))
		}
	case trimmed[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(data, &probe); err != nil {
			return decoded{}, fmt.Errorf("not JSON: %w", importer.JSONPosition(data, err))
		}
		if list, ok := probe["flags"]; ok {
			if l := bytes.TrimSpace(list); len(l) > 0 && l[0] == '{' {
				return decoded{}, notTutorial(data)
			}
			if err := json.Unmarshal(list, &items); err != nil {
				return decoded{}, fmt.Errorf("flags: not a JSON array of definitions: %w", err)
			}
		} else {
			items = []json.RawMessage{trimmed}
		}
	default:
		return decoded{}, errors.New(`not the tutorial's JSON: expected {"flags": […]}, an array or one definition`)
	}
	var out decoded
	var problems []error
	seen := map[string]int{}
	for i, raw := range items {
		f, err := evaluator.ParseFlag(raw, "")
		if err != nil {
			var ve *evaluator.ValidationError
			if errors.As(err, &ve) && slices.Contains(opts.Skip, ve.Flag) {
				continue
			}
			problems = append(problems, fmt.Errorf("flags[%d]: %w", i, err))
			continue
		}
		if slices.Contains(opts.Skip, f.Key) {
			continue
		}
		if j, dup := seen[f.Key]; dup {
			problems = append(problems, fmt.Errorf("flags[%d]: flag %q: flagKey: also at flags[%d]", i, f.Key, j))
			continue
		}
		seen[f.Key] = i
		out.Flags = append(out.Flags, f)
	}
	if len(problems) > 0 {
		return decoded{}, errors.Join(problems...)
	}
	slices.SortFunc(out.Flags, func(a, b evaluator.Flag) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
