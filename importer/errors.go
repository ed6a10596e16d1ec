package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by an [*Error] that holds at least one problem with
// the input itself: JSON that does not parse, a field of the wrong type, a
// definition that fails evaluator validation.
var ErrInvalid = errors.New("invalid flag file")

// ErrUnsupported is wrapped by an [*Error] that holds at least one problem
// of the other kind: something valid in the source format that redisflags
// cannot express exactly (a JSON Logic operator it has no counterpart for,
// "$flagd.timestamp", a flag without a default variant).
var ErrUnsupported = errors.New("not supported by redisflags")

// Problem is one thing wrong with one flag of an imported file.
type Problem struct {
	// Flag is the flag key, or "" for a problem with the file as a whole.
	Flag string
	// Field is the path of the field in the source document, relative to
	// the flag: "defaultVariant", "targeting.if[0].and[1]". Empty for the
	// flag or file as a whole.
	Field string
	// Operator is the JSON Logic operator at fault, when one is: "cat",
	// "var $flagd.timestamp", "sem_ver ^".
	Operator string
	// Message says what is wrong, for a person.
	Message string
	// Unsupported is true when the input is valid in its own format but
	// redisflags cannot express it (see [ErrUnsupported]).
	Unsupported bool
}

// String is the problem as one line naming its flag and field.
func (p Problem) String() string {
	var b strings.Builder
	if p.Flag != "" {
		fmt.Fprintf(&b, "flag %q: ", p.Flag)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	if p.Operator != "" {
		fmt.Fprintf(&b, "operator %q: ", p.Operator)
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is returned by the importers when anything in the file cannot be
// imported. It lists every problem found, not only the first; when it is
// returned no flags are, so a caller writes nothing. Test for it with
// errors.As, and for its kind with errors.Is(err, ErrInvalid) or
// errors.Is(err, ErrUnsupported).
type Error struct {
	// Format is the format being imported.
	Format Format
	// Problems lists every problem, in document order per flag, flags by
	// key.
	Problems []Problem
}

// Error names the format and lists every problem.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import %s: ", e.Format)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalid and/or ErrUnsupported, by the kinds of the
// problems held.
func (e *Error) Unwrap() []error {
	var invalid, unsupported bool
	for _, p := range e.Problems {
		if p.Unsupported {
			unsupported = true
		} else {
			invalid = true
		}
	}
	var out []error
	if invalid {
		out = append(out, ErrInvalid)
	}
	if unsupported {
		out = append(out, ErrUnsupported)
	}
	return out
}

// problems collects the problems of one import.
type problems struct {
	list []Problem
}

func (ps *problems) invalid(flag, field, format string, args ...any) {
	ps.list = append(ps.list, Problem{Flag: flag, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) add(p Problem) { ps.list = append(ps.list, p) }

func (ps *problems) err(f Format) error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{Format: f, Problems: ps.list}
}

// JSONPosition adds the line and column (1-based, counted in data) to a
// syntax or type error that encoding/json reports for data, as an editor
// shows them (a syntax error at its offending byte); other errors are returned as they are.
func JSONPosition(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offset counts the offending byte

	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
