package importer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/redisflags/redisflags/evaluator"
)

// A flagd targeting is a JSON Logic expression that yields a variant name,
// or null for "the default variant, reason DEFAULT". It is translated into
// ordered native rules in two steps:
//
//  1. flatten: every path through the if/else tree becomes a branch — the
//     conditions taken on the way (a conjunction) and what the path yields:
//     a variant, a split (fractional), or null. Earlier siblings' conditions
//     need not be negated, because rules are tried in order and the first
//     that holds decides, exactly like an if/else chain.
//  2. rules: a null branch does not become a rule (no rule holding means
//     the default variant with reason DEFAULT), but it must still stop the
//     rules after it, so every later rule gets the negation of its
//     conditions. Branches after an unconditional one are unreachable.

// pred is a translated condition, or a constant once an operand is folded
// (a comparison of two literals, "$flagd.flagKey").
type pred struct {
	c     *evaluator.Condition // nil when constant
	value bool                 // the constant
}

func constant(b bool) pred { return pred{value: b} }

func leaf(attr, op string, values ...any) pred {
	return pred{c: &evaluator.Condition{Attribute: attr, Op: op, Values: values}}
}

func (p pred) isConst() bool { return p.c == nil }

func notPred(p pred) pred {
	if p.isConst() {
		return constant(!p.value)
	}
	if p.c.Not != nil {
		return pred{c: p.c.Not}
	}
	return pred{c: &evaluator.Condition{Not: p.c}}
}

// combine folds constants out of an and (all) or an or (any).
func combine(all bool, ps []pred) pred {
	var conds []evaluator.Condition
	for _, p := range ps {
		if p.isConst() {
			if p.value != all {
				return constant(!all) // false in an and, true in an or
			}
			continue
		}
		conds = append(conds, *p.c)
	}
	switch len(conds) {
	case 0:
		return constant(all)
	case 1:
		return pred{c: &conds[0]}
	}
	if all {
		return pred{c: &evaluator.Condition{All: conds}}
	}
	return pred{c: &evaluator.Condition{Any: conds}}
}

// branch is one path through a targeting: flatten's output.
type branch struct {
	path  string
	guard []pred // non-constant conditions, all of which hold on this path
	// what the path yields: a variant, a split, or (stop) null
	variant string
	split   *evaluator.Split
	stop    bool
}

// translator translates the targeting of one flag.
type translator struct {
	ps         *problems
	flag       string
	evaluators map[string]any // $evaluators, for $ref
	// defaultVariant is the flag's, served by the placeholder rule of a
	// targeting that never names a variant.
	defaultVariant string
	refDepth       int
}

// maxRefDepth bounds $ref chains (an evaluator referring to another), so a
// cycle is an error rather than a stack overflow.
const maxRefDepth = 16

// maxNesting bounds how deep an expression may nest, for the same reason.
const maxNesting = 64

func (t *translator) unsupported(path, op, format string, args ...any) {
	t.ps.add(Problem{Flag: t.flag, Field: path, Operator: op, Unsupported: true, Message: fmt.Sprintf(format, args...)})
}

func (t *translator) invalid(path, op, format string, args ...any) {
	t.ps.add(Problem{Flag: t.flag, Field: path, Operator: op, Message: fmt.Sprintf(format, args...)})
}

// targeting translates a flag's targeting into rules.
func (t *translator) targeting(expr any) []evaluator.Rule {
	before := len(t.ps.list)
	branches := t.flatten(expr, "targeting", nil, 0)
	if len(t.ps.list) > before {
		return nil
	}
	var rules []evaluator.Rule
	var stops [][]pred
	for _, b := range branches {
		if b.stop {
			if len(b.guard) == 0 {
				break // an unconditional null: nothing after it is reached
			}
			stops = append(stops, b.guard)
			continue
		}
		var conds []evaluator.Condition
		for _, p := range b.guard {
			conds = append(conds, *p.c)
		}
		for _, s := range stops {
			n := notPred(combine(true, s))
			conds = append(conds, *n.c)
		}
		rules = append(rules, evaluator.Rule{Name: b.path, Conditions: conds, Variant: b.variant, Split: b.split})
		if len(conds) == 0 {
			break // an unconditional rule: nothing after it is reached
		}
	}
	if len(rules) == 0 {
		// The targeting never names a variant, so flagd always serves the
		// default variant with reason DEFAULT. A flag without rules would
		// say STATIC; a rule that never holds keeps DEFAULT.
		exists := evaluator.Condition{Attribute: "targetingKey", Op: evaluator.OpExists}
		rules = append(rules, evaluator.Rule{
			Name:       "targeting yields no variant (never holds)",
			Conditions: []evaluator.Condition{exists, {Not: &exists}},
			Variant:    t.defaultVariant,
		})
	}
	return rules
}

// flatten turns a variant-yielding expression into branches.
func (t *translator) flatten(expr any, path string, guard []pred, depth int) []branch {
	if depth > maxNesting {
		t.invalid(path, "", "nests deeper than %d levels", maxNesting)
		return nil
	}
	switch x := expr.(type) {
	case nil:
		return []branch{{path: path, guard: guard, stop: true}}
	case string:
		return []branch{{path: path, guard: guard, variant: x}}
	case bool:
		// flagd serves the variant named by the result's JSON text.
		return []branch{{path: path, guard: guard, variant: strconv.FormatBool(x)}}
	case json.Number:
		return []branch{{path: path, guard: guard, variant: x.String()}}
	case []any:
		t.unsupported(path, "", "an array does not name a variant")
		return nil
	}
	op, args, ok := t.operation(expr, path)
	if !ok {
		return nil
	}
	switch op {
	case "$ref":
		body, ok := t.ref(args, path)
		if !ok {
			return nil
		}
		defer func() { t.refDepth-- }()
		return t.flatten(body, path+".$ref", guard, depth+1)
	case "if":
		list := asList(args)
		var out []branch
		i := 0
		for ; i+1 < len(list); i += 2 {
			cpath := fmt.Sprintf("%s.%s[%d]", path, op, i)
			c := t.cond(list[i], cpath, depth+1)
			if c.isConst() && !c.value {
				continue // never taken
			}
			g := guard
			if !c.isConst() {
				g = append(slices.Clip(guard), c)
			}
			out = append(out, t.flatten(list[i+1], fmt.Sprintf("%s.%s[%d]", path, op, i+1), g, depth+1)...)
			if c.isConst() {
				return out // always taken: the rest is unreachable
			}
		}
		if i < len(list) {
			return append(out, t.flatten(list[i], fmt.Sprintf("%s.%s[%d]", path, op, i), guard, depth+1)...)
		}
		// No else: JSON Logic yields null.
		return append(out, branch{path: path + "." + op, guard: guard, stop: true})
	case "fractional":
		s, ok := t.fractional(args, path+".fractional")
		if !ok {
			return nil
		}
		return []branch{{path: path + ".fractional", guard: guard, split: s}}
	}
	t.unsupported(path, op, "has no redisflags counterpart where a variant name is expected (supported there: if, fractional, a variant name, null)")
	return nil
}

// operation reads a JSON Logic operation: an object with exactly one key.
func (t *translator) operation(expr any, path string) (string, any, bool) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		t.invalid(path, "", "a JSON Logic operation is an object with exactly one operator")
		return "", nil, false
	}
	for op, args := range m {
		return op, args, true
	}
	return "", nil, false
}

// ref resolves {"$ref": name}.
func (t *translator) ref(args any, path string) (any, bool) {
	name, ok := args.(string)
	if !ok {
		t.invalid(path, "$ref", "must name an evaluator (a string)")
		return nil, false
	}
	body, ok := t.evaluators[name]
	if !ok {
		t.invalid(path, "$ref", "names evaluator %q, which $evaluators does not define", name)
		return nil, false
	}
	if t.refDepth >= maxRefDepth {
		t.invalid(path, "$ref", "evaluators refer to each other more than %d deep (a cycle?)", maxRefDepth)
		return nil, false
	}
	t.refDepth++
	return body, true
}

// asList reads an operator's arguments: JSON Logic allows a single argument
// without the array.
func asList(args any) []any {
	if l, ok := args.([]any); ok {
		return l
	}
	return []any{args}
}
