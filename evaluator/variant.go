package evaluator

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/redisflags/redisflags/internal/maputil"
)

// sortedKeys returns m's keys sorted (maputil.SortedKeys).
func sortedKeys[V any](m map[string]V) []string { return maputil.SortedKeys(m) }

// variantFlag is the compiled form of a variant flag's rich fields.
// Immutable.
type variantFlag struct {
	names    []string
	values   []Payload
	index    map[string]int
	def, off int // variant indexes; off is -1 when the flag has none
	rules    []compiledRule
	split    *compiledSplit
	hasRules bool
	hasCEL   bool           // a rule has a CEL expression
	metadata map[string]any // Flag.Metadata with integers as int64; nil when empty

	// LaunchDarkly's model (see kinds.go): targets, prerequisites and
	// whether the flag follows SemanticsLaunchDarkly.
	targets []compiledTarget
	prereqs []Prerequisite
	ld      bool
	// flagd: the flag follows SemanticsFlagd; usesTime: one of its
	// conditions reads Input.Now (see flagd.go).
	flagd, usesTime bool
	// malformed is Flag.Malformed (see malformed.go).
	malformed []string
}

type compiledRule struct {
	conds   []cond
	cel     *celProgram
	variant int // -1: the CEL expression names it, or split is set
	split   *compiledSplit
}

type compiledSplit struct {
	bucketBy string // "" or a subject name: the subject
	explicit bool   // bucketBy names an attribute other than the subject
	upper    []int  // cumulative upper bounds of the weights (…, 100)
	variants []int
	ld       *ldRollout // under BucketLaunchDarkly: LaunchDarkly's rollout
}

// compileVariants validates and compiles the rich fields of a variant flag.
// Problems go to v, named by field.
func compileVariants(v *ValidationError, f *Flag) *variantFlag {
	vf := &variantFlag{index: make(map[string]int, len(f.Variants)), def: -1, off: -1}
	for _, name := range sortedKeys(f.Variants) {
		raw := f.Variants[name]
		path := "variants." + name
		if !ValidName(name) {
			v.add(path, "variant name %s", nameProblem(name))
		}
		p, err := DecodePayload(raw)
		switch {
		case err != nil:
			v.add(path, "%v", err)
		case p.Kind == KindNone:
			v.add(path, "must be a JSON value, not null")
		}
		vf.index[name] = len(vf.names)
		vf.names = append(vf.names, name)
		vf.values = append(vf.values, p)
	}
	vf.malformed = f.Malformed
	for i, m := range f.Malformed {
		if m == "" {
			v.add(fmt.Sprintf("malformed[%d]", i), "must say what is malformed")
		}
	}
	variant := func(path, name string) int { return vf.variantIndex(v, f, path, name) }
	if f.DefaultVariant == "" {
		v.add("defaultVariant", "is required when the flag has variants")
	} else {
		vf.def = variant("defaultVariant", f.DefaultVariant)
	}
	if f.OffVariant != "" {
		vf.off = variant("offVariant", f.OffVariant)
	}
	vf.hasRules = len(f.Rules) > 0
	sc := compileSegments(v, f)
	compileKinds(v, f, vf)
	sc.flagd = vf.flagd
	ldScheme := f.Bucketing == BucketLaunchDarkly
	for i, r := range f.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if r.Name != "" {
			path = fmt.Sprintf("rules[%d](%s)", i, r.Name)
		}
		cr := compiledRule{variant: -1}
		for j, c := range r.Conditions {
			if c.Op == OpMalformed {
				cr.conds = append(cr.conds, compileMalformedCondition(v, fmt.Sprintf("%s.conditions[%d]", path, j), c, f))
				continue
			}
			cr.conds = append(cr.conds, compileCondition(v, sc, fmt.Sprintf("%s.conditions[%d]", path, j), c, 0))
			vf.markTime(&cr.conds[len(cr.conds)-1])
		}
		if r.CEL != "" {
			vf.hasCEL = true
			p, err := compileCEL(r.CEL)
			if err != nil {
				v.add(path+".cel", "%v", err)
			}
			cr.cel = p
		}
		switch {
		case r.Variant != "" && r.Split != nil:
			v.add(path, "serves either a variant or a split, not both")
		case r.Variant != "":
			cr.variant = variant(path+".variant", r.Variant)
		case r.Split != nil:
			cr.split = compileSplit(v, path+".split", r.Split, vf, ldScheme)
		case r.CEL == "":
			v.add(path, "must serve a variant or a split")
		case cr.cel != nil && !cr.cel.variant:
			v.add(path+".cel", "yields a bool, so the rule must name a variant or a split")
		}
		vf.rules = append(vf.rules, cr)
	}
	if f.Split != nil {
		vf.split = compileSplit(v, "split", f.Split, vf, ldScheme)
	}
	vf.metadata = compileMetadata(v, f.Metadata)
	return vf
}

// variantIndex compiles a variant name that the flag serves: its index, or
// malformedIdx for MalformedVariant (which needs Flag.Malformed).
func (vf *variantFlag) variantIndex(v *ValidationError, f *Flag, path, name string) int {
	if name == MalformedVariant {
		if len(f.Malformed) == 0 {
			v.add(path, "names %q, which needs the flag's malformed reasons", MalformedVariant)
		}
		return malformedIdx
	}
	i, ok := vf.index[name]
	if !ok {
		v.add(path, "names variant %q, which the flag does not have", name)
		return -1
	}
	return i
}

func compileSplit(v *ValidationError, path string, s *Split, vf *variantFlag, ldScheme bool) *compiledSplit {
	cs := &compiledSplit{bucketBy: s.BucketBy}
	cs.explicit = s.BucketBy != "" && s.BucketBy != "targetingKey" && s.BucketBy != "subject"
	if len(s.Weights) == 0 {
		v.add(path+".weights", "must list at least one variant")
		return cs
	}
	if ldScheme {
		return compileLDSplit(v, path, s, vf, cs)
	}
	if s.ContextKind != "" || s.Seed != nil {
		v.add(path, "contextKind and seed need bucketing %q", BucketLaunchDarkly)
	}
	sum := 0
	for i, w := range s.Weights {
		p := fmt.Sprintf("%s.weights[%d]", path, i)
		idx, ok := vf.index[w.Variant]
		if !ok {
			v.add(p+".variant", "names variant %q, which the flag does not have", w.Variant)
		}
		if w.Weight < 0 || w.Weight > 100 {
			v.add(p+".weight", "must be a whole percentage from 0 to 100, got %d", w.Weight)
		}
		sum += w.Weight
		cs.upper = append(cs.upper, sum)
		cs.variants = append(cs.variants, idx)
	}
	if sum != 100 {
		v.add(path+".weights", "weights must sum to 100, got %d", sum)
	}
	return cs
}

// compileLDSplit compiles a split under BucketLaunchDarkly: LaunchDarkly's
// rollout, weights in thousandths of a percent (see Split).
func compileLDSplit(v *ValidationError, path string, s *Split, vf *variantFlag, cs *compiledSplit) *compiledSplit {
	r := compileRollout(v, path, s.ContextKind, s.BucketBy, "bucketBy", "contextKind")
	if s.Seed != nil {
		r.seed, r.hasSeed = *s.Seed, true
	}
	weights := make([]int, len(s.Weights))
	for i, w := range s.Weights {
		p := fmt.Sprintf("%s.weights[%d]", path, i)
		idx := malformedIdx
		if w.Variant != MalformedVariant || len(vf.malformed) == 0 {
			var ok bool
			if idx, ok = vf.index[w.Variant]; !ok {
				v.add(p+".variant", "names variant %q, which the flag does not have", w.Variant)
			}
		}
		// Any 32-bit weight, as LaunchDarkly takes it: each adds
		// weight/100000 to the running sum (see ldWeightSums).
		if w.Weight < math.MinInt32 || w.Weight > math.MaxInt32 {
			v.add(p+".weight", "must be a 32-bit integer (thousandths of a percent, bucketing %q), got %d", BucketLaunchDarkly, w.Weight)
		}
		weights[i] = w.Weight
		cs.variants = append(cs.variants, idx)
	}
	r.upper = ldWeightSums(weights)
	cs.ld = &r
	return cs
}

// reservedMetadata are the metadata keys the provider sets on tutorial
// flags; a flag's own metadata may not use them, so that a reader never
// wonders which one it got.
var reservedMetadata = map[string]bool{"environment": true, "evaluationReason": true, "version": true, "expiresAt": true}

// compileMetadata checks flag metadata (string, number or bool values) and
// returns it with whole numbers as int64 (OpenFeature's integer metadata)
// and other numbers as float64.
func compileMetadata(v *ValidationError, m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		path := "metadata." + k
		if k == "" {
			v.add("metadata", "keys must not be empty")
			continue
		}
		if reservedMetadata[k] {
			v.add(path, "is set by redisflags itself; choose another key")
			continue
		}
		switch x := m[k].(type) {
		case string, bool:
			out[k] = x
		case json.Number:
			if i, err := x.Int64(); err == nil {
				out[k] = i
			} else if f, err := x.Float64(); err == nil {
				out[k] = f
			} else {
				v.add(path, "is not a number: %s", x)
			}
		default:
			n, ok := toNumber(x)
			if !ok {
				v.add(path, "must be a string, number or bool, got %s", jsonType(x))
				continue
			}
			if n == float64(int64(n)) && n >= -1<<53 && n <= 1<<53 {
				out[k] = int64(n)
			} else {
				out[k] = n
			}
		}
	}
	return out
}

// evalVariant evaluates a variant flag (see rich.go for the steps, and
// kinds.go for LaunchDarkly's). chain is nil for the flag asked about and
// holds the flags being evaluated when c is a prerequisite of another. It
// does not allocate unless a CEL rule runs.
func (c *Compiled) evalVariant(in *Input, env *CompiledEnvironment, chain *prereqChain) Result {
	vf := c.variant
	r := Result{Bucket: -1}
	if vf.ld && chain == nil {
		if valid, _ := in.launchDarklyContext(); !valid {
			return Result{Bucket: -1, Err: ContextInvalid}
		}
	}
	switch {
	case !c.defaultEnabled:
		r.Outcome = FlagDisabled
	case env == nil && len(c.envs) > 0:
		r.Outcome = EnvironmentMissing
	case env != nil && !env.enabled:
		r.Outcome = EnvironmentDisabled
	}
	if r.Outcome == EnvironmentMissing && vf.ld {
		// A flag imported from LaunchDarkly into one environment does not
		// exist in the others: it serves nothing there (the caller's
		// default), not its off variation.
		return r
	}
	if r.Outcome != NoOutcome {
		vf.serve(&r, vf.off)
		return r
	}
	if len(vf.prereqs) > 0 {
		failed, err := c.prerequisitesMet(in, chain)
		if err != NoError {
			return Result{Bucket: -1, Err: err}
		}
		if failed {
			r.Outcome = PrerequisiteFailed
			vf.serve(&r, vf.off)
			return r
		}
	}
	if idx := vf.target(in); idx != -1 {
		r.Outcome = TargetMatch
		vf.serve(&r, idx)
		return r
	}
	for i := range vf.rules {
		rule := &vf.rules[i]
		ok, name, malformed := rule.holds(in)
		if malformed {
			return Result{Bucket: -1, Err: MalformedCondition}
		}
		if !ok {
			continue
		}
		if rule.split != nil {
			return c.splitResult(in, rule.split, RuleMatch)
		}
		idx := rule.variant
		if idx == -1 { // a CEL expression names it
			if idx, ok = vf.index[name]; !ok {
				return Result{Bucket: -1, Err: VariantUnknown}
			}
		}
		r.Outcome = RuleMatch
		vf.serve(&r, idx)
		return r
	}
	if env != nil && env.rollout != nil {
		if rr, ok := c.rolloutThreshold(in, env); ok {
			return rr
		}
	}
	if vf.split != nil {
		return c.splitResult(in, vf.split, Fallthrough)
	}
	switch {
	case vf.ld:
		r.Outcome = Fallthrough
	case vf.hasRules:
		r.Outcome = DefaultServed
	default:
		r.Outcome = Static
	}
	vf.serve(&r, vf.def)
	return r
}

// holds reports whether every condition holds and the CEL expression, if
// any, allows the rule; name is the variant a string CEL expression named.
// malformed is true when the conditions, evaluated in order until one does
// not hold, reached an OpMalformed one.
func (rule *compiledRule) holds(in *Input) (ok bool, name string, malformed bool) {
	for i := range rule.conds {
		if rule.conds[i].kind == condMalformed {
			return false, "", true
		}
		if !rule.conds[i].eval(in) {
			return false, "", false
		}
	}
	if rule.cel != nil {
		ok, name = rule.cel.eval(in)
		return ok, name, false
	}
	return true, "", false
}

// serve puts the variant of index idx into r: none for a negative index,
// and for malformedIdx the error Malformed instead of r's outcome.
func (vf *variantFlag) serve(r *Result, idx int) {
	if idx == malformedIdx {
		*r = Result{Bucket: -1, Err: Malformed}
		return
	}
	if idx < 0 {
		return
	}
	r.Variant = vf.names[idx]
	r.Value = &vf.values[idx]
}

// splitResult serves a split. outcome is the outcome under
// SemanticsLaunchDarkly (RuleMatch for a rule's split, Fallthrough for the
// flag's); otherwise a split's outcome is SplitServed.
func (c *Compiled) splitResult(in *Input, s *compiledSplit, outcome Outcome) Result {
	if !c.variant.ld {
		outcome = SplitServed
	}
	if s.ld != nil {
		return c.ldSplitResult(in, s, outcome)
	}
	if c.variant.flagd {
		return c.flagdSplitResult(in, s)
	}
	value := in.Subject
	if s.explicit {
		v, ok := in.attribute(s.bucketBy)
		str, isStr := v.(string)
		if !ok || !isStr || str == "" {
			return Result{Bucket: -1, Err: AttributeMissing}
		}
		value = str
	}
	if value == "" {
		return Result{Bucket: -1, Err: SubjectMissing}
	}
	r := Result{Outcome: outcome}
	r.Bucket = BucketWith(c.scheme, c.key, in.Environment, value, s.explicit)
	for i, upper := range s.upper {
		if r.Bucket < upper {
			c.variant.serve(&r, s.variants[i])
			return r
		}
	}
	// Unreachable: weights sum to 100 and buckets are below 100.
	return Result{Bucket: -1, Err: VariantUnknown}
}

// IsVariantFlag reports whether c is a variant flag.
func (c *Compiled) IsVariantFlag() bool { return c.variant != nil }

// FlagMetadata returns a variant flag's own metadata (shared, read-only;
// whole numbers as int64), or nil.
func (c *Compiled) FlagMetadata() map[string]any {
	if c.variant == nil {
		return nil
	}
	return c.variant.metadata
}
