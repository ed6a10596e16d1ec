package evaluator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
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

// CEL rules are bounded three ways, so that no rule can take the CPU or
// memory of the process that evaluates it:
//   - at write time, an expression longer than CELMaxLength is refused, and
//     so is one whose estimated worst-case cost (cel-go's cost estimator,
//     with every list, map and string of the context assumed to hold at most
//     CELAssumedSize elements) is above CELMaxEstimatedCost — the error
//     names the flag, the rule and the estimate;
//   - at evaluation time, cel-go tracks the actual cost and stops at
//     CELMaxRuntimeCost (a context larger than assumed cannot make a rule
//     run away), and the rule then does not hold;
//   - the evaluation stops when Input.Interrupt is done (the provider passes
//     the caller's context), checked every celInterruptEvery comprehension
//     steps; the rule then does not hold, and the provider reports the
//     caller's deadline as the evaluation's error.

// CELMaxLength is the longest CEL expression a rule may have, in bytes.
const CELMaxLength = 8 << 10

// CELAssumedSize is the size the write-time cost estimate assumes for every
// list, map and string that comes from the evaluation context.
const CELAssumedSize = 1000

// CELMaxEstimatedCost is the most a CEL rule may cost by cel-go's estimate
// (in its cost units, about one per operation) when written. A rule of
// three nested comprehensions over context lists (10⁹ at the assumed size)
// is refused; a comprehension over one list (a few thousand) is not.
const CELMaxEstimatedCost = 1_000_000

// CELMaxRuntimeCost is the most one evaluation of a CEL rule may cost (in
// cel-go's cost units) before it is stopped; a stopped rule does not hold.
const CELMaxRuntimeCost = 1_000_000

// celInterruptEvery is how many comprehension steps go between two checks
// of Input.Interrupt.
const celInterruptEvery = 64

// Interrupter is what the evaluation of a CEL rule watches to stop early:
// a context.Context is one (the provider passes the caller's). Only CEL
// rules consult it, so flags without CEL pay nothing for it.
type Interrupter interface {
	Done() <-chan struct{}
}

// celSizes is the estimator's view of the context: every variable, and
// whatever is reached from one, holds at most CELAssumedSize elements.
type celSizes struct{}

func (celSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Path() != nil {
		return &cost.SizeEstimate{Min: 0, Max: CELAssumedSize}
	}
	return nil
}

func (celSizes) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

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
	if len(expr) > CELMaxLength {
		return nil, fmt.Errorf("is %d bytes long, more than %d", len(expr), CELMaxLength)
	}
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
	est, err := env.EstimateCost(checked, celSizes{})
	if err != nil {
		return nil, fmt.Errorf("cost cannot be estimated: %v", err)
	}
	if est.Max > CELMaxEstimatedCost {
		return nil, fmt.Errorf("may cost up to %s by cel-go's estimate (lists, maps and strings of the context assumed to hold at most %d elements), more than %d: nested comprehensions (all, exists, map, filter) over context data are the usual cause", costString(est.Max), CELAssumedSize, CELMaxEstimatedCost)
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize),
		cel.CostLimit(CELMaxRuntimeCost), cel.InterruptCheckFrequency(celInterruptEvery))
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
	var out ref.Val
	var err error
	if in.Interrupt != nil {
		done := in.Interrupt.Done()
		select {
		case <-done:
			return false, ""
		default:
		}
		ctx, ok := in.Interrupt.(context.Context)
		if !ok {
			ctx = doneContext{done}
		}
		out, _, err = p.prg.ContextEval(ctx, celActivation{&cp})
	} else {
		out, _, err = p.prg.Eval(celActivation{&cp})
	}
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

// doneContext is the context.Context cel-go's ContextEval needs, made of an
// Interrupter that is not one.
type doneContext struct{ done <-chan struct{} }

func (c doneContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c doneContext) Done() <-chan struct{}       { return c.done }
func (c doneContext) Value(any) any               { return nil }
func (c doneContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// costString writes a cost estimate for people: "unbounded" for cel-go's
// "no bound known".
func costString(c uint64) string {
	if c == ^uint64(0) {
		return "an unbounded amount"
	}
	return fmt.Sprint(c)
}

// HasCEL reports whether a rule of c has a CEL expression: whether its
// evaluation consults Input.Interrupt.
func (c *Compiled) HasCEL() bool { return c.variant != nil && c.variant.hasCEL }
