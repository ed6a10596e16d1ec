package evaluator

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// cond is a compiled Condition: operator resolved, values decoded per type,
// regexps and versions parsed. Immutable.
type cond struct {
	kind    condKind
	attr    string
	subject bool // attr names the subject
	op      opCode

	strs  stringSet // string operands of equals/in
	list  []string  // string operands of startsWith/endsWith/contains
	nums  []float64 // number operands
	bools [2]bool   // bools[0]: false is an operand; bools[1]: true is
	re    *regexp.Regexp
	ver   semver

	children []cond // all, any
	not      *cond
}

type condKind uint8

const (
	condLeaf condKind = iota
	condAll
	condAny
	condNot
)

type opCode uint8

const (
	opEquals opCode = iota + 1
	opNotEquals
	opIn
	opNotIn
	opStartsWith
	opEndsWith
	opContains
	opMatches
	opLT
	opLTE
	opGT
	opGTE
	opSemverEq
	opSemverLT
	opSemverLTE
	opSemverGT
	opSemverGTE
	opExists
)

// operandKind says what Values an operator takes.
type operandKind uint8

const (
	operandsScalars operandKind = iota // one or more strings, numbers or bools
	operandScalar                      // exactly one string, number or bool
	operandsStrings                    // one or more strings
	operandRegexp                      // exactly one RE2 regexp
	operandNumber                      // exactly one number
	operandSemver                      // exactly one semantic version
	operandNone                        // no values
)

var operators = map[string]struct {
	code     opCode
	operands operandKind
}{
	OpEquals:     {opEquals, operandScalar},
	OpNotEquals:  {opNotEquals, operandScalar},
	OpIn:         {opIn, operandsScalars},
	OpNotIn:      {opNotIn, operandsScalars},
	OpStartsWith: {opStartsWith, operandsStrings},
	OpEndsWith:   {opEndsWith, operandsStrings},
	OpContains:   {opContains, operandsStrings},
	OpMatches:    {opMatches, operandRegexp},
	OpLT:         {opLT, operandNumber},
	OpLTE:        {opLTE, operandNumber},
	OpGT:         {opGT, operandNumber},
	OpGTE:        {opGTE, operandNumber},
	OpSemverEq:   {opSemverEq, operandSemver},
	OpSemverLT:   {opSemverLT, operandSemver},
	OpSemverLTE:  {opSemverLTE, operandSemver},
	OpSemverGT:   {opSemverGT, operandSemver},
	OpSemverGTE:  {opSemverGTE, operandSemver},
	OpExists:     {opExists, operandNone},
}

// maxConditionDepth bounds nesting so that a hostile definition cannot
// exhaust the stack.
const maxConditionDepth = 32

// compileCondition checks c and compiles it; problems go to v under path.
func compileCondition(v *ValidationError, path string, c Condition, depth int) cond {
	if depth > maxConditionDepth {
		v.add(path, "nests deeper than %d levels", maxConditionDepth)
		return cond{}
	}
	forms := 0
	if c.Op != "" || c.Attribute != "" || c.Values != nil {
		forms++
	}
	if c.All != nil {
		forms++
	}
	if c.Any != nil {
		forms++
	}
	if c.Not != nil {
		forms++
	}
	if forms != 1 {
		v.add(path, "must be exactly one of a leaf (attribute, op, values), all, any or not")
		return cond{}
	}
	switch {
	case c.All != nil || c.Any != nil:
		kind, list, name := condAll, c.All, "all"
		if c.Any != nil {
			kind, list, name = condAny, c.Any, "any"
		}
		if len(list) == 0 {
			v.add(path+"."+name, "must hold at least one condition")
		}
		out := cond{kind: kind, children: make([]cond, len(list))}
		for i, child := range list {
			out.children[i] = compileCondition(v, fmt.Sprintf("%s.%s[%d]", path, name, i), child, depth+1)
		}
		return out
	case c.Not != nil:
		n := compileCondition(v, path+".not", *c.Not, depth+1)
		return cond{kind: condNot, not: &n}
	}
	out := cond{kind: condLeaf, attr: c.Attribute, subject: c.Attribute == "targetingKey" || c.Attribute == "subject"}
	if c.Attribute == "" {
		v.add(path+".attribute", "must name a context attribute")
	}
	op, ok := operators[c.Op]
	if !ok {
		v.add(path+".op", "unknown operator %q", c.Op)
		return out
	}
	out.op = op.code
	vpath := path + ".values"
	switch op.operands {
	case operandNone:
		if len(c.Values) != 0 {
			v.add(vpath, "operator %q takes no values", c.Op)
		}
	case operandScalar, operandRegexp, operandNumber, operandSemver:
		if len(c.Values) != 1 {
			v.add(vpath, "operator %q takes exactly one value, got %d", c.Op, len(c.Values))
			return out
		}
	default:
		if len(c.Values) == 0 {
			v.add(vpath, "operator %q needs at least one value", c.Op)
			return out
		}
	}
	var strs []string
	for i, val := range c.Values {
		p := fmt.Sprintf("%s[%d]", vpath, i)
		switch op.operands {
		case operandScalar, operandsScalars:
			switch x := val.(type) {
			case string:
				strs = append(strs, x)
			case bool:
				if x {
					out.bools[1] = true
				} else {
					out.bools[0] = true
				}
			default:
				n, ok := toNumber(val)
				if !ok {
					v.add(p, "must be a string, number or bool, got %s", jsonType(val))
					continue
				}
				out.nums = append(out.nums, n)
			}
		case operandsStrings:
			s, ok := val.(string)
			if !ok {
				v.add(p, "operator %q compares strings, got %s", c.Op, jsonType(val))
				continue
			}
			out.list = append(out.list, s)
		case operandRegexp:
			s, ok := val.(string)
			if !ok {
				v.add(p, "must be a regular expression as a string, got %s", jsonType(val))
				continue
			}
			re, err := regexp.Compile(s)
			if err != nil {
				v.add(p, "regular expression does not compile: %v", err)
				continue
			}
			out.re = re
		case operandNumber:
			n, ok := toNumber(val)
			if !ok {
				v.add(p, "operator %q compares numbers, got %s", c.Op, jsonType(val))
				continue
			}
			out.nums = append(out.nums, n)
		case operandSemver:
			s, _ := val.(string)
			ver, ok := parseSemver(s)
			if !ok {
				v.add(p, "is not a semantic version such as \"1.2.3\": %v", val)
				continue
			}
			out.ver = ver
		}
	}
	out.strs = newStringSet(strs)
	return out
}

// eval reports whether the condition holds for in. It does not allocate.
func (c *cond) eval(in *Input) bool {
	switch c.kind {
	case condAll:
		for i := range c.children {
			if !c.children[i].eval(in) {
				return false
			}
		}
		return true
	case condAny:
		for i := range c.children {
			if c.children[i].eval(in) {
				return true
			}
		}
		return false
	case condNot:
		return !c.not.eval(in)
	}
	var (
		val   any
		s     string
		isStr bool
	)
	if c.subject {
		if in.Subject == "" {
			return false
		}
		s, isStr = in.Subject, true
	} else {
		var ok bool
		if val, ok = in.attribute(c.attr); !ok {
			return false // missing or null: no operator holds
		}
		s, isStr = val.(string)
	}
	switch c.op {
	case opExists:
		return true
	case opEquals, opIn:
		return c.equalsAny(val, s, isStr)
	case opNotEquals, opNotIn:
		return !c.equalsAny(val, s, isStr)
	case opStartsWith, opEndsWith, opContains:
		if !isStr {
			return false
		}
		for _, x := range c.list {
			if c.op == opStartsWith && strings.HasPrefix(s, x) ||
				c.op == opEndsWith && strings.HasSuffix(s, x) ||
				c.op == opContains && strings.Contains(s, x) {
				return true
			}
		}
		return false
	case opMatches:
		return isStr && c.re.MatchString(s)
	case opLT, opLTE, opGT, opGTE:
		n, ok := toNumber(val)
		if !ok || len(c.nums) == 0 {
			return false
		}
		switch c.op {
		case opLT:
			return n < c.nums[0]
		case opLTE:
			return n <= c.nums[0]
		case opGT:
			return n > c.nums[0]
		}
		return n >= c.nums[0]
	case opSemverEq, opSemverLT, opSemverLTE, opSemverGT, opSemverGTE:
		if !isStr {
			return false
		}
		ver, ok := parseSemver(s)
		if !ok {
			return false
		}
		cmp := ver.compare(c.ver)
		switch c.op {
		case opSemverEq:
			return cmp == 0
		case opSemverLT:
			return cmp < 0
		case opSemverLTE:
			return cmp <= 0
		case opSemverGT:
			return cmp > 0
		}
		return cmp >= 0
	}
	return false
}

// equalsAny compares a value with the operands of its own type: a string
// never equals a number, as in JSON.
func (c *cond) equalsAny(val any, s string, isStr bool) bool {
	if isStr {
		return c.strs.has(s)
	}
	if b, ok := val.(bool); ok {
		if b {
			return c.bools[1]
		}
		return c.bools[0]
	}
	if n, ok := toNumber(val); ok {
		for _, x := range c.nums {
			if n == x {
				return true
			}
		}
	}
	return false
}

// toNumber reads any Go number (and json.Number) as a float64. NaN is not a
// number here: it compares false with everything anyway.
func toNumber(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case int16:
		f = float64(x)
	case int8:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint64:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint8:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// jsonType names the JSON type of a decoded value, for messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	if _, ok := toNumber(v); ok {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
