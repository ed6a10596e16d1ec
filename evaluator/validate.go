package evaluator

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every [*ValidationError]; test for it with
// errors.Is.
var ErrInvalid = errors.New("invalid flag definition")

// MaxNameLength is the longest flag key or environment name allowed.
const MaxNameLength = 128

// FieldError is one problem found in a definition.
type FieldError struct {
	// Field is the path of the field in the JSON form, such as
	// "environments.production.rolloutPercent".
	Field string
	// Message says what is wrong, for a person.
	Message string
}

// String is "field: message".
func (e FieldError) String() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem found in one flag definition. Its Flag
// is the flag key as given (possibly empty or itself invalid).
type ValidationError struct {
	// Flag is the flag key as given.
	Flag string
	// Problems are the problems found, in the order of the fields.
	Problems []FieldError
}

// Error lists the flag and every problem.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flag %q: ", e.Flag)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func (e *ValidationError) add(field, format string, args ...any) {
	e.Problems = append(e.Problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (e *ValidationError) orNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// ValidName reports whether s can be a flag key or an environment name: 1–128
// characters, each a letter, a digit, '.', '_' or '-', and not "." or ".."
// (HTTP routes clean those away as path segments). Keys never contain ':'
// so that the Redis key layout stays unambiguous.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLength || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func nameProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxNameLength:
		return fmt.Sprintf("is %d characters long; the limit is %d", len(s), MaxNameLength)
	case s == "." || s == "..":
		return fmt.Sprintf("%q is a path segment of its own in URLs, so it cannot name a flag or an environment", s)
	default:
		return fmt.Sprintf("%q may hold only letters, digits, '.', '_' and '-'", s)
	}
}

// Validate checks a definition and returns a *ValidationError listing every
// problem, each naming its field, or nil when the definition is valid.
func Validate(f Flag) error {
	v := validate(f)
	if f.IsVariantFlag() {
		compileVariants(v, &f)
	}
	return v.orNil()
}

// validate checks everything but the compiled parts of a variant flag
// (rules, splits, variant values, metadata), which compileVariants checks
// as it builds them.
func validate(f Flag) *ValidationError {
	v := &ValidationError{Flag: f.Key}
	validateRich(v, f)
	if !ValidName(f.Key) {
		v.add("flagKey", "%s", nameProblem(f.Key))
	}
	for _, name := range f.EnvironmentNames() {
		env := f.Environments[name]
		// path is built only for an environment that has a problem or a
		// rollout: a load validates every environment of every flag.
		if envFine(&f, name, &env) {
			continue
		}
		path := "environments." + name
		if !ValidName(name) {
			v.add(path, "environment name %s", nameProblem(name))
		}
		if env.RolloutPercent < 0 || env.RolloutPercent > 100 {
			v.add(path+".rolloutPercent", "must be an integer from 0 to 100, got %d", env.RolloutPercent)
		}
		if len(env.Value) > 0 && !json.Valid(env.Value) {
			v.add(path+".value", "is not valid JSON")
		}
		for i, u := range env.AllowlistUsers {
			if u == "" {
				v.add(fmt.Sprintf("%s.allowlistUsers[%d]", path, i), "must not be empty")
			}
		}
		for i, r := range env.AllowlistRegions {
			if r == "" {
				v.add(fmt.Sprintf("%s.allowlistRegions[%d]", path, i), "must not be empty")
			}
		}
		validateRollout(v, &f, path, &env)
		if f.IsVariantFlag() {
			if len(env.AllowlistUsers) > 0 || len(env.AllowlistRegions) > 0 {
				v.add(path, "a variant flag targets users and regions with rules, not allowlists")
			}
			if env.RolloutPercent != 0 {
				v.add(path+".rolloutPercent", "a variant flag rolls out with a split, not rolloutPercent")
			}
			if env.HasValue() {
				v.add(path+".value", "a variant flag serves its variants' values, not an environment value")
			}
		}
	}
	return v
}

// envFine reports, cheaply, that the environment has none of the problems
// validate looks for, so that validate can skip it.
func envFine(f *Flag, name string, env *Environment) bool {
	if !ValidName(name) || env.RolloutPercent < 0 || env.RolloutPercent > 100 || env.Rollout != nil {
		return false
	}
	if len(env.Value) > 0 && !json.Valid(env.Value) {
		return false
	}
	for _, u := range env.AllowlistUsers {
		if u == "" {
			return false
		}
	}
	for _, r := range env.AllowlistRegions {
		if r == "" {
			return false
		}
	}
	return !f.IsVariantFlag()
}

// validateRich checks the rich fields that apply to every flag.
func validateRich(v *ValidationError, f Flag) {
	if _, err := ParseScheme(f.Bucketing); err != nil {
		v.add("bucketing", "%v", err)
	}
	if f.ExpiresAt != "" {
		if _, err := ParseExpiry(f.ExpiresAt); err != nil {
			v.add("expiresAt", "%v", err)
		}
	}
	if !f.IsVariantFlag() {
		for _, x := range []struct {
			set  bool
			name string
		}{
			{f.DefaultVariant != "", "defaultVariant"},
			{f.OffVariant != "", "offVariant"},
			{len(f.Rules) > 0, "rules"},
			{f.Split != nil, "split"},
			{len(f.Prerequisites) > 0, "prerequisites"},
			{len(f.Targets) > 0, "targets"},
			{len(f.Segments) > 0, "segments"},
			{f.Salt != "", "salt"},
			{f.Semantics != "", "semantics"},
			{f.Bucketing == BucketLaunchDarkly, "bucketing"},
		} {
			if x.set {
				v.add(x.name, "needs variants: only a variant flag has it")
			}
		}
		compileMetadata(v, f.Metadata)
	}
}

// ParseExpiry reads a kill date: an RFC 3339 date-time, or a date
// ("2026-12-31", meaning its first instant in UTC).
func ParseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2026-12-31) nor an RFC 3339 date-time", s)
	}
	return t, nil
}
