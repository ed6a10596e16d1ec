package evaluator

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
)

// Input is what one evaluation is asked about. An empty Subject or Region
// means none was given.
type Input struct {
	Environment string
	Subject     string
	Region      string
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
}

// Decide runs the six evaluation steps on f. It does not allocate.
func Decide(f Facts) Result {
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
	r.Bucket = Bucket(f.FlagKey, f.Environment, f.Subject)
	if r.Bucket < f.Percent {
		r.On, r.Outcome = true, RolloutHit
	} else {
		r.Outcome = RolloutMiss
	}
	return r
}
