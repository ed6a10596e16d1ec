package evaluator

import (
	"encoding/json"
	"maps"
	"slices"
)

// This file holds the model of rich flags: variants, targeting rules,
// weighted splits, metadata, bucketing schemes and kill dates. They are extra
// fields beside the tutorial's; a flag without Variants is a tutorial flag
// and evaluates exactly as docs/design.md §3 says, whatever else it carries.
//
// A variant flag (Variants not empty) is evaluated as:
//
//  1. DefaultEnabled false → OffVariant, or no value; reason DISABLED
//  2. the flag has environments and not the requested one → OffVariant, or
//     no value; reason DEFAULT (a flag with no environments applies to
//     every environment)
//  3. the environment's Enabled false → OffVariant, or no value; DISABLED
//  4. the first rule whose condition holds serves its variant
//     (TARGETING_MATCH) or its split (SPLIT)
//  5. no rule holds: Split when set (SPLIT), else DefaultVariant — reason
//     STATIC when the flag has no rules, DEFAULT when it has some
//
// Allowlists and rolloutPercent belong to tutorial flags; on a variant flag
// target users and regions with rules instead (Validate says so).

// Bucketing schemes: how a subject (or a split's bucket-by attribute) turns
// into a bucket 0–99.
const (
	// BucketSHA256 is the tutorial's scheme (see [Bucket]), the default.
	BucketSHA256 = "sha256"
	// BucketMD5Canary is the "dynamic flags with Redis" pattern's canary
	// hash: md5 of "<subject>-<flagKey>" read as a big-endian unsigned
	// integer of 128 bits, modulo 100. See [BucketMD5].
	BucketMD5Canary = "md5-canary"
	// BucketMurmur3 is flagd's fractional: murmur3 (x86, 32-bit, seed 0) of
	// "<flagKey><value>", scaled onto 0–99. See [BucketFlagd].
	BucketMurmur3 = "murmur3-flagd"
	// BucketLaunchDarkly is LaunchDarkly's rollout bucketing, for variant
	// flags only: see [BucketLD].
	BucketLaunchDarkly = "launchdarkly"
)

// Condition operators. Each leaf condition compares one context attribute
// with Values; see [Condition].
const (
	OpEquals     = "equals"     // attribute equals Values[0] (string, number or bool)
	OpNotEquals  = "notEquals"  // attribute present and not equal to Values[0]
	OpIn         = "in"         // attribute equals one of Values
	OpNotIn      = "notIn"      // attribute present and equal to none of Values
	OpStartsWith = "startsWith" // string attribute starts with one of Values
	OpEndsWith   = "endsWith"   // string attribute ends with one of Values
	OpContains   = "contains"   // string attribute contains one of Values
	OpMatches    = "matches"    // string attribute matches the RE2 regexp Values[0]
	OpLT         = "lt"         // number attribute < Values[0]
	OpLTE        = "lte"        // ≤
	OpGT         = "gt"         // >
	OpGTE        = "gte"        // ≥
	OpSemverEq   = "semverEq"   // semantic version equal to Values[0]
	OpSemverLT   = "semverLt"   // <
	OpSemverLTE  = "semverLte"  // ≤
	OpSemverGT   = "semverGt"   // >
	OpSemverGTE  = "semverGte"  // ≥
	OpExists     = "exists"     // attribute present and not null; no Values
	// OpBefore and OpAfter compare dates: an RFC 3339 date-time string or
	// a number of milliseconds since the epoch (LaunchDarkly's reading,
	// see ldparse.go), on both sides; one or more Values, any may hold.
	OpBefore = "before"
	OpAfter  = "after"
	// OpSegmentMatch holds when the context is in one of the segments
	// named by Values (keys of Flag.Segments). It takes no Attribute; zero
	// Values never hold.
	OpSegmentMatch = "segmentMatch"
)

// Condition is a predicate on the evaluation context: either a leaf
// (Attribute, Op, Values) or a combination (All, Any, Not); exactly one of
// the four forms is set. A leaf whose attribute is missing or null is false
// (so is its negation through Not: "not equals" on a missing attribute is
// false too, as in LaunchDarkly; use Not on Exists to ask for absence).
//
// Attribute names are looked up as given first; a name with dots that is not
// itself a key then walks nested objects ("user.email" in a LaunchDarkly
// multi-context). The names "targetingKey" and "subject" mean the
// evaluation's subject.
//
// ContextKind and Negate (see kinds.go) bring LaunchDarkly's clauses: a
// leaf with a ContextKind looks its attribute up in the context of that kind
// and follows LaunchDarkly's clause rules; Negate inverts a leaf's answer
// except that a missing attribute stays false.
type Condition struct {
	Attribute   string      `json:"attribute,omitempty"`
	Op          string      `json:"op,omitempty"`
	Values      []any       `json:"values,omitempty"`
	ContextKind string      `json:"contextKind,omitempty"`
	Negate      bool        `json:"negate,omitempty"`
	All         []Condition `json:"all,omitempty"`
	Any         []Condition `json:"any,omitempty"`
	Not         *Condition  `json:"not,omitempty"`
}

// Rule is one targeting rule of a variant flag. Rules are tried in order; the
// first that holds decides.
//
// A rule holds when all its Conditions hold (an empty list always holds) and,
// when CEL is set, the CEL expression allows it: a bool expression must be
// true; a string expression names the variant to serve ("" means the rule
// does not hold). A rule serves Variant, or Split when set, or — for a
// string CEL expression — the variant it names.
type Rule struct {
	Name       string      `json:"name,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
	CEL        string      `json:"cel,omitempty"`
	Variant    string      `json:"variant,omitempty"`
	Split      *Split      `json:"split,omitempty"`
}

// Split serves variants by weight. Weights are whole percentages that sum to
// 100. The bucket is computed with the flag's bucketing scheme from the
// BucketBy attribute (default: the subject).
//
// Under BucketLaunchDarkly a split is LaunchDarkly's rollout instead (see
// ldbucket.go): weights are in thousandths of a percent (100000 is 100 %),
// any 32-bit integer as LaunchDarkly takes them (a negative one shortens the
// next variant's share), and need not sum to 100000 (a bucket past the last
// one takes the last variant);
// BucketBy is a LaunchDarkly attribute reference ("" is the key) in the
// context of ContextKind ("" is "user"); Seed, when set, replaces
// "<flagKey>.<salt>" in the hash. ContextKind and Seed need that scheme.
type Split struct {
	BucketBy    string          `json:"bucketBy,omitempty"`
	ContextKind string          `json:"contextKind,omitempty"`
	Seed        *int64          `json:"seed,omitempty"`
	Weights     []WeightedValue `json:"weights"`
}

// WeightedValue is one variant of a split and its share in percent.
type WeightedValue struct {
	Variant string `json:"variant"`
	Weight  int    `json:"weight"`
}

// IsVariantFlag reports whether f is a variant flag (it has Variants) rather
// than a tutorial on/off flag.
func (f Flag) IsVariantFlag() bool { return len(f.Variants) > 0 }

func cloneRich(c *Flag, f Flag) {
	if f.Variants != nil {
		c.Variants = make(map[string]json.RawMessage, len(f.Variants))
		for k, v := range f.Variants {
			c.Variants[k] = slices.Clone(v)
		}
	}
	if f.Rules != nil {
		c.Rules = make([]Rule, len(f.Rules))
		for i, r := range f.Rules {
			c.Rules[i] = r.clone()
		}
	}
	c.Split = f.Split.clone()
	c.Metadata = maps.Clone(f.Metadata)
	cloneKinds(c, f)
}

func (r Rule) clone() Rule {
	c := r
	c.Conditions = cloneConditions(r.Conditions)
	c.Split = r.Split.clone()
	return c
}

func (s *Split) clone() *Split {
	if s == nil {
		return nil
	}
	c := *s
	c.Weights = slices.Clone(s.Weights)
	if s.Seed != nil {
		seed := *s.Seed
		c.Seed = &seed
	}
	return &c
}

func cloneConditions(cs []Condition) []Condition {
	if cs == nil {
		return nil
	}
	out := make([]Condition, len(cs))
	for i, c := range cs {
		out[i] = c.clone()
	}
	return out
}

func (c Condition) clone() Condition {
	out := c
	out.Values = slices.Clone(c.Values)
	out.All = cloneConditions(c.All)
	out.Any = cloneConditions(c.Any)
	if c.Not != nil {
		n := c.Not.clone()
		out.Not = &n
	}
	return out
}
