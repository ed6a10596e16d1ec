package evaluator

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
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
	res   []*regexp.Regexp
	vers  []semver
	times []time.Time

	negate bool
	// ld: the leaf has a ContextKind and follows LaunchDarkly's clause
	// rules (see kinds.go): the attribute is ref in the context of kindName
	// (kindAttr: the attribute "kind", matched against every context's
	// kind), an array matches when an element does, any operand may match,
	// and versions are read as LaunchDarkly reads them.
	ld       bool
	kindName string
	kindAttr bool
	ref      attrRef
	segs     []*compiledSegment // segmentMatch
	// flagd: the leaf belongs to a flag following SemanticsFlagd and
	// reads the context as flagd does (see flagd.go).
	flagd bool

	children []cond // all, any
	not      *cond
}

type condKind uint8

const (
	condLeaf condKind = iota
	condAll
	condAny
	condNot
	// condMalformed is OpMalformed (see malformed.go): evaluating it fails.
	condMalformed
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
	opBefore
	opAfter
	opSegmentMatch
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
	operandDates                       // one or more dates (see OpBefore)
	operandSegments                    // zero or more segment keys
)

var operators = map[string]struct {
	code     opCode
	operands operandKind
}{
	OpEquals:       {opEquals, operandScalar},
	OpNotEquals:    {opNotEquals, operandScalar},
	OpIn:           {opIn, operandsScalars},
	OpNotIn:        {opNotIn, operandsScalars},
	OpStartsWith:   {opStartsWith, operandsStrings},
	OpEndsWith:     {opEndsWith, operandsStrings},
	OpContains:     {opContains, operandsStrings},
	OpMatches:      {opMatches, operandRegexp},
	OpLT:           {opLT, operandNumber},
	OpLTE:          {opLTE, operandNumber},
	OpGT:           {opGT, operandNumber},
	OpGTE:          {opGTE, operandNumber},
	OpSemverEq:     {opSemverEq, operandSemver},
	OpSemverLT:     {opSemverLT, operandSemver},
	OpSemverLTE:    {opSemverLTE, operandSemver},
	OpSemverGT:     {opSemverGT, operandSemver},
	OpSemverGTE:    {opSemverGTE, operandSemver},
	OpExists:       {opExists, operandNone},
	OpBefore:       {opBefore, operandDates},
	OpAfter:        {opAfter, operandDates},
	OpSegmentMatch: {opSegmentMatch, operandSegments},
}

// maxConditionDepth bounds nesting so that a hostile definition cannot
// exhaust the stack.
const maxConditionDepth = 32

// compileCondition checks c and compiles it; problems go to v under path.
// sc holds the flag's segments.
func compileCondition(v *ValidationError, sc *scope, path string, c Condition, depth int) cond {
	if depth > maxConditionDepth {
		v.add(path, "nests deeper than %d levels", maxConditionDepth)
		return cond{}
	}
	forms := 0
	if c.Op != "" || c.Attribute != "" || c.Values != nil || c.ContextKind != "" || c.Negate {
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
			out.children[i] = compileCondition(v, sc, fmt.Sprintf("%s.%s[%d]", path, name, i), child, depth+1)
		}
		return out
	case c.Not != nil:
		n := compileCondition(v, sc, path+".not", *c.Not, depth+1)
		return cond{kind: condNot, not: &n}
	}
	out := cond{kind: condLeaf, attr: c.Attribute, subject: c.Attribute == "targetingKey" || c.Attribute == "subject", negate: c.Negate}
	out.flagd = sc != nil && sc.flagd
	op, ok := operators[c.Op]
	if op.code == opSegmentMatch {
		out.op = op.code
		compileSegmentMatch(v, sc, path, c, &out)
		return out
	}
	if c.Attribute == "" {
		v.add(path+".attribute", "must name a context attribute")
	}
	if !ok {
		v.add(path+".op", "unknown operator %q", c.Op)
		return out
	}
	out.op = op.code
	if c.ContextKind != "" {
		compileKindLeaf(v, path, c, op.operands, &out)
		return out
	}
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
	compileValues(v, vpath, c, op.operands, false, &out)
	return out
}

// compileSegmentMatch compiles an OpSegmentMatch leaf: segment keys of the
// flag, no attribute.
func compileSegmentMatch(v *ValidationError, sc *scope, path string, c Condition, out *cond) {
	if c.Attribute != "" || c.ContextKind != "" {
		v.add(path, "operator %q takes no attribute or contextKind", c.Op)
	}
	for i, val := range c.Values {
		p := fmt.Sprintf("%s.values[%d]", path, i)
		name, ok := val.(string)
		if !ok {
			v.add(p, "must be a segment key, got %s", jsonType(val))
			continue
		}
		seg, ok := sc.segs[name]
		if !ok {
			v.add(p, "names segment %q, which the flag's segments do not hold", name)
			continue
		}
		out.segs = append(out.segs, seg)
		if sc.refs != nil {
			*sc.refs = append(*sc.refs, name)
		}
	}
}

// compileKindLeaf compiles a leaf with a ContextKind (LaunchDarkly's
// clause): any number of operands of the operator's type, even none (then
// it never holds; negated, it holds when the attribute is present).
func compileKindLeaf(v *ValidationError, path string, c Condition, operands operandKind, out *cond) {
	out.ld = true
	out.kindName = c.ContextKind
	if !validKind(c.ContextKind) {
		v.add(path+".contextKind", "%q is not a context kind (letters, digits, '.', '_', '-'; not \"kind\" or \"multi\")", c.ContextKind)
	}
	if c.Attribute == "kind" {
		out.kindAttr = true
	} else if c.Attribute != "" {
		ref, err := parseRef(c.Attribute)
		if err != nil {
			v.add(path+".attribute", "%q %v", c.Attribute, err)
		}
		out.ref = ref
	}
	switch out.op {
	case opNotEquals, opNotIn:
		v.add(path+".op", "operator %q does not take a contextKind; use %q with negate", c.Op, OpIn)
		return
	case opEquals:
		if len(c.Values) != 1 {
			v.add(path+".values", "operator %q takes exactly one value, got %d", c.Op, len(c.Values))
		}
	case opExists:
		if len(c.Values) != 0 {
			v.add(path+".values", "operator %q takes no values", c.Op)
		}
	}
	compileValues(v, path+".values", c, operands, true, out)
}

// compileValues compiles a leaf's values (at vpath) into out, by the kind of
// operands its operator takes. ld reads semantic versions as LaunchDarkly
// does ("1.2" and "1-rc.1" too); otherwise they must be full "1.2.3".
func compileValues(v *ValidationError, vpath string, c Condition, operands operandKind, ld bool, out *cond) {
	var strs []string
	for i, val := range c.Values {
		p := fmt.Sprintf("%s[%d]", vpath, i)
		s, isStr := val.(string)
		switch operands {
		case operandScalar, operandsScalars:
			switch x := val.(type) {
			case string:
				strs = append(strs, x)
			case bool:
				out.bools[boolIndex(x)] = true
			default:
				n, ok := toNumber(val)
				if !ok {
					v.add(p, "must be a string, number or bool, got %s", jsonType(val))
					continue
				}
				out.nums = append(out.nums, n)
			}
		case operandsStrings:
			if !isStr {
				v.add(p, "operator %q compares strings, got %s", c.Op, jsonType(val))
				continue
			}
			out.list = append(out.list, s)
		case operandRegexp:
			if !isStr {
				v.add(p, "must be a regular expression as a string, got %s", jsonType(val))
				continue
			}
			re, err := compileBoundedRegexp(s)
			if err != nil {
				v.add(p, "regular expression %v", err)
				continue
			}
			out.res = append(out.res, re)
		case operandNumber:
			n, ok := toNumber(val)
			if !ok {
				v.add(p, "operator %q compares numbers, got %s", c.Op, jsonType(val))
				continue
			}
			out.nums = append(out.nums, n)
		case operandSemver:
			var ver semver
			var ok bool
			switch {
			case len(s) > MaxSemverLength:
				v.add(p, "semantic version is %d bytes long, more than %d", len(s), MaxSemverLength)
				continue
			case out.flagd:
				ver, ok = parseSemverFlagd(s)
			case ld:
				ver, ok = parseSemverLD(s)
			default:
				ver, ok = parseSemver(s)
			}
			if !isStr || !ok {
				if ld {
					v.add(p, "is not a semantic version as LaunchDarkly reads them (\"1.2.3\", \"1.2\", \"1-rc.1\"): %v", val)
				} else {
					v.add(p, "is not a semantic version such as \"1.2.3\": %v", val)
				}
				continue
			}
			out.vers = append(out.vers, ver)
		case operandDates:
			t, ok := parseDateLD(val)
			if !ok {
				v.add(p, "is not a date: an RFC 3339 date-time string or milliseconds since the epoch, got %v", val)
				continue
			}
			out.times = append(out.times, t)
		}
	}
	out.strs = newStringSet(strs)
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
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
	if c.op == opSegmentMatch {
		for _, seg := range c.segs {
			if seg.matches(in) {
				return !c.negate
			}
		}
		return c.negate
	}
	if c.ld {
		return c.evalKind(in)
	}
	if c.flagd {
		return c.evalFlagd(in)
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
			return false // missing or null: no operator holds, negated or not
		}
		s, isStr = val.(string)
	}
	return c.test(val, s, isStr) != c.negate
}

// evalKind evaluates a leaf with a ContextKind as LaunchDarkly evaluates a
// clause: no context of the kind, or no such attribute, is false whether
// negated or not; an array holds when one of its elements does.
func (c *cond) evalKind(in *Input) bool {
	if c.kindAttr {
		return in.anyKind(c) != c.negate
	}
	ctx, ok := in.contextOf(c.kindName)
	if !ok {
		return false
	}
	val, ok := ctx.value(c.ref)
	if !ok {
		return false
	}
	switch arr := val.(type) {
	case []any:
		for _, el := range arr {
			if el != nil && c.matchAny(el) {
				return !c.negate
			}
		}
		return c.negate
	case []string:
		for _, el := range arr {
			if c.test(nil, el, true) {
				return !c.negate
			}
		}
		return c.negate
	}
	return c.matchAny(val) != c.negate
}

// matchAny tests one value that is not an array.
func (c *cond) matchAny(val any) bool {
	if _, nested := val.([]any); nested {
		return false // an array inside an array matches nothing
	}
	s, isStr := val.(string)
	return c.test(val, s, isStr)
}

// matchValue tests a string (a context kind).
func (c *cond) matchValue(s string) bool { return c.test(nil, s, true) }

// test applies the operator to one present value (val, or the string s
// when isStr): true when any operand holds. It does not allocate.
func (c *cond) test(val any, s string, isStr bool) bool {
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
		if !isStr || len(s) > MaxMatchedLength {
			return false
		}
		for _, re := range c.res {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	case opLT, opLTE, opGT, opGTE:
		if isStr {
			return false
		}
		n, ok := toNumber(val)
		if !ok {
			return false
		}
		for _, x := range c.nums {
			if c.op == opLT && n < x || c.op == opLTE && n <= x || c.op == opGT && n > x || c.op == opGTE && n >= x {
				return true
			}
		}
		return false
	case opBefore, opAfter:
		var t time.Time
		var ok bool
		if isStr {
			t, ok = parseRFC3339LD(s)
		} else if n, isNum := toNumber(val); isNum {
			t, ok = time.Unix(0, int64(n)*int64(time.Millisecond)).UTC(), true
		}
		if !ok {
			return false
		}
		for _, x := range c.times {
			if c.op == opBefore && t.Before(x) || c.op == opAfter && t.After(x) {
				return true
			}
		}
		return false
	case opSemverEq, opSemverLT, opSemverLTE, opSemverGT, opSemverGTE:
		if !isStr {
			return false
		}
		if len(s) > MaxSemverLength {
			return false
		}
		parse := parseSemver
		if c.ld {
			parse = parseSemverLD
		}
		return c.matchSemver(s, parse)
	}
	return false
}

// matchSemver parses a context value's text with parse (each dialect's own
// grammar) and compares it with the leaf's versions; text that does not
// parse matches nothing.
func (c *cond) matchSemver(s string, parse func(string) (semver, bool)) bool {
	ver, ok := parse(s)
	if !ok {
		return false
	}
	for _, x := range c.vers {
		cmp := ver.compare(x)
		switch {
		case c.op == opSemverEq && cmp == 0,
			c.op == opSemverLT && cmp < 0,
			c.op == opSemverLTE && cmp <= 0,
			c.op == opSemverGT && cmp > 0,
			c.op == opSemverGTE && cmp >= 0:
			return true
		}
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

// Bounds on what a condition costs. RE2 (Go's regexp) matches in time
// linear in the input but proportional to the program's size as well, and
// compiling a long pattern takes time at every snapshot build, so both are
// bounded; an attribute longer than a bound does not match.
const (
	// MaxRegexpLength is the longest pattern a "matches" condition may have.
	MaxRegexpLength = 4 << 10
	// MaxRegexpProgram is the most instructions a compiled pattern may have
	// (counted repetitions such as a{1000} expand into many).
	MaxRegexpProgram = 10000
	// MaxMatchedLength is the longest attribute a pattern is matched
	// against; a longer one does not match.
	MaxMatchedLength = 16 << 10
	// MaxSemverLength is the longest semantic version a condition reads,
	// in a definition (longer: refused) or in a context (longer: no match).
	MaxSemverLength = 256
)

// compileBoundedRegexp compiles a pattern within MaxRegexpLength and
// MaxRegexpProgram.
func compileBoundedRegexp(s string) (*regexp.Regexp, error) {
	if len(s) > MaxRegexpLength {
		return nil, fmt.Errorf("is %d bytes long, more than %d", len(s), MaxRegexpLength)
	}
	parsed, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %v", err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, fmt.Errorf("does not compile: %v", err)
	}
	if len(prog.Inst) > MaxRegexpProgram {
		return nil, fmt.Errorf("compiles to %d instructions, more than %d (counted repetitions such as {1000} expand)", len(prog.Inst), MaxRegexpProgram)
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %v", err)
	}
	return re, nil
}
