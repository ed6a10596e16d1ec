package provider

import (
	"context"
	"errors"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// Flags imported from LaunchDarkly (evaluator.SemanticsLaunchDarkly, see
// package importer) resolve as LaunchDarkly's OpenFeature provider
// (go-sdk-contrib's providers/launchdarkly) resolves them, so that an
// application that switches providers sees the same details:
//
//   - variant: the variation index as decimal text ("0", "1", …), which is
//     what the importer names variants;
//   - reason: OFF → DISABLED, TARGET_MATCH → TARGETING_MATCH, and
//     RULE_MATCH, FALLTHROUGH and PREREQUISITE_FAILED under their
//     LaunchDarkly names (ReasonRuleMatch, ReasonFallthrough,
//     ReasonPrerequisiteFailed); a flag imported into one environment and
//     asked about another is DEFAULT with no variant;
//   - errors: a context without a key or with an invalid kind →
//     TARGETING_KEY_MISSING; a prerequisite cycle, and a part of the flag
//     that the importer found malformed when an evaluation reaches it
//     (both LaunchDarkly's MALFORMED_FLAG, see the evaluator's
//     malformed.go) → PARSE_ERROR; a value of another type → TYPE_MISMATCH;
//     each with the caller's default and reason ERROR (the OpenFeature SDK
//     sets ERROR on every error, for LaunchDarkly's provider too);
//   - values: an integer evaluation of a number with a fraction truncates
//     it, and an object evaluation returns any JSON value (bool, string,
//     float64, map or slice), as LaunchDarkly's IntVariation and
//     JSONVariation do;
//   - context: the flag reads the context itself (see the evaluator's
//     kinds.go), so attributes this provider reads for tutorial flags
//     ("region", "key", "environment") may have any type; "environment",
//     when it is a string, still picks the environment.

// The LaunchDarkly reason names that OpenFeature has no reason for, as
// LaunchDarkly's OpenFeature provider reports them.
const (
	ReasonRuleMatch          of.Reason = "RULE_MATCH"
	ReasonFallthrough        of.Reason = "FALLTHROUGH"
	ReasonPrerequisiteFailed of.Reason = "PREREQUISITE_FAILED"
)

// launchDarklyReason maps an outcome of a flag under LaunchDarkly semantics
// onto the reason LaunchDarkly's OpenFeature provider reports.
func launchDarklyReason(o evaluator.Outcome) of.Reason {
	switch o {
	case evaluator.FlagDisabled, evaluator.EnvironmentDisabled:
		return of.DisabledReason
	case evaluator.TargetMatch:
		return of.TargetingMatchReason
	case evaluator.RuleMatch:
		return ReasonRuleMatch
	case evaluator.PrerequisiteFailed:
		return ReasonPrerequisiteFailed
	case evaluator.Fallthrough:
		return ReasonFallthrough
	}
	return of.DefaultReason
}

// ldInt reads a number as LaunchDarkly's IntVariation does: its float64
// value truncated toward zero.
func ldInt(p *evaluator.Payload) (int64, bool) {
	return int64(int(p.Float)), p.Kind == evaluator.KindNumber
}

// ldAny reads any JSON value as LaunchDarkly's JSONVariation does (numbers
// as float64); the caller owns what it returns.
func ldAny(p *evaluator.Payload) (any, bool) {
	switch p.Kind {
	case evaluator.KindBool:
		return p.Bool, true
	case evaluator.KindString:
		return p.String, true
	case evaluator.KindNumber:
		return p.Float, true
	case evaluator.KindObject, evaluator.KindArray:
		return p.ObjectCopy(), true
	}
	return nil, false
}

var _ evaluator.FlagSource = (*snapshot)(nil)

// Flag implements evaluator.FlagSource for prerequisites: the snapshot's
// own flags, nil for one that is missing or did not compile. It does not
// allocate.
func (s *snapshot) Flag(key string) (*evaluator.Compiled, error) {
	if e, _ := s.flags.get(key); e != nil && e.compiled != nil {
		return e.compiled, nil
	}
	return nil, nil
}

// lookup returns the snapshot's entry of a flag; s may be nil.
func (s *snapshot) lookup(key string) (*entry, bool) {
	if s == nil {
		return nil, false
	}
	return s.flags.get(key)
}

// ownContext reports whether the snapshot's flag of that key reads the
// context itself: it follows LaunchDarkly's or flagd's semantics.
func (s *snapshot) ownContext(key string) bool {
	e, _ := s.flags.get(key)
	return e != nil && e.compiled != nil && (e.compiled.LaunchDarkly() || e.compiled.Flagd())
}

// directFlags is the evaluator.FlagSource of one direct-mode evaluation: it
// reads a prerequisite from Redis when the evaluation needs it, one more
// round trip per prerequisite touching only the asked environment's keys
// (as ReadFacts does for the flag asked about). A variant flag's compiled
// form is cached by fingerprint, as the flag asked about is; a tutorial
// flag is compiled from what ReadFacts read, for this subject and region.
type directFlags struct {
	p      *Provider
	ctx    context.Context
	target target
}

// Flag reads the flag; one that is missing or does not parse is none.
func (d *directFlags) Flag(key string) (*evaluator.Compiled, error) {
	t := d.target
	facts, err := d.p.store.ReadFacts(d.ctx, key, t.environment, t.subject, t.region)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if facts.Variant != nil {
		c, err := d.p.directCompiled(key, t.environment, facts)
		if err != nil {
			return nil, nil //nolint:nilerr // a flag that does not compile is no flag
		}
		return c, nil
	}
	c, err := evaluator.Compile(factsFlag(key, t, facts.Facts))
	if err != nil {
		return nil, nil //nolint:nilerr // as above
	}
	return c, nil
}

// factsFlag is a tutorial flag that evaluates, for t's environment, subject
// and region, as facts say the stored flag does: the environment's switch
// and percent, and allowlists holding the subject or region only when
// Redis said they are members.
func factsFlag(key string, t target, facts evaluator.Facts) evaluator.Flag {
	f := evaluator.Flag{Key: key, DefaultEnabled: facts.DefaultEnabled, Bucketing: facts.Scheme.String()}
	if facts.Scheme == evaluator.SchemeSHA256 {
		f.Bucketing = ""
	}
	if !facts.EnvFound {
		return f
	}
	env := evaluator.Environment{Enabled: facts.EnvEnabled, RolloutPercent: facts.Percent}
	if facts.UserListed {
		env.AllowlistUsers = []string{t.subject}
	}
	if facts.RegionListed {
		env.AllowlistRegions = []string{t.region}
	}
	f.Environments = map[string]evaluator.Environment{t.environment: env}
	return f
}
