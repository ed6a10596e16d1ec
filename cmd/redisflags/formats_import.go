package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

// This file holds the formats read by the importer package: redisflags'
// native JSON, the OpenFeature spec's test flags, flagd's definitions and
// LaunchDarkly's flag data, and "auto", which tells them apart.

// decodeNative reads redisflags' native JSON with importer.ImportNative.
func decodeNative(data []byte, opts importOptions) (decoded, error) {
	flags, err := importer.ImportNative(data, importer.WithSkip(opts.Skip...))
	if err != nil {
		return decoded{}, newProblemsError(err, "")
	}
	return decoded{Flags: flags}, nil
}

// encodeNative writes flags as importer.Export does.
func encodeNative(w io.Writer, flags []evaluator.Flag) error {
	b, err := importer.Export(flags)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// skipHint is the hint under the unsupported problems of a format without
// --skip-unsupported.
const skipHint = "--skip KEY,… leaves these flags out and imports the others"

// decodeSpec reads the OpenFeature spec's test-flag format with
// importer.ImportSpec.
func decodeSpec(data []byte, opts importOptions) (decoded, error) {
	flags, err := importer.ImportSpec(data, importer.WithSkip(opts.Skip...))
	if err != nil {
		return decoded{}, newProblemsError(err, skipHint)
	}
	return decoded{Flags: flags}, nil
}

// decodeFlagd reads flagd's flag definitions with importer.ImportFlagd.
func decodeFlagd(data []byte, opts importOptions) (decoded, error) {
	flags, err := importer.ImportFlagd(data, importer.WithSkip(opts.Skip...))
	if err != nil {
		return decoded{}, newProblemsError(err, skipHint)
	}
	return decoded{Flags: flags}, nil
}

// decodeLaunchDarkly reads LaunchDarkly's server-side flag data with
// importer.LaunchDarkly. A flag that uses what redisflags cannot reproduce
// fails the import, listed with what it uses, unless opts.SkipUnsupported;
// then the report names each flag left out (and why) and the importer's
// notes. Malformed flags are imported; the report gives a warning per
// malformed part (flag and field) and their count.
func decodeLaunchDarkly(data []byte, opts importOptions) (decoded, error) {
	ldOpts := []importer.LDOption{importer.LDSkip(opts.Skip...)}
	if opts.SkipUnsupported {
		ldOpts = append(ldOpts, importer.LDSkipUnsupported())
	}
	if opts.Environment != "" {
		ldOpts = append(ldOpts, importer.LDEnvironment(opts.Environment))
	}
	res, err := importer.LaunchDarkly(data, ldOpts...)
	if err != nil {
		return decoded{}, newProblemsError(err, "--skip-unsupported leaves these flags out and imports the others")
	}
	out := decoded{Flags: res.Flags}
	deleted := map[string]bool{}
	for _, key := range res.Skipped {
		var why string
		switch {
		case slices.Contains(opts.Skip, key):
			why = "--skip"
		case len(res.Unsupported[key]) > 0:
			var uses []string
			for _, p := range res.Unsupported[key] {
				p.Flag = ""
				uses = append(uses, p.String())
			}
			why = "--skip-unsupported: it uses " + strings.Join(uses, "; ")
		default:
			why = "deleted in LaunchDarkly"
			deleted[key] = true
		}
		out.Report = append(out.Report, fmt.Sprintf("skipped %q: %s", key, why))
	}
	for _, n := range res.Notes {
		if n.Field == "" && deleted[n.Flag] {
			continue // said above
		}
		out.Report = append(out.Report, "note: "+n.String())
	}
	if len(res.Warnings) > 0 {
		flags := map[string]bool{}
		for _, w := range res.Warnings {
			flags[w.Flag] = true
			out.Report = append(out.Report, "warning: "+w.String())
		}
		out.Report = append(out.Report, fmt.Sprintf("%d %s in %d %s, imported as malformed: an evaluation that reaches one answers the caller's default with PARSE_ERROR, as LaunchDarkly answers MALFORMED_FLAG",
			len(res.Warnings), plural(len(res.Warnings), "malformed part", "malformed parts"), len(flags), plural(len(flags), "flag", "flags")))
	}
	return out, nil
}

// problemsError is an import that failed in the importer package: its
// *importer.Error (errors.As finds it) shown one problem a line, the
// unsupported ones apart under a hint saying how to import the rest.
type problemsError struct {
	err  *importer.Error
	hint string
}

// newProblemsError wraps an importer error for the command's output; an
// error that is not an *importer.Error is returned as it is.
func newProblemsError(err error, hint string) error {
	var ie *importer.Error
	if !errors.As(err, &ie) {
		return err
	}
	return &problemsError{err: ie, hint: hint}
}

// Error lists the invalid problems, then the unsupported ones under their
// hint (when there is one).
func (e *problemsError) Error() string {
	var invalid, unsupported []string
	for _, p := range e.err.Problems {
		if p.Unsupported {
			unsupported = append(unsupported, p.String())
		} else {
			invalid = append(invalid, p.String())
		}
	}
	var b strings.Builder
	b.WriteString(strings.Join(invalid, "\n"))
	if len(unsupported) > 0 {
		if len(invalid) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("flags that use what redisflags cannot reproduce exactly")
		if e.hint != "" {
			b.WriteString(" (" + e.hint + ")")
		}
		b.WriteString(":\n  ")
		b.WriteString(strings.Join(unsupported, "\n  "))
	}
	return b.String()
}

// Unwrap returns the *importer.Error, which wraps importer.ErrInvalid
// and/or importer.ErrUnsupported.
func (e *problemsError) Unwrap() error { return e.err }

// detectFormat names the format of data for "auto" (importer.Detect), by
// the names of formats.
func detectFormat(data []byte) (string, error) {
	f, err := importer.Detect(data)
	if err != nil {
		return "", err
	}
	if f == importer.FormatNative {
		return "tutorial", nil
	}
	return string(f), nil
}

// plural picks the singular or plural form for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
