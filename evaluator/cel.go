package evaluator

import (
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// CEL rules (the OpenFeature spec's test flags use them as
// "contextEvaluator") are compiled once per flag, when the flag is compiled,
// never per evaluation. Every free identifier of the expression is declared
// as a dynamically typed variable, resolved at evaluation time from the
// context attributes ("targetingKey" is the subject), so the checker still
// rejects unknown functions, bad syntax and results that are neither bool nor
// string. An attribute the expression needs but the context lacks makes the
// evaluation fail, which means "the rule does not hold".

// celProgram is a compiled CEL rule. Immutable and safe for concurrent use.
type celProgram struct {
	prg      cel.Program
	variant  bool // the expression yields a variant name (a string)
	fixedVar bool // the expression yields a bool: the rule serves its own variant or split
}

var celBaseEnv = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// compileCEL parses and checks expr. wantString is true when the rule names
// no variant or split of its own, so the expression must name the variant.
func compileCEL(expr string) (*celProgram, error) {
	base, err := celBaseEnv()
	if err != nil {
		return nil, err
	}
	parsed, iss := base.Parse(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("does not parse: %v", iss.Err())
	}
	seen := map[string]bool{}
	var decls []cel.EnvOption
	for _, e := range celast.MatchDescendants(celast.NavigateAST(parsed.NativeRep()), celast.KindMatcher(celast.IdentKind)) {
		name := e.AsIdent()
		if !seen[name] {
			seen[name] = true
			decls = append(decls, cel.Variable(name, cel.DynType))
		}
	}
	env, err := base.Extend(decls...)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %v", err)
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, fmt.Errorf("does not compile: %v", iss.Err())
	}
	p := &celProgram{}
	switch t := checked.OutputType(); {
	case t.IsExactType(types.BoolType):
		p.fixedVar = true
	case t.IsExactType(types.StringType):
		p.variant = true
	case t.IsExactType(types.DynType):
		p.variant, p.fixedVar = true, true
	default:
		return nil, fmt.Errorf("must yield a bool or a variant name (string), yields %s", t)
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("does not compile: %v", err)
	}
	p.prg = prg
	return p, nil
}

// celActivation resolves CEL identifiers from an evaluation's input.
type celActivation struct{ in *Input }

func (a celActivation) ResolveName(name string) (any, bool) { return a.in.attribute(name) }
func (a celActivation) Parent() interpreter.Activation      { return nil }

// eval runs the program: matched is whether the rule holds; variant is the
// variant it names, when the expression yields one. Errors (a missing
// attribute, a wrong type) mean the rule does not hold.
func (p *celProgram) eval(in *Input) (matched bool, variant string) {
	// The activation gets its own copy of the input, so that in itself does
	// not escape: evaluations that run no CEL stay allocation-free.
	cp := *in
	out, _, err := p.prg.Eval(celActivation{&cp})
	if err != nil {
		return false, ""
	}
	switch v := out.Value().(type) {
	case bool:
		return v, ""
	case string:
		return v != "", v
	}
	return false, ""
}
