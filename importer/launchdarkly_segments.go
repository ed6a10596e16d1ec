package importer

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/redisflags/redisflags/evaluator"
)

// ldSegment is one segment of the data, translated; its problems are the
// problems of every flag that uses it.
type ldSegment struct {
	seg     evaluator.Segment
	uses    []string // segments its rules name
	is      ldIssues
	deleted bool
	// state: 1 while its rules are being translated (a segment reached
	// again then is a cycle), 2 once done.
	state int
	used  bool // some imported flag names it
}

// segment returns the named segment, translating it on first use; nil when
// the data has none of that key.
func (d *ldData) segment(key string) *ldSegment {
	if s, ok := d.segs[key]; ok {
		if s != nil && s.state == 1 {
			s.is.invalid("", "reaches itself through segmentMatch, which LaunchDarkly fails as malformed")
		}
		return s
	}
	raw, ok := d.segRaw[key]
	if !ok {
		d.segs[key] = nil
		return nil
	}
	s := &ldSegment{state: 1}
	d.segs[key] = s
	defer func() { s.state = 2 }()
	is := &s.is
	o, ok := newLDObj(raw, "", is)
	if !ok {
		return s
	}
	if k, _ := o.str("key"); k != key {
		is.invalid("key", "is %q; LaunchDarkly hashes segment rollouts with it, so it must equal the segment's key %q", k, key)
	}
	if !evaluator.ValidName(key) {
		is.invalid("", "%q is not a valid redisflags segment key (1–128 letters, digits, '.', '_', '-')", key)
	}
	if o.boolean("deleted") {
		s.deleted = true
		return s
	}
	if o.boolean("unbounded") {
		is.unsupported("unbounded", "", "big segments (unbounded) live in a store LaunchDarkly's relay fills; redisflags has no such store")
	}
	seg := evaluator.Segment{
		Included: o.strs("included"),
		Excluded: o.strs("excluded"),
	}
	seg.Salt, _ = o.str("salt")
	readTargets := func(name string) []evaluator.SegmentTarget {
		var out []evaluator.SegmentTarget
		for i, t := range o.objs(name) {
			k, _ := t.str("contextKind")
			if k != "" && !validKindName(k) {
				is.invalid(fmt.Sprintf("%s[%d].contextKind", name, i), "%q is not a context kind", k)
				continue
			}
			out = append(out, evaluator.SegmentTarget{ContextKind: k, Values: t.strs("values")})
		}
		return out
	}
	seg.IncludedContexts = readTargets("includedContexts")
	seg.ExcludedContexts = readTargets("excludedContexts")
	for i, ro := range o.objs("rules") {
		path := fmt.Sprintf("rules[%d]", i)
		rule := evaluator.SegmentRule{}
		never := false
		for j, co := range ro.objs("clauses") {
			c, neverHolds := d.clause(co, fmt.Sprintf("%s.clauses[%d]", path, j), is, &s.uses)
			never = never || neverHolds
			rule.Conditions = append(rule.Conditions, c)
		}
		// A malformed clause of a segment has no marker: it makes the
		// flags that use the segment malformed as a whole.
		for _, w := range is.warnings {
			is.invalid(w.Field, "%s", w.Message)
		}
		is.warnings = nil
		if w, ok := ro.integer("weight"); ok {
			if w < 0 || w > 100000 {
				is.invalid(ro.field("weight"), "must be from 0 to 100000, got %d", w)
			}
			rule.Weight = &w
			rule.RolloutContextKind, _ = ro.str("rolloutContextKind")
			if k := rule.RolloutContextKind; k != "" && !validKindName(k) {
				is.invalid(ro.field("rolloutContextKind"), "%q is not a context kind", k)
			}
			if by, _ := ro.str("bucketBy"); by != "" {
				rule.BucketBy = by
				if rule.RolloutContextKind == "" {
					rule.BucketBy = evaluator.LiteralRef(by)
				} else if !evaluator.ValidAttributeRef(by) {
					is.invalid(ro.field("bucketBy"), "%q is not a LaunchDarkly attribute reference", by)
				}
			}
		}
		if never {
			is.note(path, "has a clause no context matches, so LaunchDarkly never matches it either: dropped")
			continue
		}
		seg.Rules = append(seg.Rules, rule)
	}
	s.seg = seg
	return s
}

// attachSegments copies the segments a flag names, and those they name,
// into the flag, and their problems into the flag's.
func (d *ldData) attachSegments(f *evaluator.Flag, uses []string, is *ldIssues) {
	seen := map[string]bool{}
	queue := slices.Clone(uses)
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		if seen[key] {
			continue
		}
		seen[key] = true
		s := d.segs[key]
		if s == nil {
			continue
		}
		s.used = true
		for _, p := range s.is.list {
			p.Field = "segments." + key + joinField(p.Field)
			is.list = append(is.list, p)
		}
		for _, n := range s.is.notes {
			n.Field = "segments." + key + joinField(n.Field)
			is.notes = append(is.notes, n)
		}
		if f.Segments == nil {
			f.Segments = map[string]evaluator.Segment{}
		}
		f.Segments[key] = s.seg
		queue = append(queue, s.uses...)
	}
}

func validRegexp(s string) bool {
	_, err := regexp.Compile(s)
	return err == nil
}
