package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/redisflags/redisflags/evaluator"
)

// This file reads LaunchDarkly's server-side flag data field by field, so
// that every problem names its field ("rules[2].clauses[0].op"), and keeps
// what the translation needs in the ld* types below.

// ldIssues collects the problems of one flag or segment, with field paths
// relative to it.
type ldIssues struct {
	list  []Problem
	notes []Problem
	// warnings are the malformed parts of a flag (see malformed).
	warnings []Problem
}

// malformed records a part of the flag that LaunchDarkly's evaluator fails
// (MALFORMED_FLAG) when an evaluation reaches it; the part is imported as
// the evaluator's marker, and malformed returns the marker variant.
func (is *ldIssues) malformed(field, format string, args ...any) string {
	is.warnings = append(is.warnings, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	return evaluator.MalformedVariant
}

func (is *ldIssues) invalid(field, format string, args ...any) {
	is.list = append(is.list, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (is *ldIssues) unsupported(field, op, format string, args ...any) {
	is.list = append(is.list, Problem{Field: field, Operator: op, Unsupported: true, Message: fmt.Sprintf(format, args...)})
}

func (is *ldIssues) note(field, format string, args ...any) {
	is.notes = append(is.notes, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (is *ldIssues) hasInvalid() bool {
	for _, p := range is.list {
		if !p.Unsupported {
			return true
		}
	}
	return false
}

// ldObj is one JSON object of the data, read field by field.
type ldObj struct {
	m    map[string]json.RawMessage
	path string // "" at the flag or segment itself
	is   *ldIssues
}

// newLDObj decodes raw as an object; null or another type is a problem
// (and an empty object comes back).
func newLDObj(raw json.RawMessage, path string, is *ldIssues) (ldObj, bool) {
	o := ldObj{path: path, is: is}
	if err := json.Unmarshal(raw, &o.m); err != nil || o.m == nil {
		is.invalid(path, "must be a JSON object, got %s", brief(raw))
		return o, false
	}
	return o, true
}

func (o ldObj) field(name string) string {
	if o.path == "" {
		return name
	}
	return o.path + "." + name
}

// raw returns a field that is present and not null.
func (o ldObj) raw(name string) (json.RawMessage, bool) {
	r, ok := o.m[name]
	if !ok || ldNull(r) {
		return nil, false
	}
	return r, true
}

func (o ldObj) str(name string) (string, bool) {
	r, ok := o.raw(name)
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		o.is.invalid(o.field(name), "must be a string, got %s", brief(r))
		return "", false
	}
	return s, true
}

func (o ldObj) boolean(name string) bool {
	r, ok := o.raw(name)
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(r, &b); err != nil {
		o.is.invalid(o.field(name), "must be true or false, got %s", brief(r))
	}
	return b
}

// integer reads a whole JSON number that fits an int.
func (o ldObj) integer(name string) (int, bool) {
	r, ok := o.raw(name)
	if !ok {
		return 0, false
	}
	n, ok := wholeNumber(r)
	if !ok {
		o.is.invalid(o.field(name), "must be a whole number, got %s", brief(r))
	}
	return n, ok
}

func wholeNumber(r json.RawMessage) (int, bool) {
	t := bytes.TrimSpace(r)
	if len(t) == 0 || t[0] == '"' {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(t, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func (o ldObj) strs(name string) []string {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var out []string
	if err := json.Unmarshal(r, &out); err != nil {
		o.is.invalid(o.field(name), "must be an array of strings, got %s", brief(r))
		return nil
	}
	return out
}

// objs reads an array of objects; a bad element is a problem and left out.
func (o ldObj) objs(name string) []ldObj {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(r, &items); err != nil {
		o.is.invalid(o.field(name), "must be an array of objects, got %s", brief(r))
		return nil
	}
	out := make([]ldObj, 0, len(items))
	for i, it := range items {
		if e, ok := newLDObj(it, fmt.Sprintf("%s[%d]", o.field(name), i), o.is); ok {
			out = append(out, e)
		}
	}
	return out
}

func (o ldObj) obj(name string) (ldObj, bool) {
	r, ok := o.raw(name)
	if !ok {
		return ldObj{}, false
	}
	return newLDObj(r, o.field(name), o.is)
}

// values reads an array of any JSON values, numbers as float64 (as
// LaunchDarkly holds them).
func (o ldObj) values(name string) []any {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var out []any
	if err := json.Unmarshal(r, &out); err != nil {
		o.is.invalid(o.field(name), "must be an array, got %s", brief(r))
		return nil
	}
	return out
}

// rawValues reads an array keeping each element's JSON text.
func (o ldObj) rawValues(name string) []json.RawMessage {
	r, ok := o.raw(name)
	if !ok {
		return nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(r, &out); err != nil {
		o.is.invalid(o.field(name), "must be an array, got %s", brief(r))
		return nil
	}
	return out
}

// ldNull reports whether raw is absent or JSON null.
func ldNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func brief(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	if s == "" {
		s = "nothing"
	}
	return s
}

// ldObjects reads an object of key → object (the "flags" and "segments"
// of the data), keys sorted.
func ldObjects(raw json.RawMessage, field string, is *ldIssues) (map[string]json.RawMessage, []string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		is.invalid(field, "must be an object of key → %s, got %s", field, brief(raw))
		return nil, nil
	}
	return m, slices.Sorted(maps.Keys(m))
}
