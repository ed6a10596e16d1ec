package evaluator

import (
	"encoding/json"
	"slices"
)

// Flag is a flag definition in the JSON form of the Redis feature-flags
// tutorial. It is plain data: build it, validate it with [Validate] or
// [Compile], and hand it to a store. The zero value is a disabled flag with no
// key (which does not validate).
type Flag struct {
	// Key is the flag key: 1–128 letters, digits, '.', '_' or '-'.
	Key string `json:"flagKey"`
	// Description is free text for people.
	Description string `json:"description"`
	// DefaultEnabled switches the whole flag; false turns it off everywhere.
	DefaultEnabled bool `json:"defaultEnabled"`
	// Environments maps an environment name to its settings.
	Environments map[string]Environment `json:"environments"`
	// UpdatedAt is set by the store on every write (RFC 3339, UTC,
	// milliseconds, "Z"); it is ignored on input.
	UpdatedAt string `json:"updatedAt,omitempty"`
	// Version counts writes made by this project's store; 0 means unknown
	// (a flag written by the tutorial's application or by hand).
	Version int64 `json:"version,omitempty"`

	// The fields below extend the tutorial's model (see rich.go); all are
	// optional and a flag without Variants ignores Rules, Split,
	// DefaultVariant and OffVariant.

	// Variants maps a variant name (1–128 letters, digits, '.', '_', '-') to
	// its value as JSON text. A flag with variants is a variant flag.
	Variants map[string]json.RawMessage `json:"variants,omitempty"`
	// DefaultVariant is served when no rule decides; required with Variants.
	DefaultVariant string `json:"defaultVariant,omitempty"`
	// OffVariant is served when the flag or its environment is disabled;
	// empty means the caller's default value (reason DISABLED either way).
	OffVariant string `json:"offVariant,omitempty"`
	// Rules are the targeting rules, tried in order.
	Rules []Rule `json:"rules,omitempty"`
	// Split, when set, replaces DefaultVariant when no rule holds.
	Split *Split `json:"split,omitempty"`
	// Metadata is flag metadata returned with every resolution: string,
	// number or bool values only. Keys must not clash with the ones the
	// provider sets ("environment", "evaluationReason", "version",
	// "expiresAt").
	Metadata map[string]any `json:"metadata,omitempty"`
	// Bucketing names the bucketing scheme of rollouts and splits:
	// BucketSHA256 (the default, also when empty), BucketMD5Canary or
	// BucketMurmur3.
	Bucketing string `json:"bucketing,omitempty"`
	// ExpiresAt is the flag's kill date (RFC 3339 date or date-time): after
	// it, the flag should have been removed from the code. It does not change
	// evaluation; lint reports it and resolutions carry it as metadata.
	ExpiresAt string `json:"expiresAt,omitempty"`

	// The fields below carry LaunchDarkly's flag model (see kinds.go,
	// segment.go and prerequisite.go); like the rich fields above they need
	// Variants, and a flag without them evaluates as before.

	// Prerequisites are flags that must serve a given variant before this
	// one evaluates its targets and rules; otherwise it serves OffVariant
	// with outcome PrerequisiteFailed.
	Prerequisites []Prerequisite `json:"prerequisites,omitempty"`
	// Targets serve a variant to listed context keys, before the rules.
	Targets []Target `json:"targets,omitempty"`
	// Segments are the segments the flag's conditions name with the
	// "segmentMatch" operator, by segment key. Each flag carries its own
	// copy, so that it evaluates alone (in direct mode too).
	Segments map[string]Segment `json:"segments,omitempty"`
	// Salt is mixed into BucketLaunchDarkly's hash ("<flagKey>.<salt>.");
	// empty is a valid salt.
	Salt string `json:"salt,omitempty"`
	// Semantics names whose evaluation rules the flag follows where they
	// differ: "" (redisflags'), SemanticsLaunchDarkly or SemanticsFlagd. See
	// [SemanticsLaunchDarkly].
	Semantics string `json:"semantics,omitempty"`
	// Malformed says why parts of the flag's source data were malformed,
	// one "field: reason" line each (see malformed.go): the parts are
	// imported as MalformedVariant and OpMalformed, which fail the
	// evaluations that reach them. Required when the flag uses either.
	Malformed []string `json:"malformed,omitempty"`
}

// Environment holds a flag's settings in one environment.
type Environment struct {
	// Enabled switches the flag in this environment.
	Enabled bool `json:"enabled"`
	// RolloutPercent is the share of subjects, 0–100, that get the flag on.
	RolloutPercent int `json:"rolloutPercent"`
	// Value is the remote-config payload served when the flag is on, as JSON
	// text; nil (or JSON null) means no payload.
	Value json.RawMessage `json:"value,omitempty"`
	// AllowlistUsers are subjects that always get the flag on.
	AllowlistUsers []string `json:"allowlistUsers"`
	// AllowlistRegions are regions whose subjects always get the flag on.
	AllowlistRegions []string `json:"allowlistRegions"`
	// UpdatedAt is set by the store on every write; ignored on input.
	UpdatedAt string `json:"updatedAt,omitempty"`

	// LargeUsers and LargeRegions, when above zero, say that the allowlist
	// of that many members was left in Redis rather than loaded (see the
	// store's large-set threshold): the allowlist fields are then empty and
	// evaluation asks Input.Members. Never part of the JSON form.
	LargeUsers   int64 `json:"-"`
	LargeRegions int64 `json:"-"`

	// Rollout, when set, is the environment's progressive rollout (see
	// schedule.go): the percent served becomes a function of time, and
	// RolloutPercent is what readers of the tutorial's fields see.
	Rollout *Rollout `json:"rollout,omitempty"`
}

// HasLargeAllowlist reports whether an allowlist of e was left in Redis.
func (e Environment) HasLargeAllowlist() bool { return e.LargeUsers > 0 || e.LargeRegions > 0 }

// HasValue reports whether the environment carries a payload (not absent and
// not JSON null).
func (e Environment) HasValue() bool {
	return len(e.Value) > 0 && string(e.Value) != "null"
}

// Clone returns a deep copy of f, so that the copy can be changed without
// touching f.
func (f Flag) Clone() Flag {
	c := f
	if f.Environments != nil {
		c.Environments = make(map[string]Environment, len(f.Environments))
		for name, env := range f.Environments {
			c.Environments[name] = env.clone()
		}
	}
	cloneRich(&c, f)
	return c
}

func (e Environment) clone() Environment {
	c := e
	c.Value = slices.Clone(e.Value)
	c.AllowlistUsers = slices.Clone(e.AllowlistUsers)
	c.AllowlistRegions = slices.Clone(e.AllowlistRegions)
	c.Rollout = e.Rollout.Clone()
	return c
}

// EnvironmentNames returns the flag's environment names, sorted.
func (f Flag) EnvironmentNames() []string {
	return sortedKeys(f.Environments)
}
