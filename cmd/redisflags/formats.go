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
)

// fileFormat reads and writes flag definitions in one file format. Import
// and export look formats up by name (--format); adding one is adding an
// entry to formats. Decode or Encode may be nil for a format that can only
// be imported (a vendor's export, say) or only exported.
type fileFormat struct {
	Name string
	// Doc is one line for the usage text.
	Doc string
	// Decode returns every definition in data, validated; a problem is an
	// error naming the flag (and its position) and the field. All of the
	// file's problems are reported at once: nothing is written unless every
	// definition is valid.
	Decode func(data []byte) ([]evaluator.Flag, error)
	// Encode writes flags (sorted by key) to w.
	Encode func(w io.Writer, flags []evaluator.Flag) error
}

// formats are the known file formats, by name.
var formats = []fileFormat{
	{
		Name:   "tutorial",
		Doc:    `the tutorial's JSON: {"flags": [definition, …]}, a bare array of definitions, or one definition`,
		Decode: decodeTutorial,
		Encode: func(w io.Writer, flags []evaluator.Flag) error { return writeIndentedJSON(w, newFlagList(flags, nil)) },
	},
}

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

func formatDocs() string {
	var b strings.Builder
	for _, f := range formats {
		fmt.Fprintf(&b, "\n  %-10s %s", f.Name, f.Doc)
	}
	return b.String()
}

// decodeTutorial reads the tutorial JSON forms. Each definition goes through
// evaluator.ParseFlag, so problems name fields exactly as the HTTP API does;
// duplicate keys are a problem too.
func decodeTutorial(data []byte) ([]evaluator.Flag, error) {
	trimmed := bytes.TrimSpace(data)
	var items []json.RawMessage
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("the file is empty")
	case trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, fmt.Errorf("not a JSON array of definitions: %w", err)
		}
	case trimmed[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		if list, ok := probe["flags"]; ok {
			if err := json.Unmarshal(list, &items); err != nil {
				return nil, fmt.Errorf("flags: not a JSON array of definitions: %w", err)
			}
		} else {
			items = []json.RawMessage{trimmed}
		}
	default:
		return nil, errors.New(`not the tutorial's JSON: expected {"flags": […]}, an array or one definition`)
	}
	var flags []evaluator.Flag
	var problems []error
	seen := map[string]int{}
	for i, raw := range items {
		f, err := evaluator.ParseFlag(raw, "")
		if err != nil {
			problems = append(problems, fmt.Errorf("flags[%d]: %w", i, err))
			continue
		}
		if j, dup := seen[f.Key]; dup {
			problems = append(problems, fmt.Errorf("flags[%d]: flag %q: flagKey: also at flags[%d]", i, f.Key, j))
			continue
		}
		seen[f.Key] = i
		flags = append(flags, f)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	slices.SortFunc(flags, func(a, b evaluator.Flag) int { return strings.Compare(a.Key, b.Key) })
	return flags, nil
}
