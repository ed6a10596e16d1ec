package evaluator

import (
	"fmt"
	"slices"
)

// Segment is a LaunchDarkly segment, carried by each flag that names it in
// an OpSegmentMatch condition (Flag.Segments, by segment key). A context is
// in the segment, tested in this order, as LaunchDarkly tests it:
//
//  1. when it has a "user" context whose key is in Included;
//  2. unless it is a single "user" context: when it has a context of the
//     kind of an IncludedContexts entry whose key is in that entry's Values;
//  3. not when its "user" key is in Excluded, nor (unless it is a single
//     "user" context) when an ExcludedContexts entry lists it;
//  4. when a rule holds: all its conditions, and, when Weight is set, a
//     LaunchDarkly bucket (BucketLD with the segment's key and Salt, bucket
//     by BucketBy in the context of RolloutContextKind) below
//     Weight/100000. A context without that kind is not in the rule; one
//     without the bucket-by attribute is in bucket 0.
type Segment struct {
	Included         []string        `json:"included,omitempty"`
	Excluded         []string        `json:"excluded,omitempty"`
	IncludedContexts []SegmentTarget `json:"includedContexts,omitempty"`
	ExcludedContexts []SegmentTarget `json:"excludedContexts,omitempty"`
	Rules            []SegmentRule   `json:"rules,omitempty"`
	Salt             string          `json:"salt,omitempty"`
}

// SegmentTarget lists keys of contexts of one kind ("" is "user").
type SegmentTarget struct {
	ContextKind string   `json:"contextKind,omitempty"`
	Values      []string `json:"values"`
}

// SegmentRule is one rule of a Segment. Weight is in thousandths of a
// percent (0–100000); nil means every context the conditions hold for.
// BucketBy is a LaunchDarkly attribute reference ("" is the key) and
// RolloutContextKind the kind it is read from ("" is "user").
type SegmentRule struct {
	Conditions         []Condition `json:"conditions,omitempty"`
	Weight             *int        `json:"weight,omitempty"`
	BucketBy           string      `json:"bucketBy,omitempty"`
	RolloutContextKind string      `json:"rolloutContextKind,omitempty"`
}

func (s Segment) clone() Segment {
	c := s
	c.Included = slices.Clone(s.Included)
	c.Excluded = slices.Clone(s.Excluded)
	c.IncludedContexts = cloneSegmentTargets(s.IncludedContexts)
	c.ExcludedContexts = cloneSegmentTargets(s.ExcludedContexts)
	if s.Rules != nil {
		c.Rules = make([]SegmentRule, len(s.Rules))
		for i, r := range s.Rules {
			r.Conditions = cloneConditions(r.Conditions)
			if r.Weight != nil {
				w := *r.Weight
				r.Weight = &w
			}
			c.Rules[i] = r
		}
	}
	return c
}

func cloneSegmentTargets(ts []SegmentTarget) []SegmentTarget {
	if ts == nil {
		return nil
	}
	out := make([]SegmentTarget, len(ts))
	for i, t := range ts {
		t.Values = slices.Clone(t.Values)
		out[i] = t
	}
	return out
}

// compiledSegment is a compiled Segment. Immutable once its flag is
// compiled.
type compiledSegment struct {
	key, salt          string
	included, excluded stringSet
	includedCtx        []segmentTarget
	excludedCtx        []segmentTarget
	rules              []segmentRule
}

type segmentTarget struct {
	kind string
	keys stringSet
}

type segmentRule struct {
	conds    []cond
	weighted bool
	weight   float32 // Weight/100000 in float32, as LaunchDarkly compares it
	rollout  ldRollout
}

// scope is what compiling a flag's conditions needs beyond the condition:
// the flag's segments, and the segment names a segment's rules use (to find
// cycles).
type scope struct {
	segs map[string]*compiledSegment
	refs *[]string // when set, segmentMatch conditions add their names here
	// flagd: the flag follows SemanticsFlagd (see flagd.go).
	flagd bool
}

// compileSegments compiles f.Segments. Problems, a segment that names
// itself through its rules included, go to v.
func compileSegments(v *ValidationError, f *Flag) *scope {
	sc := &scope{segs: make(map[string]*compiledSegment, len(f.Segments))}
	names := sortedKeys(f.Segments)
	for _, name := range names {
		if !ValidName(name) {
			v.add("segments."+name, "segment key %s", nameProblem(name))
		}
		sc.segs[name] = &compiledSegment{key: name}
	}
	uses := make(map[string][]string, len(names))
	for _, name := range names {
		s := f.Segments[name]
		cs := sc.segs[name]
		path := "segments." + name
		cs.salt = s.Salt
		cs.included = newStringSet(s.Included)
		cs.excluded = newStringSet(s.Excluded)
		cs.includedCtx = compileSegmentTargets(v, path+".includedContexts", s.IncludedContexts)
		cs.excludedCtx = compileSegmentTargets(v, path+".excludedContexts", s.ExcludedContexts)
		var refs []string
		inner := &scope{segs: sc.segs, refs: &refs}
		for i, r := range s.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, i)
			sr := segmentRule{}
			for j, c := range r.Conditions {
				sr.conds = append(sr.conds, compileCondition(v, inner, fmt.Sprintf("%s.conditions[%d]", rp, j), c, 0))
			}
			if r.Weight != nil {
				if *r.Weight < 0 || *r.Weight > ldWeightScale {
					v.add(rp+".weight", "must be from 0 to 100000 (thousandths of a percent), got %d", *r.Weight)
				}
				sr.weighted = true
				sr.weight = float32(*r.Weight) / ldWeightScale
				sr.rollout = compileRollout(v, rp, r.RolloutContextKind, r.BucketBy, "bucketBy", "rolloutContextKind")
			} else if r.BucketBy != "" || r.RolloutContextKind != "" {
				v.add(rp, "bucketBy and rolloutContextKind need a weight")
			}
			cs.rules = append(cs.rules, sr)
		}
		uses[name] = refs
	}
	// A segment that reaches itself through segmentMatch would recurse
	// forever; LaunchDarkly fails such evaluations, redisflags refuses the
	// definition.
	state := map[string]int{} // 1: on the current path, 2: done
	var visit func(name string, path []string) bool
	visit = func(name string, path []string) bool {
		switch state[name] {
		case 1:
			v.add("segments."+path[0], "reaches itself through segmentMatch: %v", append(path, name))
			return false
		case 2:
			return true
		}
		state[name] = 1
		for _, next := range uses[name] {
			if !visit(next, append(path, name)) {
				return false
			}
		}
		state[name] = 2
		return true
	}
	for _, name := range names {
		if !visit(name, nil) {
			break
		}
	}
	return sc
}

func compileSegmentTargets(v *ValidationError, path string, ts []SegmentTarget) []segmentTarget {
	out := make([]segmentTarget, 0, len(ts))
	for i, t := range ts {
		kind := t.ContextKind
		if kind == "" {
			kind = DefaultKind
		}
		if !validKind(kind) {
			v.add(fmt.Sprintf("%s[%d].contextKind", path, i), "%q is not a context kind (letters, digits, '.', '_', '-'; not \"kind\" or \"multi\")", t.ContextKind)
		}
		out = append(out, segmentTarget{kind: kind, keys: newStringSet(t.Values)})
	}
	return out
}

// compileRollout compiles the LaunchDarkly bucketing parameters of a split
// or segment rule; field names the bucket-by and kind fields in messages.
func compileRollout(v *ValidationError, path, kind, bucketBy, byField, kindField string) ldRollout {
	r := ldRollout{kind: kind}
	if r.kind == "" {
		r.kind = DefaultKind
	}
	if !validKind(r.kind) {
		v.add(path+"."+kindField, "%q is not a context kind (letters, digits, '.', '_', '-'; not \"kind\" or \"multi\")", kind)
	}
	if bucketBy != "" {
		ref, err := parseRef(bucketBy)
		if err != nil {
			v.add(path+"."+byField, "%q %v", bucketBy, err)
		}
		r.ref = ref
	}
	return r
}

// matches reports whether the input's context is in the segment (see
// Segment). It does not allocate.
func (s *compiledSegment) matches(in *Input) bool {
	user, hasUser := in.contextOf(DefaultKind)
	onlyUser := in.onlyUserContext()
	if hasUser && s.included.has(user.key) {
		return true
	}
	if !onlyUser {
		for i := range s.includedCtx {
			if t := &s.includedCtx[i]; t.has(in) {
				return true
			}
		}
	}
	if hasUser && s.excluded.has(user.key) {
		return false
	}
	if !onlyUser {
		for i := range s.excludedCtx {
			if t := &s.excludedCtx[i]; t.has(in) {
				return false
			}
		}
	}
	for i := range s.rules {
		if s.rules[i].holds(in, s) {
			return true
		}
	}
	return false
}

func (t *segmentTarget) has(in *Input) bool {
	ctx, ok := in.contextOf(t.kind)
	return ok && t.keys.has(ctx.key)
}

func (r *segmentRule) holds(in *Input, s *compiledSegment) bool {
	for i := range r.conds {
		if !r.conds[i].eval(in) {
			return false
		}
	}
	if !r.weighted {
		return true
	}
	b, lacksKind := r.rollout.bucket(in, s.key, s.salt)
	return !lacksKind && b < r.weight
}
