package importer

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
)

// The conditions of a flagd targeting: what an "if" tests.

// cond translates a condition (something whose truth an "if" tests).
func (t *translator) cond(expr any, path string, depth int) pred {
	if depth > maxNesting {
		t.invalid(path, "", "nests deeper than %d levels", maxNesting)
		return constant(false)
	}
	switch x := expr.(type) {
	case nil:
		return constant(false)
	case bool:
		return constant(x)
	case string:
		return constant(x != "")
	case json.Number:
		f, _ := x.Float64()
		return constant(f != 0 && !math.IsNaN(f))
	case []any:
		return constant(len(x) > 0)
	}
	op, args, ok := t.operation(expr, path)
	if !ok {
		return constant(false)
	}
	opPath := path + "." + op
	list := asList(args)
	switch op {
	case "$ref":
		body, ok := t.ref(args, path)
		if !ok {
			return constant(false)
		}
		defer func() { t.refDepth-- }()
		return t.cond(body, path+".$ref", depth+1)
	case "and", "or":
		if len(list) == 0 {
			t.invalid(opPath, op, "needs at least one argument")
			return constant(false)
		}
		ps := make([]pred, len(list))
		for i, a := range list {
			ps[i] = t.cond(a, fmt.Sprintf("%s[%d]", opPath, i), depth+1)
		}
		return combine(op == "and", ps)
	case "!", "!!":
		if len(list) != 1 {
			t.invalid(opPath, op, "takes one argument")
			return constant(false)
		}
		p := t.cond(list[0], opPath+"[0]", depth+1)
		if op == "!" {
			return notPred(p)
		}
		return p
	case "==", "!=", "===", "!==":
		if len(list) != 2 {
			t.invalid(opPath, op, "takes two arguments")
			return constant(false)
		}
		return t.equality(op, list[0], list[1], opPath)
	case "<", "<=", ">", ">=":
		switch {
		case len(list) == 2:
			return t.order(op, list[0], list[1], opPath)
		case len(list) == 3 && (op == "<" || op == "<="):
			// JSON Logic's "between": a < b < c.
			return combine(true, []pred{t.order(op, list[0], list[1], opPath), t.order(op, list[1], list[2], opPath)})
		}
		t.invalid(opPath, op, "takes two arguments (or three for between, with < and <=)")
		return constant(false)
	case "in":
		if len(list) != 2 {
			t.invalid(opPath, op, "takes two arguments")
			return constant(false)
		}
		return t.in(list[0], list[1], opPath)
	case "starts_with", "ends_with":
		if len(list) != 2 {
			t.invalid(opPath, op, "takes two arguments")
			return constant(false)
		}
		return t.affix(op, list[0], list[1], opPath)
	case "sem_ver":
		if len(list) != 3 {
			t.invalid(opPath, op, "takes three arguments: a version, an operator and a version")
			return constant(false)
		}
		return t.semver(list, opPath)
	case "var":
		t.unsupported(opPath, op, "testing an attribute's truthiness has no redisflags counterpart; compare it instead (== true, != null)")
		return constant(false)
	}
	t.unsupported(opPath, op, "has no redisflags counterpart in a condition")
	return constant(false)
}

// operand is one side of a comparison: a context attribute or a literal.
type operand struct {
	attr    string // the attribute, when not a literal
	literal any
	isAttr  bool
}

// operand reads a comparison operand: {"var": name} or a literal.
// "$flagd.flagKey" is folded into the flag key.
func (t *translator) operand(v any, path string) (operand, bool) {
	m, isMap := v.(map[string]any)
	if !isMap {
		return operand{literal: v}, true
	}
	op, args, ok := t.operation(m, path)
	if !ok {
		return operand{}, false
	}
	switch op {
	case "$ref":
		body, ok := t.ref(args, path)
		if !ok {
			return operand{}, false
		}
		defer func() { t.refDepth-- }()
		return t.operand(body, path+".$ref")
	case "var":
	default:
		t.unsupported(path, op, "computes a value; a comparison may only use a context attribute ({\"var\": name}) or a literal")
		return operand{}, false
	}
	list := asList(args)
	if len(list) > 1 {
		t.unsupported(path, "var", "a default value for a missing attribute has no redisflags counterpart")
		return operand{}, false
	}
	name, ok := list[0].(string)
	if !ok || name == "" {
		t.unsupported(path, "var", "must name a context attribute (a non-empty string)")
		return operand{}, false
	}
	switch {
	case name == "$flagd.flagKey":
		return operand{literal: t.flag}, true
	case name == "$flagd.timestamp":
		// The evaluation time, which flags following flagd read (see
		// evaluator.SemanticsFlagd).
		return operand{attr: evaluator.FlagdTimestamp, isAttr: true}, true
	case strings.HasPrefix(name, "$flagd."):
		t.unsupported(path, "var "+name, "unknown flagd property")
		return operand{}, false
	}
	return operand{attr: name, isAttr: true}, true
}

// scalar reports whether v is a JSON string, number or bool.
func scalar(v any) bool {
	switch v.(type) {
	case string, bool, json.Number:
		return true
	}
	return false
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// equality translates ==, !=, === and !==. Equality is typed, as redisflags
// compares: a string never equals a number (see the package documentation).
func (t *translator) equality(op string, a, b any, path string) pred {
	x, ok1 := t.operand(a, path+"[0]")
	y, ok2 := t.operand(b, path+"[1]")
	if !ok1 || !ok2 {
		return constant(false)
	}
	negate := op == "!=" || op == "!=="
	var p pred
	switch {
	case x.isAttr && y.isAttr:
		t.unsupported(path, op, "compares two attributes; a redisflags condition compares an attribute with literals")
		return constant(false)
	case !x.isAttr && !y.isAttr:
		eq, ok := literalEqual(x.literal, y.literal)
		if !ok {
			t.unsupported(path, op, "compares literals of different types (%s and %s)", kind(x.literal), kind(y.literal))
			return constant(false)
		}
		p = constant(eq)
	default:
		if !x.isAttr {
			x, y = y, x
		}
		switch {
		case y.literal == nil:
			// null == attribute: the attribute is missing or null.
			p = notPred(leaf(x.attr, evaluator.OpExists))
		case scalar(y.literal):
			p = leaf(x.attr, evaluator.OpEquals, y.literal)
		default:
			t.unsupported(path, op, "compares with %s; only strings, numbers, bools and null compare", kind(y.literal))
			return constant(false)
		}
	}
	if negate {
		// JSON Logic's != holds for a missing attribute (null != "a"), and
		// so does the negation of a redisflags equals.
		return notPred(p)
	}
	return p
}

// literalEqual compares two literals of the same JSON type.
func literalEqual(a, b any) (bool, bool) {
	if a == nil || b == nil {
		return a == nil && b == nil, true
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return x == y, ok
	case bool:
		y, ok := b.(bool)
		return x == y, ok
	case json.Number:
		fx, _ := number(x)
		fy, ok := number(b)
		return fx == fy, ok
	}
	return false, false
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	}
	return "an object"
}

// order translates <, <=, > and >= between an attribute and a number.
//
// flagd's JSON Logic reads a missing (or null) attribute as 0 in these
// comparisons, but never as equal to anything: {"<": [{"var": "age"}, 18]}
// holds when age is missing, {"<=": [{"var": "age"}, 0]} does not. The
// translation keeps that: when 0 satisfies the strict comparison, a missing
// attribute satisfies the condition too.
func (t *translator) order(op string, a, b any, path string) pred {
	x, ok1 := t.operand(a, path)
	y, ok2 := t.operand(b, path)
	if !ok1 || !ok2 {
		return constant(false)
	}
	cmp := func(l, r float64) bool {
		switch op {
		case "<":
			return l < r
		case "<=":
			return l <= r
		case ">":
			return l > r
		}
		return l >= r
	}
	strict := func(l, r float64) bool {
		if op == "<" || op == "<=" {
			return l < r
		}
		return l > r
	}
	switch {
	case x.isAttr && y.isAttr:
		t.unsupported(path, op, "compares two attributes; a redisflags condition compares an attribute with a number")
		return constant(false)
	case !x.isAttr && !y.isAttr:
		l, okl := number(x.literal)
		r, okr := number(y.literal)
		if !okl || !okr {
			t.unsupported(path, op, "compares %s with %s; only numbers are supported", kind(x.literal), kind(y.literal))
			return constant(false)
		}
		return constant(cmp(l, r))
	}
	attr, lit, flipped := x.attr, y.literal, false
	if !x.isAttr {
		attr, lit, flipped = y.attr, x.literal, true
	}
	n, ok := number(lit)
	if !ok {
		t.unsupported(path, op, "compares an attribute with %s; redisflags compares numbers only", kind(lit))
		return constant(false)
	}
	// attribute OP n, or n OP attribute turned around.
	native := map[string]string{"<": evaluator.OpLT, "<=": evaluator.OpLTE, ">": evaluator.OpGT, ">=": evaluator.OpGTE}[op]
	holdsForMissing := strict(0, n)
	if flipped {
		native = map[string]string{"<": evaluator.OpGT, "<=": evaluator.OpGTE, ">": evaluator.OpLT, ">=": evaluator.OpLTE}[op]
		holdsForMissing = strict(n, 0)
	}
	p := leaf(attr, native, lit)
	if holdsForMissing {
		return combine(false, []pred{p, notPred(leaf(attr, evaluator.OpExists))})
	}
	return p
}

// in translates "in": an attribute in an array of literals, or a literal
// substring of a string attribute.
func (t *translator) in(a, b any, path string) pred {
	x, ok1 := t.operand(a, path+"[0]")
	if !ok1 {
		return constant(false)
	}
	if list, isList := b.([]any); isList {
		if len(list) == 0 {
			return constant(false)
		}
		for i, v := range list {
			if !scalar(v) {
				t.unsupported(fmt.Sprintf("%s[1][%d]", path, i), "in", "%s in the array; only strings, numbers and bools are supported", kind(v))
				return constant(false)
			}
		}
		if !x.isAttr {
			for _, v := range list {
				if eq, ok := literalEqual(x.literal, v); ok && eq {
					return constant(true)
				}
			}
			return constant(false)
		}
		return leaf(x.attr, evaluator.OpIn, slices.Clone(list)...)
	}
	y, ok2 := t.operand(b, path+"[1]")
	if !ok2 {
		return constant(false)
	}
	switch {
	case x.isAttr && y.isAttr:
		t.unsupported(path, "in", "compares two attributes")
	case x.isAttr:
		t.unsupported(path, "in", "an attribute as a substring of a literal has no redisflags counterpart")
	case !y.isAttr:
		s, ok1 := x.literal.(string)
		h, ok2 := y.literal.(string)
		if !ok1 || !ok2 {
			t.unsupported(path, "in", "needs a string or an array to search")
			return constant(false)
		}
		return constant(strings.Contains(h, s))
	default:
		s, ok := x.literal.(string)
		if !ok {
			t.unsupported(path, "in", "searches a string attribute for %s; only a string is supported", kind(x.literal))
			return constant(false)
		}
		return leaf(y.attr, evaluator.OpContains, s)
	}
	return constant(false)
}

// affix translates flagd's starts_with and ends_with.
func (t *translator) affix(op string, a, b any, path string) pred {
	x, ok1 := t.operand(a, path+"[0]")
	y, ok2 := t.operand(b, path+"[1]")
	if !ok1 || !ok2 {
		return constant(false)
	}
	if y.isAttr {
		t.unsupported(path, op, "the second argument must be a literal string, not an attribute")
		return constant(false)
	}
	s, ok := y.literal.(string)
	if !ok {
		// flagd's starts_with/ends_with are false for a non-string.
		return constant(false)
	}
	if !x.isAttr {
		v, ok := x.literal.(string)
		if !ok {
			return constant(false)
		}
		if op == "starts_with" {
			return constant(strings.HasPrefix(v, s))
		}
		return constant(strings.HasSuffix(v, s))
	}
	native := evaluator.OpStartsWith
	if op == "ends_with" {
		native = evaluator.OpEndsWith
	}
	return leaf(x.attr, native, s)
}
