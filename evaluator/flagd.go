package evaluator

import (
	"strconv"
	"strings"
)

// This file holds what a variant flag does differently when it follows
// flagd (SemanticsFlagd): how its conditions read the context, how its
// semantic versions parse and how its fractional splits bucket. Each rule
// follows flagd's Go evaluator (open-feature/flagd core/pkg/evaluator) and
// flagd's own evaluation test material; docs/design.md §12 lists them.

// SemanticsFlagd makes a variant flag follow flagd's rules where they
// differ from redisflags':
//
//   - the context is JSON Logic's data: "targetingKey" is the attribute of
//     that name only (no "key" or LaunchDarkly multi-context fallback), the
//     attribute "subject" is an attribute like any other, and reserved
//     attributes ("region", "environment") may have any type;
//   - a dotted attribute name always walks nested objects (and arrays, by
//     index): "org.id" is the attribute id of the object org, never an
//     attribute named "org.id";
//   - "$flagd.timestamp" is the evaluation time in whole seconds since the
//     epoch (Input.Now, which the caller must fill when UsesTime says so);
//   - semantic versions parse as flagd parses them (see parseSemverFlagd),
//     numbers included, and a version that does not parse never matches;
//   - a split buckets as flagd's fractional: by the named attribute's
//     string value alone, or, when the split names none or the attribute is
//     missing or null, by the flag key followed by the targeting key; no
//     targeting key, or a bucket-by value of another type, serves the
//     default variant with outcome DefaultServed (flagd's null result); a
//     split that decides has outcome RuleMatch (flagd's TARGETING_MATCH).
const SemanticsFlagd = "flagd"

// FlagdTimestamp is the attribute name under which a flag following
// SemanticsFlagd reads the evaluation time (flagd's "$flagd.timestamp").
const FlagdTimestamp = "$flagd.timestamp"

// Flagd reports whether c follows SemanticsFlagd.
func (c *Compiled) Flagd() bool { return c.variant != nil && c.variant.flagd }

// UsesTime reports whether c reads Input.Now (a condition on
// FlagdTimestamp), so that callers fill it only when it matters.
func (c *Compiled) UsesTime() bool { return c.variant != nil && c.variant.usesTime }

// markTime records in vf whether a compiled condition reads the time.
func (vf *variantFlag) markTime(c *cond) {
	switch c.kind {
	case condAll, condAny:
		for i := range c.children {
			vf.markTime(&c.children[i])
		}
	case condNot:
		vf.markTime(c.not)
	default:
		if c.flagd && c.attr == FlagdTimestamp {
			vf.usesTime = true
		}
	}
}

// flagdAttribute looks name up as flagd's JSON Logic "var" does: a path of
// dot-separated names through objects (and arrays, by decimal index); a
// missing or null value is absent. Other Attributes implementations are
// asked for the name whole. "targetingKey" is Input.Subject when the
// attributes do not hold it (a caller that passes the subject apart; the
// provider sets Subject to the targeting key alone for these flags). It
// does not allocate unless it boxes that subject.
func (in *Input) flagdAttribute(name string) (any, bool) {
	m, isMap := in.Attributes.(MapAttributes)
	if name == "targetingKey" && in.Subject != "" {
		if _, held := m["targetingKey"]; !isMap || !held {
			return in.Subject, true
		}
	}
	if !isMap {
		if name == "targetingKey" {
			if in.Subject == "" {
				return nil, false
			}
			return in.Subject, true
		}
		if in.Attributes == nil {
			return nil, false
		}
		v, ok := in.Attributes.Attribute(name)
		return v, ok && v != nil
	}
	var cur any = map[string]any(m)
	for {
		part, rest, more := strings.Cut(name, ".")
		switch x := cur.(type) {
		case map[string]any:
			cur = x[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) || part != strconv.Itoa(i) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
		if cur == nil {
			return nil, false
		}
		if !more {
			return cur, true
		}
		name = rest
	}
}

// flagdTargetingKey is the targeting key as flagd reads it: the string
// attribute "targetingKey" ("" when missing or of another type), or
// Input.Subject when the attributes do not hold one.
func (in *Input) flagdTargetingKey() string {
	if m, isMap := in.Attributes.(MapAttributes); isMap {
		if v, held := m["targetingKey"]; held {
			s, _ := v.(string)
			return s
		}
	}
	return in.Subject
}

// evalFlagd evaluates a leaf of a flag following SemanticsFlagd: like
// eval, but reading the context as flagd does (see SemanticsFlagd).
func (c *cond) evalFlagd(in *Input) bool {
	if c.attr == FlagdTimestamp {
		return c.testNumber(float64(in.Now.Unix())) != c.negate
	}
	val, ok := in.flagdAttribute(c.attr)
	if !ok {
		return false // missing or null: no operator holds, negated or not
	}
	s, isStr := val.(string)
	switch c.op {
	case opSemverEq, opSemverLT, opSemverLTE, opSemverGT, opSemverGTE:
		return c.testSemverFlagd(val, s, isStr) != c.negate
	}
	return c.test(val, s, isStr) != c.negate
}

// testNumber applies a numeric or equality operator to the number n
// without boxing it (the evaluation time).
func (c *cond) testNumber(n float64) bool {
	switch c.op {
	case opExists:
		return true
	case opEquals, opIn, opNotEquals, opNotIn:
		eq := false
		for _, x := range c.nums {
			if n == x {
				eq = true
				break
			}
		}
		return eq == (c.op == opEquals || c.op == opIn)
	case opLT, opLTE, opGT, opGTE:
		for _, x := range c.nums {
			if c.op == opLT && n < x || c.op == opLTE && n <= x || c.op == opGT && n > x || c.op == opGTE && n >= x {
				return true
			}
		}
	}
	return false
}

// testSemverFlagd compares a context value with the leaf's versions as
// flagd's sem_ver does: a string or a number (read as its decimal text)
// that parses, else no match.
func (c *cond) testSemverFlagd(val any, s string, isStr bool) bool {
	if !isStr {
		n, ok := toNumber(val)
		if !ok {
			return false
		}
		s = formatNumberFlagd(n)
	}
	return c.matchSemver(s, parseSemverFlagd)
}

// formatNumberFlagd writes a number as JSON Logic turns it into text: whole
// numbers without a fraction, others in their shortest decimal form
// (exponent forms never parse as versions anyway).
func formatNumberFlagd(n float64) string {
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// parseSemverFlagd reads a semantic version as flagd does: one leading 'v'
// or 'V' is dropped; then either a full semver.org 2.0 version
// (MAJOR.MINOR.PATCH, an optional pre-release whose numeric identifiers
// have no leading zeros, optional build metadata of non-empty identifiers)
// or a partial one, "1" or "1.2", read as 1.0.0 and 1.2.0. Numbers have no
// leading zeros ("01" is not a version, as in flagd's Go evaluator, which
// reads versions with golang.org/x/mod/semver). "1-rc.1",
// "1.0.0+build+build" and "1.0.0-01" do not parse. It does not allocate.
func parseSemverFlagd(s string) (semver, bool) {
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !validIdentifiers(build, false) {
		return semver{}, false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	var v semver
	if hasPre {
		if !validIdentifiers(pre, true) {
			return semver{}, false
		}
		v.pre = pre
	}
	parts := [3]*uint64{&v.major, &v.minor, &v.patch}
	n := 0
	for part := range strings.SplitSeq(core, ".") {
		if n == 3 {
			return semver{}, false
		}
		x, ok := parseUint(part)
		if !ok {
			return semver{}, false
		}
		*parts[n] = x
		n++
	}
	if n < 3 && (hasPre || hasBuild) {
		return semver{}, false // a partial version has neither
	}
	return v, true
}

// ValidSemverFlagd reports whether s is a semantic version as flags
// following SemanticsFlagd read them (see SemanticsFlagd).
func ValidSemverFlagd(s string) bool {
	_, ok := parseSemverFlagd(s)
	return ok
}

// flagdSplitResult serves a split of a flag following SemanticsFlagd (see
// SemanticsFlagd for how it buckets).
func (c *Compiled) flagdSplitResult(in *Input, s *compiledSplit) Result {
	explicit := false
	var value string
	if s.bucketBy != "" {
		v, ok := in.flagdAttribute(s.bucketBy)
		if ok {
			str, isStr := v.(string)
			if !isStr {
				return c.flagdNull()
			}
			value, explicit = str, true
		}
	}
	if !explicit {
		value = in.flagdTargetingKey()
		if value == "" {
			return c.flagdNull()
		}
	}
	r := Result{Outcome: RuleMatch}
	r.Bucket = BucketFlagd(c.key, value, explicit)
	for i, upper := range s.upper {
		if r.Bucket < upper {
			c.variant.serve(&r, s.variants[i])
			return r
		}
	}
	// Unreachable: weights sum to 100 and buckets are below 100.
	return Result{Bucket: -1, Err: VariantUnknown}
}

// flagdNull is flagd's answer to a targeting that yields null: the default
// variant, outcome DefaultServed.
func (c *Compiled) flagdNull() Result {
	r := Result{Outcome: DefaultServed, Bucket: -1}
	c.variant.serve(&r, c.variant.def)
	return r
}
