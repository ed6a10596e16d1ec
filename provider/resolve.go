package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// The variants of a tutorial flag.
const (
	VariantOn  = "on"
	VariantOff = "off"
)

// evaluation is one flag evaluated, before it is typed.
type evaluation struct {
	result   evaluator.Result
	payload  *evaluator.Payload // nil when there is none
	metadata map[string]any     // shared, read-only
	err      *of.ResolutionError
	// variant is true for a variant flag: result.Variant and payload are
	// the served variant (both empty when none was served).
	variant bool
	// ld is true for a flag under evaluator.SemanticsLaunchDarkly: reasons
	// and typed values as LaunchDarkly's OpenFeature provider gives them
	// (see launchdarkly.go).
	ld bool
	// payloadKey is true when the key asked was the companion "K:payload"
	// of tutorial flag K (resolution.go): every type reads the payload.
	payloadKey bool
	// scheme is the flag's bucketing, for explanations.
	scheme evaluator.Scheme
	// obs counts this resolution and records exposures (see usage.go);
	// nil when nothing observes the flag or it is unknown. environment and
	// subject are the ones evaluated.
	obs                  *observed
	environment, subject string
	// ownContext is true for a flag that reads the context itself
	// (LaunchDarkly's or flagd's semantics), so that attributes of the
	// wrong type for a tutorial flag are no INVALID_CONTEXT for it.
	ownContext bool
	// flagd is true for a flag under evaluator.SemanticsFlagd.
	flagd bool
	// missing is true when the flag does not exist (FLAG_NOT_FOUND, which
	// no context problem replaces).
	missing bool
}

// evaluate finds the flag and runs the evaluator, from the snapshot or, with
// direct reads, from Redis.
//
// It fills *ev rather than returning it: the hot path copies nothing it
// does not have to.
func (p *Provider) evaluate(ctx context.Context, flag string, fc of.FlattenedContext, ev *evaluation) {
	if base, ok := strings.CutSuffix(flag, PayloadSuffix); ok {
		p.evaluatePayloadKey(ctx, base, fc, ev)
		return
	}
	var t target
	ctxErr := p.targetOf(fc, &t)
	if ctxErr != nil && !p.cfg.direct {
		// A flag imported from LaunchDarkly or flagd reads the context
		// itself and takes what they take (a numeric "region" included).
		// A flag that does not exist is FLAG_NOT_FOUND whatever the context.
		snap := p.snap.Load()
		_, exists := snap.lookup(flag)
		if snap == nil || (exists && !snap.ownContext(flag)) {
			ev.err = invalidContext(flag, ctxErr)
			return
		}
	}
	if p.cfg.direct {
		*ev = p.evaluateDirect(ctx, flag, fc, t)
		if ctxErr != nil && !ev.ownContext && !ev.missing {
			*ev = evaluation{err: invalidContext(flag, ctxErr)}
		}
		if ev.err == nil && p.usage != nil {
			ev.obs, ev.environment, ev.subject = p.directObserved(flag), t.environment, t.subject
		}
		return
	}
	snap := p.snap.Load()
	if snap == nil {
		e := of.NewProviderNotReadyResolutionError("redisflags: no flags loaded yet")
		ev.err = &e
		return
	}
	ent, ok := snap.flags.get(flag)
	if !ok {
		e := of.NewFlagNotFoundResolutionError(fmt.Sprintf("flag %q is not in Redis under prefix %q", flag, p.cfg.prefix))
		ev.err = &e
		return
	}
	ev.obs, ev.environment, ev.subject = p.observedOf(ent, flag), t.environment, t.subject
	if ent.err != nil {
		e := of.NewParseErrorResolutionError(ent.err.Error())
		ev.err = &e
		return
	}
	if envErr, bad := ent.envErrs[t.environment]; bad {
		e := of.NewParseErrorResolutionError(envErr.Error())
		ev.err = &e
		return
	}
	p.evaluateCompiled(ctx, ent.compiled, flag, fc, &t, snap, ev)
}

// needsMembers reports whether prerequisites evaluated through flags may
// meet an allowlist kept in Redis: always in direct mode (flags nil), in
// snapshot mode only when the snapshot has one.
func needsMembers(flags evaluator.FlagSource) bool {
	s, ok := flags.(*snapshot)
	return !ok || s == nil || s.large()
}

func invalidContext(flag string, err error) *of.ResolutionError {
	e := of.NewInvalidContextResolutionError(fmt.Sprintf("flag %q: %v", flag, err))
	return &e
}

// evaluateCompiled runs a compiled flag: the snapshot's, or a variant flag
// read directly. flags answers for prerequisites; nil in direct mode, which
// then reads them from Redis.
func (p *Provider) evaluateCompiled(ctx context.Context, c *evaluator.Compiled, flag string, fc of.FlattenedContext, t *target, flags evaluator.FlagSource, ev *evaluation) {
	var env *evaluator.CompiledEnvironment
	in := evaluator.Input{
		Environment: t.environment, Subject: t.subject, Region: t.region,
		Attributes: evaluator.MapAttributes(fc),
		Flags:      flags,
		// Only CEL rules consult it: a context.Context as an interface
		// value costs no allocation.
		Interrupt: ctx,
	}
	// A prerequisite may have a large allowlist, which only Redis can
	// answer; a snapshot without any needs no Members (and no allocation).
	if c.HasLargeAllowlist() || (c.HasPrerequisites() && needsMembers(flags)) {
		in.Members = &memberAsk{p: p, ctx: ctx}
	}
	if flags == nil && c.HasPrerequisites() {
		in.Flags = &directFlags{p: p, ctx: ctx, target: *t}
	}
	// Only flags with a rollout, or flagd flags reading "$flagd.timestamp",
	// read the clock (a prerequisite may have a rollout); the others pay
	// nothing for it.
	if c.HasRollout() || c.HasPrerequisites() || c.UsesTime() {
		in.Now = p.cfg.clock()
	}
	if c.Flagd() {
		flagdInput(fc, &in)
	}
	ev.ld = c.LaunchDarkly()
	ev.scheme = c.Scheme()
	ev.flagd = c.Flagd()
	ev.ownContext = ev.ld || ev.flagd
	ev.result, env = c.EvaluateEnv(in)
	if c.HasCEL() && ctx.Err() != nil {
		// A CEL rule stopped by the caller's deadline did not hold, which
		// is not an answer: say why instead.
		e := of.NewGeneralResolutionError(fmt.Sprintf("flag %q: evaluation stopped: %v", flag, ctx.Err()))
		ev.err = &e
		return
	}
	if ev.result.Err != evaluator.NoError {
		ev.err = resultError(flag, t.environment, ev.result, env)
		return
	}
	if c.IsVariantFlag() {
		ev.variant = true
		ev.metadata = c.FlagMetadata()
		ev.payload = ev.result.Value
		return
	}
	if env == nil {
		ev.metadata = c.Metadata(t.environment, ev.result.Outcome)
		return
	}
	ev.metadata = env.Metadata(ev.result.Outcome)
	ev.payload = env.Payload()
}

// evaluateDirect reads the facts of this one evaluation from Redis.
func (p *Provider) evaluateDirect(ctx context.Context, flag string, fc of.FlattenedContext, t target) evaluation {
	facts, err := p.store.ReadFacts(ctx, flag, t.environment, t.subject, t.region)
	if err != nil {
		var e of.ResolutionError
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = of.NewFlagNotFoundResolutionError(fmt.Sprintf("flag %q is not in Redis under prefix %q", flag, p.cfg.prefix))
		case errors.Is(err, store.ErrCorrupt):
			e = of.NewParseErrorResolutionError(err.Error())
		default:
			e = of.NewGeneralResolutionError(err.Error())
		}
		return evaluation{err: &e, missing: errors.Is(err, store.ErrNotFound)}
	}
	if facts.Variant != nil {
		c, err := p.directCompiled(flag, t.environment, facts)
		if err != nil {
			e := of.NewParseErrorResolutionError(err.Error())
			return evaluation{err: &e}
		}
		var ev evaluation
		p.evaluateCompiled(ctx, c, flag, fc, &t, nil, &ev)
		return ev
	}
	if facts.Rollout != nil {
		facts.Now = p.cfg.clock()
	}
	r := evaluator.Decide(facts.Facts)
	ev := evaluation{result: r, scheme: facts.Scheme}
	if r.Err != evaluator.NoError {
		if r.Err == evaluator.SubjectMissing && r.Percent == 0 {
			r.Percent = facts.Percent // name the rollout, as snapshot mode does
		}
		ev.err = resultError(flag, t.environment, r, nil)
		return ev
	}
	ev.metadata = evaluator.Metadata(t.environment, r.Outcome, facts.Version)
	if len(facts.Value) > 0 {
		payload, err := evaluator.DecodePayload(facts.Value)
		if err != nil {
			e := of.NewParseErrorResolutionError(fmt.Sprintf("flag %q: stored value in %q: %v", flag, t.environment, err))
			return evaluation{err: &e}
		}
		ev.payload = &payload
	}
	return ev
}

// resultError maps an evaluator error onto OpenFeature's codes.
func resultError(flag, environment string, r evaluator.Result, env *evaluator.CompiledEnvironment) *of.ResolutionError {
	var e of.ResolutionError
	switch r.Err {
	case evaluator.SubjectMissing:
		if env != nil && r.Percent == 0 && env.Percent() > 0 {
			r.Percent = env.Percent()
		}
		if r.Percent > 0 {
			e = of.NewTargetingKeyMissingResolutionError(fmt.Sprintf("flag %q rolls out to %d%% in %q and needs a targeting key", flag, r.Percent, environment))
		} else {
			e = of.NewTargetingKeyMissingResolutionError(fmt.Sprintf("flag %q splits its variants by subject and needs a targeting key", flag))
		}
	case evaluator.AttributeMissing:
		e = of.NewTargetingKeyMissingResolutionError(fmt.Sprintf("flag %q splits its variants by a context attribute that is missing or not a string", flag))
	case evaluator.MembershipUnavailable:
		e = of.NewGeneralResolutionError(fmt.Sprintf("flag %q: its allowlist in %q is kept in Redis, which did not answer", flag, environment))
	case evaluator.VariantUnknown:
		e = of.NewGeneralResolutionError(fmt.Sprintf("flag %q: a rule named a variant the flag does not have", flag))
	case evaluator.ContextInvalid:
		e = of.NewTargetingKeyMissingResolutionError(fmt.Sprintf("flag %q follows LaunchDarkly, which needs a context with a key (targetingKey or key) and valid kinds", flag))
	case evaluator.PrerequisiteCycle:
		e = of.NewParseErrorResolutionError(fmt.Sprintf("flag %q: its prerequisites lead back to a flag being evaluated (or nest deeper than %d)", flag, evaluator.MaxPrerequisiteDepth))
	case evaluator.Malformed, evaluator.MalformedCondition:
		e = of.NewParseErrorResolutionError(fmt.Sprintf("flag %q: this evaluation reached a part of the flag that its source data had malformed (LaunchDarkly's MALFORMED_FLAG; see the flag's \"malformed\")", flag))
	case evaluator.FlagsUnavailable:
		e = of.NewGeneralResolutionError(fmt.Sprintf("flag %q: its prerequisites could not be read", flag))
	default:
		e = of.NewGeneralResolutionError(fmt.Sprintf("flag %q: evaluation failed", flag))
	}
	return &e
}

// detail maps an evaluator outcome onto OpenFeature (docs/design.md §4, and for
// variant flags the reasons the OpenFeature spec's suites expect): the one
// place reasons and variants are decided.
func (ev *evaluation) detail(d *of.ProviderResolutionDetail) {
	if ev.err != nil {
		d.ResolutionError, d.Reason = *ev.err, of.ErrorReason
		return
	}
	d.FlagMetadata = ev.metadata
	if ev.ld {
		d.Variant, d.Reason = ev.result.Variant, launchDarklyReason(ev.result.Outcome)
		return
	}
	if ev.variant {
		d.Variant = ev.result.Variant
	} else {
		d.Variant = VariantOff
		if ev.result.On {
			d.Variant = VariantOn
		}
	}
	switch ev.result.Outcome {
	case evaluator.Static:
		d.Reason = of.StaticReason
	case evaluator.RuleMatch:
		d.Reason = of.TargetingMatchReason
	case evaluator.SplitServed:
		d.Reason = of.SplitReason
	case evaluator.DefaultServed:
		d.Reason = of.DefaultReason
	case evaluator.FlagDisabled, evaluator.EnvironmentDisabled:
		d.Reason = of.DisabledReason
	case evaluator.EnvironmentMissing:
		d.Reason = of.DefaultReason
	case evaluator.AllowlistUser, evaluator.AllowlistRegion, evaluator.TargetMatch:
		d.Reason = of.TargetingMatchReason
	case evaluator.PrerequisiteFailed:
		d.Reason = ReasonPrerequisiteFailed
	case evaluator.RolloutHit, evaluator.RolloutMiss:
		if ev.result.Percent > 0 && ev.result.Percent < 100 {
			d.Reason = of.SplitReason
		} else {
			d.Reason = of.DefaultReason
		}
	}
}

// typed is how one OpenFeature type is read from a payload.
type typed[T any] struct {
	name string
	from func(*evaluator.Payload) (T, bool)
	// ld, when set, replaces from for flags under LaunchDarkly semantics
	// (see launchdarkly.go).
	ld func(*evaluator.Payload) (T, bool)
}

// resolve is the one generic resolution behind the five typed methods: a
// flag that is off, or on without a payload, resolves to the caller's
// default; on with a payload of the asked type resolves to the payload; on
// with another type is TYPE_MISMATCH.
func resolve[T any](p *Provider, ctx context.Context, flag string, def T, fc of.FlattenedContext, t typed[T]) (T, of.ProviderResolutionDetail) {
	var ev evaluation
	p.evaluate(ctx, flag, fc, &ev)
	return finish(p, flag, def, &ev, t)
}

// finish types an evaluation: see resolve.
func finish[T any](p *Provider, flag string, def T, ev *evaluation, t typed[T]) (v T, d of.ProviderResolutionDetail) {
	defer ev.observe(p, &d)
	ev.detail(&d)
	if ev.err != nil || (!ev.variant && !ev.result.On) {
		return def, d
	}
	if ev.variant && ev.payload == nil {
		return def, d // disabled without an off variant: DISABLED, caller's default
	}
	if ev.payload == nil || ev.payload.Kind == evaluator.KindNone {
		d.Reason = of.DefaultReason
		return def, d
	}
	from := t.from
	if ev.ld && t.ld != nil {
		from = t.ld
	}
	v, ok := from(ev.payload)
	if !ok {
		d = of.ProviderResolutionDetail{
			ResolutionError: of.NewTypeMismatchResolutionError(fmt.Sprintf(
				"flag %q: %s is a %s, not %s", flag, ev.valueName(), ev.payload.Kind, t.name)),
			Reason: of.ErrorReason,
		}
		return def, d
	}
	return v, d
}

// valueName says where a mistyped value came from, for messages.
func (ev *evaluation) valueName() string {
	if ev.variant {
		return fmt.Sprintf("variant %q", ev.result.Variant)
	}
	return fmt.Sprintf("the payload in %q", ev.metadata["environment"])
}

var (
	asBool   = typed[bool]{"a bool", func(p *evaluator.Payload) (bool, bool) { return p.Bool, p.Kind == evaluator.KindBool }, nil}
	asString = typed[string]{"a string", func(p *evaluator.Payload) (string, bool) { return p.String, p.Kind == evaluator.KindString }, nil}
	asFloat  = typed[float64]{"a number", func(p *evaluator.Payload) (float64, bool) { return p.Float, p.Kind == evaluator.KindNumber }, nil}
	asInt    = typed[int64]{"an integer", func(p *evaluator.Payload) (int64, bool) { return p.Int, p.Kind == evaluator.KindNumber && p.IsInt }, ldInt}
	asObject = typed[any]{"an object or array", func(p *evaluator.Payload) (any, bool) {
		if p.Kind != evaluator.KindObject && p.Kind != evaluator.KindArray {
			return nil, false
		}
		return p.ObjectCopy(), true
	}, ldAny}
)

// BooleanEvaluation returns true when the flag is on for the context (the
// payload plays no part).
//
// For a variant flag it returns the served variant's value, which must be a
// JSON bool (else TYPE_MISMATCH).
func (p *Provider) BooleanEvaluation(ctx context.Context, flag string, def bool, fc of.FlattenedContext) (d of.BoolResolutionDetail) {
	var ev evaluation
	p.evaluate(ctx, flag, fc, &ev)
	if ev.variant || ev.payloadKey {
		d.Value, d.ProviderResolutionDetail = finish(p, flag, def, &ev, asBool)
		return d
	}
	ev.detail(&d.ProviderResolutionDetail)
	ev.observe(p, &d.ProviderResolutionDetail)
	d.Value = def
	if ev.err == nil {
		d.Value = ev.result.On
	}
	return d
}

// StringEvaluation returns the payload when the flag is on and its payload
// is a JSON string.
func (p *Provider) StringEvaluation(ctx context.Context, flag string, def string, fc of.FlattenedContext) of.StringResolutionDetail {
	v, d := resolve(p, ctx, flag, def, fc, asString)
	return of.StringResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

// FloatEvaluation returns the payload when the flag is on and its payload
// is a JSON number.
func (p *Provider) FloatEvaluation(ctx context.Context, flag string, def float64, fc of.FlattenedContext) of.FloatResolutionDetail {
	v, d := resolve(p, ctx, flag, def, fc, asFloat)
	return of.FloatResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

// IntEvaluation returns the payload when the flag is on and its payload is
// a whole JSON number within int64.
func (p *Provider) IntEvaluation(ctx context.Context, flag string, def int64, fc of.FlattenedContext) of.IntResolutionDetail {
	v, d := resolve(p, ctx, flag, def, fc, asInt)
	return of.IntResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

// ObjectEvaluation returns a deep copy of the payload (map[string]any or
// []any, numbers as float64) when the flag is on and its payload is a JSON
// object or array. The caller owns the copy.
func (p *Provider) ObjectEvaluation(ctx context.Context, flag string, def any, fc of.FlattenedContext) of.InterfaceResolutionDetail {
	v, d := resolve(p, ctx, flag, def, fc, asObject)
	return of.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: d}
}
