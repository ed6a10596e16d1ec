package evaluator

// This file holds the markers of malformed source data. LaunchDarkly's
// evaluator reads a flag lazily: a variation index out of range, a rollout
// without variations or a clause whose attribute reference is invalid fails
// an evaluation (MALFORMED_FLAG, the caller's default) only when the
// evaluation reaches it, and every other evaluation of the flag answers.
// The importer keeps such a flag, with the malformed parts replaced by
// these markers and Flag.Malformed saying why:
//
//   - MalformedVariant may stand wherever a flag names a variant it serves
//     (defaultVariant, offVariant, a target's, a rule's or a split weight's
//     variant): serving it fails the evaluation with ErrorKind Malformed;
//   - a rule condition {"op": "malformed"} (OpMalformed, at a rule's top
//     level only) fails the evaluation with ErrorKind MalformedCondition
//     when the rule's earlier conditions held and it is evaluated.
//
// The provider answers both as LaunchDarkly's OpenFeature provider answers
// MALFORMED_FLAG: PARSE_ERROR with the caller's default.

// MalformedVariant is the variant name that marks a malformed serving
// point. It is not a valid variant name, so no variant can be it.
const MalformedVariant = "!malformed"

// OpMalformed is the operator of the condition that marks a malformed
// clause; it takes no attribute and no values.
const OpMalformed = "malformed"

// malformedIdx is MalformedVariant's compiled variant index.
const malformedIdx = -2

// HasMalformed reports whether c was imported with malformed parts.
func (c *Compiled) HasMalformed() bool { return c.variant != nil && len(c.variant.malformed) > 0 }

// MalformedReasons returns Flag.Malformed (shared, read-only).
func (c *Compiled) MalformedReasons() []string {
	if c.variant == nil {
		return nil
	}
	return c.variant.malformed
}

// compileMalformedCondition compiles a rule's top-level OpMalformed
// condition.
func compileMalformedCondition(v *ValidationError, path string, c Condition, f *Flag) cond {
	if c.Attribute != "" || c.Values != nil || c.ContextKind != "" || c.Negate || c.All != nil || c.Any != nil || c.Not != nil {
		v.add(path, "operator %q takes no attribute, values, contextKind, negate or nested conditions", OpMalformed)
	}
	if len(f.Malformed) == 0 {
		v.add(path, "operator %q needs the flag's malformed reasons", OpMalformed)
	}
	return cond{kind: condMalformed}
}
