package evaluator

import "time"

// Outcome is why an evaluation came out on or off. Its String is the
// tutorial's reason name.
type Outcome uint8

// The outcomes, in the order of the evaluation steps.
const (
	// NoOutcome is the zero Outcome: the evaluation failed (see Result.Err).
	NoOutcome Outcome = iota
	FlagDisabled
	EnvironmentMissing
	EnvironmentDisabled
	AllowlistUser
	AllowlistRegion
	RolloutHit
	RolloutMiss
	// The outcomes below are those of variant flags (see rich.go).

	// Static: a variant flag without rules served its default variant.
	Static
	// RuleMatch: a targeting rule served a variant.
	RuleMatch
	// SplitServed: a weighted split (a rule's or the flag's) served a variant.
	SplitServed
	// DefaultServed: the flag has rules, none held, and it served its
	// default variant.
	DefaultServed
	// The outcomes below come with LaunchDarkly's model (see kinds.go).

	// TargetMatch: an individual target (Flag.Targets) served a variant.
	TargetMatch
	// PrerequisiteFailed: a prerequisite was not met; the flag served its
	// off variant (or no value).
	PrerequisiteFailed
	// Fallthrough: under SemanticsLaunchDarkly, no target or rule decided
	// and the flag served its fallthrough (default variant or split).
	Fallthrough
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	NoOutcome:           "",
	FlagDisabled:        "flag-disabled",
	EnvironmentMissing:  "environment-missing",
	EnvironmentDisabled: "environment-disabled",
	AllowlistUser:       "allowlist-user",
	AllowlistRegion:     "allowlist-region",
	RolloutHit:          "rollout-hit",
	RolloutMiss:         "rollout-miss",
	Static:              "static",
	RuleMatch:           "rule-match",
	SplitServed:         "split",
	DefaultServed:       "default",
	TargetMatch:         "target-match",
	PrerequisiteFailed:  "prerequisite-failed",
	Fallthrough:         "fallthrough",
}

// String returns the tutorial's reason name, such as "rollout-hit".
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// ErrorKind says why an evaluation produced no outcome.
type ErrorKind uint8

const (
	// NoError: the evaluation has an outcome.
	NoError ErrorKind = iota
	// SubjectMissing: the rollout step needs a subject and none was given.
	SubjectMissing
	// AttributeMissing: a split buckets by a context attribute that is
	// missing or not a string.
	AttributeMissing
	// VariantUnknown: a CEL rule named a variant the flag does not have.
	VariantUnknown
	// MembershipUnavailable: a large allowlist could not be asked (see
	// Membership).
	MembershipUnavailable
	// ContextInvalid: a flag under SemanticsLaunchDarkly was asked about a
	// context that is not a valid LaunchDarkly context (no key, a bad
	// kind), which LaunchDarkly refuses to evaluate.
	ContextInvalid
	// PrerequisiteCycle: the flag's prerequisites lead back to a flag
	// being evaluated, or nest deeper than MaxPrerequisiteDepth
	// (LaunchDarkly's MALFORMED_FLAG).
	PrerequisiteCycle
	// FlagsUnavailable: Input.Flags could not answer for a prerequisite.
	FlagsUnavailable
	// Malformed: the evaluation reached a part of the flag that its source
	// data had malformed (MalformedVariant; LaunchDarkly's MALFORMED_FLAG
	// when it serves such a part). As a prerequisite, it is not met.
	Malformed
	// MalformedCondition: the evaluation reached a rule condition that
	// its source data had malformed (OpMalformed; LaunchDarkly's
	// MALFORMED_FLAG for a clause it cannot read). As a prerequisite, it
	// fails the evaluation of the flag that needs it, as LaunchDarkly does.
	MalformedCondition
)

// List names an allowlist.
type List uint8

// The allowlists of an environment.
const (
	ListUsers List = iota
	ListRegions
)

// Membership answers membership of allowlists too large to hold in memory
// (Environment.LargeUsers, LargeRegions). The provider implements it with
// SISMEMBER and a small cache. Implementations must be safe for concurrent
// use.
type Membership interface {
	IsMember(flagKey, environment string, list List, member string) (bool, error)
}

// Input is what one evaluation is asked about. An empty Subject or Region
// means none was given. Attributes, which may be nil, are the context
// attributes rules look at; tutorial flags never read them.
type Input struct {
	// Environment names the environment evaluated.
	Environment string
	// Subject is the subject bucketed and matched against allowlists and
	// targets; "" when the context has none.
	Subject string
	// Region is matched against region allowlists; "" for none.
	Region string
	// Attributes are the context's attributes, read by rules, splits and
	// LaunchDarkly clauses; nil reads as no attributes.
	Attributes Attributes
	// Members answers for large allowlists; nil when the flag has none.
	Members Membership
	// Flags gives the flag's prerequisites; nil counts every prerequisite
	// as a missing flag (not met).
	Flags FlagSource
	// Now is the instant of the evaluation, read only by environments with
	// a progressive rollout (Environment.Rollout) and by flags following
	// SemanticsFlagd as "$flagd.timestamp" (whole seconds); the zero time
	// reads as before every rollout started. Callers need set it only when
	// [Compiled.HasRollout] or [Compiled.UsesTime] (or the flag has
	// prerequisites).
	Now time.Time
	// Interrupt, when not nil, stops the evaluation of CEL rules once it is
	// done (a stopped rule does not hold); the provider passes the caller's
	// context. Nothing else consults it.
	Interrupt Interrupter
}

// Result is the value-type answer of one evaluation.
type Result struct {
	// On is true when the flag is on for the input.
	On bool
	// Outcome is the step that decided; NoOutcome when Err is set.
	Outcome Outcome
	// Err is set when no outcome could be reached.
	Err ErrorKind
	// Bucket is the subject's bucket (0–99) when the rollout step computed
	// one, else -1.
	Bucket int
	// Percent is the environment's rolloutPercent when the rollout step was
	// reached, else 0.
	Percent int
	// Variant is the variant a variant flag served; empty for tutorial
	// flags and when a variant flag served no variant (disabled without an
	// off variant).
	Variant string
	// Value is the served variant's value, decoded per type; nil when
	// Variant is empty. Shared and read-only.
	Value *Payload
}

// Facts are the inputs of the decision, gathered by whoever holds the data:
// a [Compiled] flag from its precomputed sets, or a caller that asked Redis
// for just these facts (direct reads). Both paths use [Decide], so they
// cannot disagree.
type Facts struct {
	FlagKey        string
	DefaultEnabled bool
	EnvFound       bool
	EnvEnabled     bool
	Percent        int
	Environment    string
	Subject        string
	UserListed     bool
	RegionListed   bool
	// Scheme is the flag's bucketing scheme (Flag.Bucketing).
	Scheme Scheme
	// Rollout, when not nil, replaces Percent with its percent at Now.
	Rollout *CompiledRollout
	// Now is the instant Rollout is read at.
	Now time.Time
}

// Decide runs the six evaluation steps on f. It does not allocate.
func Decide(f Facts) Result {
	if f.Rollout != nil {
		f.Percent = f.Rollout.PercentAt(f.Now)
	}
	switch {
	case !f.DefaultEnabled:
		return Result{Outcome: FlagDisabled, Bucket: -1}
	case !f.EnvFound:
		return Result{Outcome: EnvironmentMissing, Bucket: -1}
	case !f.EnvEnabled:
		return Result{Outcome: EnvironmentDisabled, Bucket: -1}
	case f.UserListed:
		return Result{On: true, Outcome: AllowlistUser, Bucket: -1}
	case f.RegionListed:
		return Result{On: true, Outcome: AllowlistRegion, Bucket: -1}
	}
	r := Result{Bucket: -1, Percent: f.Percent}
	if f.Subject == "" {
		// Without a subject there is no bucket. 0% and 100% do not need one;
		// anything between does.
		switch {
		case f.Percent <= 0:
			r.Outcome = RolloutMiss
		case f.Percent >= 100:
			r.On, r.Outcome = true, RolloutHit
		default:
			r.Err, r.Percent = SubjectMissing, 0
		}
		return r
	}
	r.Bucket = BucketWith(f.Scheme, f.FlagKey, f.Environment, f.Subject, false)
	if r.Bucket < f.Percent {
		r.On, r.Outcome = true, RolloutHit
	} else {
		r.Outcome = RolloutMiss
	}
	return r
}
