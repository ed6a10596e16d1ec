package evaluator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// This file holds progressive rollouts (docs/design.md §14): an
// environment's share of subjects as a pure function of time. The evaluator
// never reads a clock: the caller puts the instant in Input.Now (the
// provider does so only for flags that have a rollout, so flags without one
// pay nothing).
//
// Membership is monotonic: a subject's bucket never changes (it is the
// flag's own bucketing of "<flagKey>:<environment>:<subject>"), only the
// threshold, and validation refuses a rollout whose percent could go down
// with time. A subject in at 5 % is in at 25 %. Going down is an explicit
// act — a rollback replaces the rollout (see the release package) — never
// something the clock does.

// MaxRolloutSteps bounds the steps of one rollout.
const MaxRolloutSteps = 100

// Rollout is a progressive rollout of one environment: either a ramp (From
// at Start, rising linearly to To at End) or steps (From until the first
// step's At, then each step's Percent from its At on). While an environment
// has a Rollout, the percent it serves is the rollout's at the instant of
// the evaluation and its rolloutPercent is only what applications reading
// the tutorial's fields see (a scheduler keeps it at the current percent).
//
// On a tutorial flag the percent is the rollout step's threshold (step 6 of
// docs/design.md §3). On a variant flag Variant names the treatment: after
// targets and rules, a subject whose bucket is below the percent is served
// Variant (outcome SplitServed); the others fall through to the flag's
// split or default variant (the control) as before. The treatment's weight
// moves from 0 to the percent and the control keeps the rest; since the
// bucket is fixed, a subject once in the treatment stays there.
type Rollout struct {
	// From is the percent served before the ramp's Start or the first step.
	From int `json:"from"`
	// To is the ramp's final percent, served from End on.
	To int `json:"to,omitempty"`
	// Start and End bound the ramp (RFC 3339); both empty for steps.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	// Steps are the steps of a stepped rollout, in time order.
	Steps []RolloutStep `json:"steps,omitempty"`
	// Variant is the treatment of a variant flag's rollout; empty (and
	// refused) on a tutorial flag.
	Variant string `json:"variant,omitempty"`
	// PausedAt, when set (RFC 3339), freezes the rollout at the percent it
	// served at that instant, until it is resumed.
	PausedAt string `json:"pausedAt,omitempty"`
}

// RolloutStep is one step of a stepped [Rollout]: Percent from At on.
type RolloutStep struct {
	At      string `json:"at"`
	Percent int    `json:"percent"`
}

// Clone returns a deep copy of r (nil for nil).
func (r *Rollout) Clone() *Rollout {
	if r == nil {
		return nil
	}
	c := *r
	c.Steps = append([]RolloutStep(nil), r.Steps...)
	if r.Steps == nil {
		c.Steps = nil
	}
	return &c
}

// IsRamp reports whether r is a ramp rather than steps.
func (r *Rollout) IsRamp() bool { return r.Start != "" || r.End != "" }

// CompiledRollout is a validated [Rollout] with its instants parsed.
// Immutable; safe for concurrent use.
type CompiledRollout struct {
	from, to   int
	start, end int64 // Unix milliseconds; ramp only
	ramp       bool
	stepAt     []int64
	stepPct    []int
	paused     bool
	pausedAt   int64
	variant    string
	variantIdx int // index into the flag's variants; -1 for a tutorial flag
}

// CompileRollout validates r on its own (a variant's existence is checked
// by [Compile]) and returns its compiled form.
func CompileRollout(r *Rollout) (*CompiledRollout, error) {
	v := &ValidationError{}
	c := compileProgressive(v, "rollout", r)
	if err := v.orNil(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseInstant(v *ValidationError, path, s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.add(path, "must be an RFC 3339 date-time, got %q", s)
		return 0
	}
	return t.UnixMilli()
}

func validPercent(v *ValidationError, path string, p int) {
	if p < 0 || p > 100 {
		v.add(path, "must be an integer from 0 to 100, got %d", p)
	}
}

func compileProgressive(v *ValidationError, path string, r *Rollout) *CompiledRollout {
	c := &CompiledRollout{from: r.From, to: r.To, variant: r.Variant, variantIdx: -1}
	validPercent(v, path+".from", r.From)
	if r.PausedAt != "" {
		c.paused, c.pausedAt = true, parseInstant(v, path+".pausedAt", r.PausedAt)
	}
	if r.IsRamp() {
		c.ramp = true
		validPercent(v, path+".to", r.To)
		if len(r.Steps) > 0 {
			v.add(path, "is either a ramp (start, end, to) or steps, not both")
		}
		c.start = parseInstant(v, path+".start", r.Start)
		c.end = parseInstant(v, path+".end", r.End)
		if c.end <= c.start && r.Start != "" && r.End != "" {
			v.add(path+".end", "must be after start")
		}
		if r.To < r.From {
			v.add(path+".to", "must not be below from (%d): a rollout only rises; roll back explicitly", r.From)
		}
		return c
	}
	if r.To != 0 {
		v.add(path+".to", "belongs to a ramp (with start and end)")
	}
	if len(r.Steps) == 0 {
		v.add(path, "needs a ramp (start, end, to) or at least one step")
	}
	if len(r.Steps) > MaxRolloutSteps {
		v.add(path+".steps", "has %d steps; the limit is %d", len(r.Steps), MaxRolloutSteps)
		return c
	}
	prevPct, prevAt := r.From, int64(0)
	for i, s := range r.Steps {
		p := fmt.Sprintf("%s.steps[%d]", path, i)
		at := parseInstant(v, p+".at", s.At)
		validPercent(v, p+".percent", s.Percent)
		if i > 0 && at <= prevAt {
			v.add(p+".at", "must be after the previous step's")
		}
		if s.Percent < prevPct {
			v.add(p+".percent", "must not be below the previous percent (%d): a rollout only rises; roll back explicitly", prevPct)
		}
		prevPct, prevAt = s.Percent, at
		c.stepAt = append(c.stepAt, at)
		c.stepPct = append(c.stepPct, s.Percent)
	}
	return c
}

// PercentAt returns the percent the rollout serves at t. It does not
// allocate and never decreases as t grows.
func (c *CompiledRollout) PercentAt(t time.Time) int {
	ms := t.UnixMilli()
	if t.IsZero() {
		ms = 0
	}
	if c.paused && ms > c.pausedAt {
		ms = c.pausedAt
	}
	if c.ramp {
		switch {
		case ms < c.start:
			return c.from
		case ms >= c.end:
			return c.to
		}
		// Whole percents: the bucket is 0–99, so a fraction changes nothing.
		return c.from + int(int64(c.to-c.from)*(ms-c.start)/(c.end-c.start))
	}
	p := c.from
	for i, at := range c.stepAt {
		if ms < at {
			break
		}
		p = c.stepPct[i]
	}
	return p
}

// NextChange returns the first instant after t at which the percent served
// changes, and false when it never changes again (a finished or paused
// rollout). A scheduler uses it to know when to write rolloutPercent.
func (c *CompiledRollout) NextChange(t time.Time) (time.Time, bool) {
	ms := t.UnixMilli()
	if c.paused {
		return time.Time{}, false
	}
	if c.ramp {
		if ms >= c.end || c.to == c.from {
			return time.Time{}, false
		}
		if ms < c.start {
			ms = c.start
		}
		cur := c.PercentAt(time.UnixMilli(ms))
		// The first millisecond at which from + (to-from)*(x-start)/(end-start) ≥ cur+1.
		span, rise := c.end-c.start, int64(c.to-c.from)
		need := int64(cur + 1 - c.from)
		x := c.start + (need*span+rise-1)/rise
		if x <= t.UnixMilli() {
			x = t.UnixMilli() + 1
		}
		return time.UnixMilli(min(x, c.end)).UTC(), true
	}
	cur := c.PercentAt(t)
	for i, at := range c.stepAt {
		if at > ms && c.stepPct[i] != cur {
			return time.UnixMilli(at).UTC(), true
		}
	}
	return time.Time{}, false
}

// Variant returns the treatment variant ("" on a tutorial flag).
func (c *CompiledRollout) Variant() string { return c.variant }

// Paused reports whether the rollout is paused.
func (c *CompiledRollout) Paused() bool { return c.paused }

// Rollout returns the environment's compiled rollout, or nil.
func (e *CompiledEnvironment) Rollout() *CompiledRollout { return e.rollout }

// HasRollout reports whether some environment of c has a progressive
// rollout, so that evaluations need Input.Now.
func (c *Compiled) HasRollout() bool { return c.rollout }

// validateRollout checks an environment's rollout; on a variant flag the
// treatment must be one of its variants (checked in compileEnvRollout).
func validateRollout(v *ValidationError, f *Flag, path string, env *Environment) {
	if env.Rollout == nil {
		return
	}
	p := path + ".rollout"
	compileProgressive(v, p, env.Rollout)
	switch {
	case f.IsVariantFlag() && env.Rollout.Variant == "":
		v.add(p+".variant", "is required on a variant flag: it names the treatment the rollout moves subjects to")
	case f.IsVariantFlag():
		if _, ok := f.Variants[env.Rollout.Variant]; !ok {
			v.add(p+".variant", "names variant %q, which the flag does not have", env.Rollout.Variant)
		}
	case env.Rollout.Variant != "":
		v.add(p+".variant", "needs variants: only a variant flag has a treatment")
	}
}

// rolloutThreshold is the variant-flag step of a rollout: the treatment for
// subjects below the percent at in.Now. ok is false when the subject falls
// through to the flag's split or default.
func (c *Compiled) rolloutThreshold(in *Input, env *CompiledEnvironment) (r Result, ok bool) {
	ro := env.rollout
	pct := ro.PercentAt(in.Now)
	r = Result{Bucket: -1, Percent: pct, Outcome: SplitServed}
	switch {
	case pct <= 0:
		return r, false
	case in.Subject == "" && pct >= 100:
		c.variant.serve(&r, ro.variantIdx)
		return r, true
	case in.Subject == "":
		return Result{Bucket: -1, Err: SubjectMissing}, true
	}
	r.Bucket = BucketWith(c.scheme, c.key, in.Environment, in.Subject, false)
	if r.Bucket < pct {
		c.variant.serve(&r, ro.variantIdx)
		return r, true
	}
	return r, false
}

// ParseRollout decodes and validates the JSON form of a rollout (unknown
// fields refused), as stored in an environment's "rollout" field.
func ParseRollout(data []byte) (*Rollout, error) {
	var r Rollout
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("rollout: trailing data after the JSON value")
	}
	if _, err := CompileRollout(&r); err != nil {
		return nil, err
	}
	return &r, nil
}
