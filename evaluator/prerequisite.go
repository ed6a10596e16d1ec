package evaluator

import "fmt"

// Prerequisite names another flag and the variant it must serve (for a
// tutorial flag, "on" or "off"). A prerequisite is met, as in LaunchDarkly,
// when that flag exists, is switched on in the environment (whatever its
// own prerequisites say) and served Variant without error; it is evaluated
// for the same input, through Input.Flags.
type Prerequisite struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
}

// FlagSource gives an evaluation the other flags of its snapshot, for
// prerequisites. Implementations must be safe for concurrent use and, to
// keep evaluation allocation-free, should not allocate.
type FlagSource interface {
	// Flag returns the named flag, or nil when there is none (a flag whose
	// stored data does not compile counts as none). An error means the
	// flags could not be asked (direct reads with Redis away).
	Flag(key string) (*Compiled, error)
}

// MaxPrerequisiteDepth bounds a chain of prerequisites; a longer chain is
// evaluated as a cycle (ErrorKind PrerequisiteCycle).
const MaxPrerequisiteDepth = 32

// prereqChain holds the keys of the flags being evaluated, outermost first,
// to find cycles. It lives on the stack of the outermost evaluation.
type prereqChain struct {
	keys [MaxPrerequisiteDepth]string
	n    int
}

func (ch *prereqChain) has(key string) bool {
	for i := 0; i < ch.n; i++ {
		if ch.keys[i] == key {
			return true
		}
	}
	return false
}

// compileKinds compiles the LaunchDarkly parts of a variant flag: targets
// and prerequisites (segments come first, with compileSegments).
func compileKinds(v *ValidationError, f *Flag, vf *variantFlag) {
	variant := func(path, name string) int { return vf.variantIndex(v, f, path, name) }
	for i, t := range f.Targets {
		path := fmt.Sprintf("targets[%d]", i)
		if t.ContextKind != "" && !validKind(t.ContextKind) {
			v.add(path+".contextKind", "%q is not a context kind (letters, digits, '.', '_', '-'; not \"kind\" or \"multi\")", t.ContextKind)
		}
		vf.targets = append(vf.targets, compiledTarget{
			kind:    t.ContextKind,
			keys:    newStringSet(t.Values),
			variant: variant(path+".variant", t.Variant),
		})
	}
	for i, p := range f.Prerequisites {
		path := fmt.Sprintf("prerequisites[%d]", i)
		switch {
		case !ValidName(p.Flag):
			v.add(path+".flag", "flag key %s", nameProblem(p.Flag))
		case p.Flag == f.Key:
			v.add(path+".flag", "names the flag itself")
		}
		if p.Variant == "" {
			v.add(path+".variant", "must name the variant the prerequisite must serve")
		}
	}
	vf.prereqs = f.Prerequisites
	switch f.Semantics {
	case "":
	case SemanticsLaunchDarkly:
		vf.ld = true
	case SemanticsFlagd:
		vf.flagd = true
	default:
		v.add("semantics", "unknown semantics %q (want \"\", %q or %q)", f.Semantics, SemanticsLaunchDarkly, SemanticsFlagd)
	}
}

type compiledTarget struct {
	kind    string // "": the subject
	keys    stringSet
	variant int
}

// target returns the variant of the first target listing the input (maybe
// malformedIdx), or -1.
func (vf *variantFlag) target(in *Input) int {
	for i := range vf.targets {
		t := &vf.targets[i]
		key := in.Subject
		if t.kind != "" {
			ctx, ok := in.contextOf(t.kind)
			if !ok {
				continue
			}
			key = ctx.key
		}
		if key != "" && t.keys.has(key) {
			return t.variant
		}
	}
	return -1
}

// prerequisitesMet checks the flag's prerequisites in order. failed is true
// when one is not met; err is set when the evaluation must fail (a cycle, a
// chain deeper than MaxPrerequisiteDepth, flags that could not be asked).
// It does not allocate unless Input.Flags does.
func (c *Compiled) prerequisitesMet(in *Input, chain *prereqChain) (failed bool, err ErrorKind) {
	var local prereqChain
	if chain == nil {
		chain = &local
	}
	if chain.n == len(chain.keys) {
		return false, PrerequisiteCycle
	}
	chain.keys[chain.n] = c.key
	chain.n++
	failed, err = c.checkPrerequisites(in, chain)
	chain.n--
	return failed, err
}

func (c *Compiled) checkPrerequisites(in *Input, chain *prereqChain) (failed bool, err ErrorKind) {
	for i := range c.variant.prereqs {
		p := &c.variant.prereqs[i]
		if in.Flags == nil {
			return true, NoError
		}
		pc, ferr := in.Flags.Flag(p.Flag)
		if ferr != nil {
			return false, FlagsUnavailable
		}
		if pc == nil {
			return true, NoError
		}
		if chain.has(p.Flag) {
			return false, PrerequisiteCycle
		}
		r := pc.evalNested(in, chain)
		switch r.Err {
		case NoError:
		case PrerequisiteCycle, FlagsUnavailable, MalformedCondition:
			// LaunchDarkly too fails the whole evaluation on a malformed
			// clause of a prerequisite (a malformed serving point only
			// fails the prerequisite: see Malformed).
			return false, r.Err
		default:
			return true, NoError
		}
		switch r.Outcome {
		case FlagDisabled, EnvironmentMissing, EnvironmentDisabled:
			return true, NoError
		}
		served := r.Variant
		if pc.variant == nil {
			served = "off"
			if r.On {
				served = "on"
			}
		}
		if served != p.Variant {
			return true, NoError
		}
	}
	return false, NoError
}

// evalNested evaluates c as a prerequisite of another flag.
func (c *Compiled) evalNested(in *Input, chain *prereqChain) Result {
	env := c.env(in.Environment)
	if c.variant != nil {
		return c.evalVariant(in, env, chain)
	}
	r, _ := c.evalTutorial(in, env)
	return r
}

// HasPrerequisites reports whether c has prerequisites, so that its
// evaluations need Input.Flags.
func (c *Compiled) HasPrerequisites() bool { return c.variant != nil && len(c.variant.prereqs) > 0 }

// LaunchDarkly reports whether c follows SemanticsLaunchDarkly.
func (c *Compiled) LaunchDarkly() bool { return c.variant != nil && c.variant.ld }
