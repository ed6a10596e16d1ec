package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
)

// FormatLaunchDarkly is LaunchDarkly's server-side flag data: the JSON its
// SDKs' file data source reads and its relay proxy and streaming endpoint
// serve ("curl -H 'Authorization: <sdk key>'
// https://sdk.launchdarkly.com/sdk/latest-all"):
//
//	{"flags": {key: flag, …}, "segments": {key: segment, …},
//	 "flagValues": {key: value, …}}
const FormatLaunchDarkly Format = "launchdarkly"

// LDOption configures [LaunchDarkly].
type LDOption func(*ldConfig)

type ldConfig struct {
	skip            map[string]bool
	skipUnsupported bool
	environment     string
}

// LDSkip leaves the named flags out, neither translated nor checked. A flag
// that has one of them as a prerequisite cannot evaluate as in LaunchDarkly
// and is reported as unsupported. Default: none. The keys are copied.
func LDSkip(keys ...string) LDOption {
	return func(c *ldConfig) {
		if c.skip == nil {
			c.skip = make(map[string]bool, len(keys))
		}
		for _, k := range keys {
			c.skip[k] = true
		}
	}
}

// LDSkipUnsupported leaves out the flags that use something redisflags
// cannot reproduce (listed in LDImport.Unsupported) instead of failing the
// import. Default: fail.
func LDSkipUnsupported() LDOption {
	return func(c *ldConfig) { c.skipUnsupported = true }
}

// LDEnvironment imports the flags into one named environment: each flag
// applies there only (DefaultEnabled true, the environment enabled when the
// LaunchDarkly flag is on) and is off (DEFAULT, no value) in others.
// Default: the flags apply to every environment and LaunchDarkly's on/off
// switch is DefaultEnabled. An application that sends an "environment"
// attribute picks the environment with it, so import without this option
// when its contexts carry one for other reasons.
func LDEnvironment(name string) LDOption {
	return func(c *ldConfig) { c.environment = name }
}

// LDImport is the result of [LaunchDarkly].
type LDImport struct {
	// Flags are the translated definitions, sorted by key; nil when the
	// import failed (then nothing should be written).
	Flags []evaluator.Flag
	// Unsupported lists, per flag key, what each flag uses that redisflags
	// cannot reproduce exactly (with unsupported prerequisites, whose
	// absence would change this flag's answers). Filled whether the import
	// failed for it or left those flags out (LDSkipUnsupported).
	Unsupported map[string][]Problem
	// Skipped are the flags left out, sorted: by LDSkip, for being deleted
	// in LaunchDarkly, or unsupported under LDSkipUnsupported.
	Skipped []string
	// Notes are things the import dropped because LaunchDarkly's evaluator
	// ignores them too, so answers do not change: clause values that can
	// never match (a regular expression that does not compile, a number
	// where a string is compared), references to segments the data does
	// not have, deleted flags and segments.
	Notes []Problem
	// Warnings are the malformed parts of imported flags, by flag key, in
	// document order: parts LaunchDarkly's evaluator fails (MALFORMED_FLAG)
	// when an evaluation reaches them — a variation index out of range, a
	// rollout without variations, a rule or fallthrough with neither, a
	// clause without a valid attribute reference — imported as the
	// evaluator's malformed markers, which answer the caller's default with
	// PARSE_ERROR where LaunchDarkly answers MALFORMED_FLAG; and input the
	// translation cannot keep part by part (a field of the wrong type, a
	// key that differs from its entry's, a malformed segment), for which
	// the whole flag answers so. The flags are imported; Flag.Malformed
	// holds the same lines.
	Warnings []Problem
}

// LaunchDarkly reads LaunchDarkly's server-side flag data (see
// [FormatLaunchDarkly]) and translates each flag into a variant flag that
// evaluates as LaunchDarkly's Go SDK (v7) evaluates it, for the same
// OpenFeature contexts LaunchDarkly's OpenFeature provider takes:
//
//   - variations become variants named by index ("0", "1", …, the variant
//     names LaunchDarkly's OpenFeature provider reports), the off variation
//     the off variant, "on" the flag's switch (see LDEnvironment);
//   - individual targets ("targets" and "contextTargets", merged as
//     LaunchDarkly merges them) become Flag.Targets;
//   - rules become rules whose conditions carry the clause's context kind
//     and negate; every operator of LaunchDarkly's Go evaluator is kept
//     (lessThan → lt, semVerEqual → semverEq, segmentMatch, before/after…);
//   - fallthrough and rule rollouts become splits under bucketing
//     "launchdarkly" with LaunchDarkly's weights, bucketBy, contextKind,
//     seed and the flag's salt, so every context stays in its cohort
//     (experiments bucket by key, as LaunchDarkly does);
//   - prerequisites stay prerequisites (on the same keys);
//   - segments a flag names (and the segments they name) are copied into
//     the flag, with their included/excluded keys, per-kind targets and
//     weighted rules;
//   - "flagValues" become single-variant flags that are off and serve
//     their value (as LaunchDarkly's file data source builds them);
//   - every flag gets semantics "launchdarkly" (reasons, context rules).
//
// Unsupported, listed per flag: big (unbounded) segments, operators
// LaunchDarkly's Go evaluator does not know, null variation values, a flag
// with no variations, a flag key redisflags cannot store, and a
// prerequisite that is not imported. It fails the whole import, as an
// [*Error] listing every problem, and no flags are returned; LDSkip and
// LDSkipUnsupported leave flags out instead.
//
// A malformed flag does not fail the import: its malformed parts (a
// variation index out of range, a rollout without variations, an invalid
// attribute reference, …) are imported as parts that answer the caller's
// default with an error when an evaluation reaches them, as LaunchDarkly
// answers MALFORMED_FLAG there, and input it cannot keep part by part (a
// field of the wrong type, a key that differs from its entry's) makes the
// whole flag answer so; each is listed in LDImport.Warnings with the flag
// and the field. Input that is not JSON, or not LaunchDarkly's flag data
// at the top level ("flags" not an object, an unknown top-level field), is
// an [ErrInvalid] problem and fails the whole import.
//
// Deleted flags are left out. Events settings (trackEvents,
// debugEventsUntilDate, samplingRatio, …), client-side availability and
// migration settings play no part in evaluation and are ignored.
func LaunchDarkly(data []byte, opts ...LDOption) (*LDImport, error) {
	var cfg ldConfig
	for _, o := range opts {
		o(&cfg)
	}
	out := &LDImport{Unsupported: map[string][]Problem{}}
	var file ldIssues
	d := &ldData{cfg: cfg, segs: map[string]*ldSegment{}}
	top, ok := newLDObj(data, "", &file)
	if ok && top.m != nil {
		for _, name := range slices.Sorted(maps.Keys(top.m)) {
			raw := top.m[name]
			switch name {
			case "flags":
				d.flagRaw, d.flagKeys = ldObjects(raw, name, &file)
			case "segments":
				d.segRaw, _ = ldObjects(raw, name, &file)
			case "flagValues":
				d.valueRaw, d.valueKeys = ldObjects(raw, name, &file)
			default:
				file.invalid(name, "is not part of LaunchDarkly's flag data (flags, segments, flagValues)")
			}
		}
		if _, ok := top.m["flags"]; !ok {
			if _, ok := top.m["flagValues"]; !ok {
				file.invalid("flags", "is required")
			}
		}
	}
	var ps problems
	for _, p := range file.list {
		ps.add(p)
	}

	results := map[string]*ldFlag{}
	var keys []string
	for _, key := range d.flagKeys {
		if cfg.skip[key] {
			out.Skipped = append(out.Skipped, key)
			continue
		}
		results[key] = d.flag(key, d.flagRaw[key])
		keys = append(keys, key)
	}
	for _, key := range d.valueKeys {
		if _, dup := d.flagRaw[key]; dup {
			ps.invalid(key, "flagValues."+key, "is also defined in flags")
			continue
		}
		if cfg.skip[key] {
			out.Skipped = append(out.Skipped, key)
			continue
		}
		results[key] = d.valueFlag(key, d.valueRaw[key])
		keys = append(keys, key)
	}
	slices.Sort(keys)

	// A prerequisite that will not be in Redis changes the answers of the
	// flags that need it: mark them, to a fixed point.
	imported := func(key string) bool {
		r := results[key]
		return r != nil && !r.deleted && len(r.is.list) == 0
	}
	for changed := true; changed; {
		changed = false
		for _, key := range keys {
			r := results[key]
			if r.deleted || len(r.is.list) > 0 {
				continue
			}
			for i, p := range r.f.Prerequisites {
				_, inData := d.flagRaw[p.Flag]
				_, inValues := d.valueRaw[p.Flag]
				if (inData || inValues) && !imported(p.Flag) && !deletedFlag(results[p.Flag]) {
					r.is.unsupported(fmt.Sprintf("prerequisites[%d]", i), "",
						"prerequisite flag %q is not imported (skipped, or not importable), so this flag could not evaluate it as LaunchDarkly does", p.Flag)
					changed = true
				}
			}
		}
	}

	for _, key := range keys {
		r := results[key]
		for _, n := range r.is.notes {
			n.Flag = key
			out.Notes = append(out.Notes, n)
		}
		if !r.deleted && len(r.is.list) == 0 {
			for _, w := range r.is.warnings {
				w.Flag = key
				out.Warnings = append(out.Warnings, w)
			}
		}
		if r.deleted {
			out.Skipped = append(out.Skipped, key)
			continue
		}
		var unsupported []Problem
		for _, p := range r.is.list {
			p.Flag = key
			if p.Unsupported {
				unsupported = append(unsupported, p)
				if cfg.skipUnsupported && !r.is.hasInvalid() {
					continue
				}
			}
			ps.add(p)
		}
		if len(unsupported) > 0 {
			out.Unsupported[key] = unsupported
		}
		if len(r.is.list) > 0 {
			if len(unsupported) == len(r.is.list) && cfg.skipUnsupported {
				out.Skipped = append(out.Skipped, key)
			}
			continue
		}
		out.Flags = append(out.Flags, r.f)
	}
	for _, key := range slices.Sorted(maps.Keys(d.segs)) {
		if s := d.segs[key]; s != nil && !s.used {
			for _, n := range s.is.notes {
				n.Field = "segments." + key + joinField(n.Field)
				out.Notes = append(out.Notes, n)
			}
		}
	}
	slices.Sort(out.Skipped)
	if err := ps.err(FormatLaunchDarkly); err != nil {
		out.Flags = nil
		return out, err
	}
	return out, nil
}

func deletedFlag(r *ldFlag) bool { return r != nil && r.deleted }

func joinField(f string) string {
	if f == "" {
		return ""
	}
	return "." + f
}

// ldData is the data being imported.
type ldData struct {
	cfg       ldConfig
	flagRaw   map[string]json.RawMessage
	flagKeys  []string
	valueRaw  map[string]json.RawMessage
	valueKeys []string
	segRaw    map[string]json.RawMessage
	segs      map[string]*ldSegment // parsed on first use; nil: not in the data
}

// ldFlag is one translated flag and its problems.
type ldFlag struct {
	f       evaluator.Flag
	is      ldIssues
	deleted bool
}

// flag translates one entry of "flags".
func (d *ldData) flag(key string, raw json.RawMessage) *ldFlag {
	r := &ldFlag{}
	is := &r.is
	if !evaluator.ValidName(key) {
		is.unsupported("key", "", "%q is not a valid redisflags flag key (1–128 letters, digits, '.', '_', '-')", key)
		return r
	}
	o, ok := newLDObj(raw, "", is)
	if !ok {
		r.f = d.malformedFlag(key, false, evaluator.Flag{}, is)
		r.f.Malformed = malformedReasons(is.warnings)
		ldValidate(&r.f, is)
		return r
	}
	if k, _ := o.str("key"); k != key {
		is.invalid("key", "is %q; LaunchDarkly hashes rollouts with it, so it must equal the flag's key %q", k, key)
	}
	if o.boolean("deleted") {
		r.deleted = true
		is.note("", "deleted in LaunchDarkly: not imported")
		return r
	}
	f := evaluator.Flag{
		Key:       key,
		Semantics: evaluator.SemanticsLaunchDarkly,
		Bucketing: evaluator.BucketLaunchDarkly,
		Variants:  map[string]json.RawMessage{},
	}
	f.Salt, _ = o.str("salt")
	nInvalid := len(is.list)
	vars := o.rawValues("variations")
	if _, present := o.raw("variations"); present && len(vars) == 0 && len(is.list) == nInvalid {
		is.unsupported("variations", "", "a flag without variations always serves the caller's default, which a redisflags variant flag cannot express")
	} else if !present {
		is.unsupported("variations", "", "a flag without variations always serves the caller's default, which a redisflags variant flag cannot express")
	}
	for i, v := range vars {
		if ldNull(v) {
			is.unsupported(fmt.Sprintf("variations[%d]", i), "", "a null variation value cannot be served; redisflags variants hold JSON values")
			continue
		}
		f.Variants[variantName(i)] = compact(v)
	}
	n := len(vars)
	index := func(field string, i int) string {
		if i < 0 || i >= n {
			return is.malformed(field, "variation %d is out of range: the flag has %d variations", i, n)
		}
		return variantName(i)
	}
	on := o.boolean("on")
	if off, ok := o.integer("offVariation"); ok {
		f.OffVariant = index("offVariation", off)
	}
	d.setSwitch(&f, on)

	// Prerequisites.
	for i, p := range o.objs("prerequisites") {
		pk, _ := p.str("key")
		v, _ := p.integer("variation") // LaunchDarkly reads a missing one as 0
		if pk == "" {
			is.invalid(fmt.Sprintf("prerequisites[%d].key", i), "is required")
			continue
		}
		// A variation out of range (negative too) is never served, so the
		// prerequisite is never met: in LaunchDarkly, and here with a
		// variant name no variant has.
		if pk == key {
			is.invalid(fmt.Sprintf("prerequisites[%d].key", i), "names the flag itself")
			continue
		}
		if !evaluator.ValidName(pk) {
			is.unsupported(fmt.Sprintf("prerequisites[%d].key", i), "", "names flag %q, whose key redisflags cannot store", pk)
			continue
		}
		if _, inFlags := d.flagRaw[pk]; !inFlags {
			if _, inValues := d.valueRaw[pk]; !inValues {
				is.note(fmt.Sprintf("prerequisites[%d].key", i), "names flag %q, which the data does not have: never met, in LaunchDarkly and here (unless Redis holds such a flag)", pk)
			}
		}
		f.Prerequisites = append(f.Prerequisites, evaluator.Prerequisite{Flag: pk, Variant: variantName(v)})
	}

	// Individual targets, merged as LaunchDarkly merges them: when
	// contextTargets is present it gives the order, and a "user" entry
	// without values stands for the "targets" entry of its variation.
	type target struct {
		kind   string
		values []string
		v      int
		ok     bool
		path   string
	}
	readTargets := func(name string) []target {
		var out []target
		for i, t := range o.objs(name) {
			k, _ := t.str("contextKind")
			v, ok := t.integer("variation")
			out = append(out, target{kind: k, values: t.strs("values"), v: v, ok: ok, path: fmt.Sprintf("%s[%d]", name, i)})
		}
		return out
	}
	targets, contextTargets := readTargets("targets"), readTargets("contextTargets")
	var merged []target
	if len(contextTargets) == 0 {
		merged = targets
	} else {
		for _, t := range contextTargets {
			if (t.kind == "" || t.kind == evaluator.DefaultKind) && len(t.values) == 0 {
				for _, u := range targets {
					if u.v == t.v {
						merged = append(merged, u)
						break
					}
				}
				continue
			}
			merged = append(merged, t)
		}
	}
	for _, t := range merged {
		// A missing variation is 0, as LaunchDarkly reads it.
		kind := t.kind
		if kind == "" {
			kind = evaluator.DefaultKind
		}
		if !validKindName(kind) {
			is.note(t.path+".contextKind", "%q is not a context kind, so no context matches this target (in LaunchDarkly too): dropped", t.kind)
			continue
		}
		f.Targets = append(f.Targets, evaluator.Target{ContextKind: kind, Values: t.values, Variant: index(t.path+".variation", t.v)})
	}

	// Rules.
	var uses []string
	for i, ro := range o.objs("rules") {
		path := fmt.Sprintf("rules[%d]", i)
		rule := evaluator.Rule{}
		rule.Name, _ = ro.str("id")
		// LaunchDarkly evaluates the clauses in order until one does not
		// match: nothing after a malformed clause is reached, and a rule
		// with a clause that never matches before any malformed one never
		// matches (nor fails).
		never, cut := false, false
		for j, co := range ro.objs("clauses") {
			c, neverHolds := d.clause(co, fmt.Sprintf("%s.clauses[%d]", path, j), is, &uses)
			switch {
			case cut || never:
			case neverHolds:
				never = true
			default:
				rule.Conditions = append(rule.Conditions, c)
				cut = c.Op == evaluator.OpMalformed
			}
		}
		rule.Variant, rule.Split = d.variationOrRollout(ro, path, is, index)
		if never {
			is.note(path, "has a clause no context matches, so LaunchDarkly never serves it either: dropped")
			continue
		}
		f.Rules = append(f.Rules, rule)
	}

	// Fallthrough. LaunchDarkly reads it only when the flag is on: an off
	// flag whose fallthrough is missing or empty ("fallthrough": {}) serves
	// its off variation there, so it imports, with a note.
	ft, ok := o.obj("fallthrough")
	_, hasVariation := ft.raw("variation")
	_, hasRollout := ft.obj("rollout")
	switch {
	case !on && (!ok || (!hasVariation && !hasRollout)):
		is.note("fallthrough", "is empty; LaunchDarkly never reads it while the flag is off, and neither does redisflags (turned on, the flag would serve variation 0 here, where LaunchDarkly fails with MALFORMED_FLAG)")
		if f.OffVariant != "" {
			f.DefaultVariant = f.OffVariant
		}
	case ok:
		f.DefaultVariant, f.Split = d.variationOrRollout(ft, "fallthrough", is, index)
		if f.Split != nil && len(f.Split.Weights) > 0 {
			f.DefaultVariant = f.Split.Weights[0].Variant
		}
	default:
		f.DefaultVariant = is.malformed("fallthrough", "is missing: LaunchDarkly fails every evaluation that reaches it")
	}
	if f.DefaultVariant == "" && n > 0 {
		f.DefaultVariant = variantName(0) // never served: the problem above fails the flag
	}

	d.attachSegments(&f, uses, is)
	if is.hasInvalid() {
		f = d.malformedFlag(key, on, f, is)
	}
	f.Malformed = malformedReasons(is.warnings)
	r.f = f
	if len(is.list) == 0 {
		ldValidate(&f, is)
	}
	return r
}

// malformedFlag is the whole-flag fallback for input the translation cannot
// keep part by part (a field of the wrong type, a key that differs from its
// entry's, …): the flag answers every evaluation with the malformed marker,
// and its invalid problems become warnings. LaunchDarkly's SDK refuses to
// load such data at all; see docs/design.md.
//
// When only segments the flag uses are malformed (a segment that reaches
// itself, a malformed segment clause), the flag itself read well: switched
// off it serves its off variation, as in LaunchDarkly, which fails only
// the evaluations that reach the segment; switched on, every evaluation
// fails (LaunchDarkly fails those that reach the segment's clause).
func (d *ldData) malformedFlag(key string, on bool, t evaluator.Flag, is *ldIssues) evaluator.Flag {
	var rest []Problem
	segmentsOnly := true
	for _, p := range is.list {
		if !p.Unsupported && !strings.HasPrefix(p.Field, "segments.") {
			segmentsOnly = false
		}
	}
	what := " (the whole flag is imported as malformed)"
	if segmentsOnly {
		what = " (the flag is imported as malformed wherever it is on)"
	}
	for _, p := range is.list {
		if p.Unsupported {
			rest = append(rest, p)
			continue
		}
		is.warnings = append(is.warnings, Problem{Field: p.Field, Message: p.Message + what})
	}
	is.list = rest
	f := evaluator.Flag{
		Key:            key,
		Semantics:      evaluator.SemanticsLaunchDarkly,
		Bucketing:      evaluator.BucketLaunchDarkly,
		Variants:       t.Variants,
		DefaultVariant: evaluator.MalformedVariant,
		OffVariant:     evaluator.MalformedVariant,
		Salt:           t.Salt,
	}
	if segmentsOnly {
		f.OffVariant = t.OffVariant
	}
	if len(f.Variants) == 0 {
		// Never served: every serving point is the marker.
		f.Variants = map[string]json.RawMessage{variantName(0): json.RawMessage("false")}
	}
	d.setSwitch(&f, on)
	return f
}

// malformedReasons are Flag.Malformed: one "field: reason" line per
// malformed part.
func malformedReasons(ws []Problem) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// setSwitch maps LaunchDarkly's "on" (see LDEnvironment).
func (d *ldData) setSwitch(f *evaluator.Flag, on bool) {
	if d.cfg.environment == "" {
		f.DefaultEnabled = on
		return
	}
	f.DefaultEnabled = true
	f.Environments = map[string]evaluator.Environment{d.cfg.environment: {Enabled: on}}
}

// valueFlag translates one entry of "flagValues": LaunchDarkly's file data
// source makes it a flag that is off and serves its one value.
func (d *ldData) valueFlag(key string, raw json.RawMessage) *ldFlag {
	r := &ldFlag{}
	if !evaluator.ValidName(key) {
		r.is.invalid("", "%q is not a valid redisflags flag key (1–128 letters, digits, '.', '_', '-')", key)
	}
	if ldNull(raw) {
		r.is.unsupported("", "", "a null flag value cannot be served; redisflags variants hold JSON values")
		return r
	}
	if !json.Valid(raw) {
		r.is.invalid("", "is not JSON")
		return r
	}
	f := evaluator.Flag{
		Key:            key,
		Semantics:      evaluator.SemanticsLaunchDarkly,
		Variants:       map[string]json.RawMessage{"0": compact(raw)},
		DefaultVariant: "0",
		OffVariant:     "0",
	}
	d.setSwitch(&f, false)
	r.f = f
	if len(r.is.list) == 0 {
		ldValidate(&f, &r.is)
	}
	return r
}

func variantName(i int) string { return fmt.Sprint(i) }

// variationOrRollout reads a rule's or the fallthrough's "variation" (which
// wins when both are set, as in LaunchDarkly) or "rollout".
func (d *ldData) variationOrRollout(o ldObj, path string, is *ldIssues, index func(string, int) string) (string, *evaluator.Split) {
	if v, ok := o.integer("variation"); ok {
		return index(o.field("variation"), v), nil
	} else if _, present := o.raw("variation"); present {
		return "", nil // not a number: reported, and the whole flag is malformed
	}
	ro, ok := o.obj("rollout")
	if !ok {
		return is.malformed(path, "needs a variation or a rollout: LaunchDarkly fails every evaluation that reaches it"), nil
	}
	s := &evaluator.Split{}
	kind, _ := ro.str("kind")
	s.ContextKind, _ = ro.str("contextKind")
	badKind := s.ContextKind != "" && !validKindName(s.ContextKind)
	if seed, ok := ro.integer("seed"); ok {
		s64 := int64(seed)
		s.Seed = &s64
	}
	by, _ := ro.str("bucketBy")
	if kind != "experiment" && by != "" { // experiments always bucket by key
		s.BucketBy = by
		if s.ContextKind == "" {
			s.BucketBy = evaluator.LiteralRef(by)
		} else if !evaluator.ValidAttributeRef(by) && !badKind {
			return is.malformed(ro.field("bucketBy"), "%q is not a LaunchDarkly attribute reference: LaunchDarkly fails every evaluation that reaches this rollout", by), nil
		}
	}
	for i, w := range ro.objs("variations") {
		// LaunchDarkly reads a missing variation or weight as 0.
		v, _ := w.integer("variation")
		weight, _ := w.integer("weight")
		wp := fmt.Sprintf("%s[%d]", ro.field("variations"), i)
		// LaunchDarkly takes any integer weight: it adds weight/100000 to a
		// running sum, so a negative weight shortens the next variation's
		// share (the evaluator sums the same way).
		if weight < math.MinInt32 || weight > math.MaxInt32 {
			is.invalid(wp+".weight", "must be a 32-bit integer, got %d", weight)
		}
		s.Weights = append(s.Weights, evaluator.WeightedValue{Variant: index(wp+".variation", v), Weight: weight})
	}
	if len(s.Weights) == 0 {
		return is.malformed(ro.field("variations"), "is empty: LaunchDarkly fails every evaluation that reaches this rollout"), nil
	}
	if badKind {
		// No context has that kind: LaunchDarkly puts every one in bucket
		// 0, so the rollout always serves the variation that bucket
		// falls in.
		is.note(ro.field("contextKind"), "%q is not a context kind: every context is in bucket 0 (in LaunchDarkly too), so the rollout serves one variation", s.ContextKind)
		return ldBucketZero(s.Weights), nil
	}
	return "", s
}

// ldBucketZero is the variant LaunchDarkly's rollout serves in bucket 0:
// the first whose running sum of weight/100000 (float32) is above 0, else
// the last.
func ldBucketZero(ws []evaluator.WeightedValue) string {
	var sum float32
	for _, w := range ws {
		sum += float32(w.Weight) / 100000.0
		if 0 < sum {
			return w.Variant
		}
	}
	return ws[len(ws)-1].Variant
}

// ldOps maps LaunchDarkly's clause operators onto the evaluator's.
var ldOps = map[string]string{
	"in":                 evaluator.OpIn,
	"endsWith":           evaluator.OpEndsWith,
	"startsWith":         evaluator.OpStartsWith,
	"matches":            evaluator.OpMatches,
	"contains":           evaluator.OpContains,
	"lessThan":           evaluator.OpLT,
	"lessThanOrEqual":    evaluator.OpLTE,
	"greaterThan":        evaluator.OpGT,
	"greaterThanOrEqual": evaluator.OpGTE,
	"before":             evaluator.OpBefore,
	"after":              evaluator.OpAfter,
	"semVerEqual":        evaluator.OpSemverEq,
	"semVerLessThan":     evaluator.OpSemverLT,
	"semVerGreaterThan":  evaluator.OpSemverGT,
	"segmentMatch":       evaluator.OpSegmentMatch,
}

// clause translates one clause. Values LaunchDarkly can never match with
// the clause's operator are dropped, with a note.
// never is true for a clause no context matches (a kind that is no kind).
// A clause LaunchDarkly fails on is the OpMalformed condition.
func (d *ldData) clause(o ldObj, path string, is *ldIssues, uses *[]string) (c evaluator.Condition, never bool) {
	op, _ := o.str("op")
	negate := o.boolean("negate")
	values := o.values("values")
	c = evaluator.Condition{Negate: negate}
	malformed := evaluator.Condition{Op: evaluator.OpMalformed}
	ourOp, known := ldOps[op]
	if !known {
		is.unsupported(o.field("op"), op, "LaunchDarkly's Go evaluator has no operator %q", op)
		return evaluator.Condition{Attribute: "key", Op: evaluator.OpIn, ContextKind: evaluator.DefaultKind}, false
	}
	c.Op = ourOp
	drop := func(i int, why string) {
		is.note(fmt.Sprintf("%s[%d]", o.field("values"), i), "dropped: %s, which LaunchDarkly never matches", why)
	}
	if op == "segmentMatch" {
		for i, v := range values {
			name, ok := v.(string)
			if !ok {
				drop(i, "not a segment key")
				continue
			}
			s := d.segment(name)
			switch {
			case s == nil:
				drop(i, fmt.Sprintf("segment %q is not in the data", name))
				continue
			case s.deleted:
				drop(i, fmt.Sprintf("segment %q is deleted", name))
				continue
			}
			c.Values = append(c.Values, name)
			*uses = append(*uses, name)
		}
		return c, false
	}
	kindRaw, _ := o.str("contextKind")
	c.ContextKind = kindRaw
	if c.ContextKind == "" {
		c.ContextKind = evaluator.DefaultKind
	}
	attr, _ := o.str("attribute")
	switch {
	case attr == "":
		is.malformed(o.field("attribute"), "is required: LaunchDarkly fails every evaluation that reaches this clause")
		return malformed, false
	case kindRaw == "":
		c.Attribute = evaluator.LiteralRef(attr) // old-style data: a plain name
	case attr == "kind" || evaluator.ValidAttributeRef(attr):
		c.Attribute = attr
	default:
		is.malformed(o.field("attribute"), "%q is not a LaunchDarkly attribute reference: LaunchDarkly fails every evaluation that reaches this clause", attr)
		return malformed, false
	}
	if !validKindName(c.ContextKind) && attr != "kind" {
		return c, true
	}
	for i, v := range values {
		if why := ldNeverMatches(op, v); why != "" {
			drop(i, why)
			continue
		}
		c.Values = append(c.Values, v)
	}
	return c, false
}

// ldNeverMatches says why LaunchDarkly's operator op can never match the
// clause value v, or "" when it can.
func ldNeverMatches(op string, v any) string {
	s, isStr := v.(string)
	_, isNum := v.(float64)
	switch op {
	case "in":
		if _, isBool := v.(bool); !isStr && !isNum && !isBool {
			return "a value that is not a string, number or bool"
		}
	case "endsWith", "startsWith", "contains":
		if !isStr {
			return "a value that is not a string"
		}
	case "matches":
		if !isStr {
			return "a value that is not a string"
		}
		if !validRegexp(s) {
			return "a regular expression that does not compile"
		}
	case "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual":
		if !isNum {
			return "a value that is not a number"
		}
	case "before", "after":
		if _, ok := evaluator.ParseDateLD(v); !ok {
			return "a value that is not a date"
		}
	case "semVerEqual", "semVerLessThan", "semVerGreaterThan":
		if !isStr || !evaluator.ValidSemverLD(s) {
			return "a value that is not a semantic version"
		}
	}
	return ""
}

func validKindName(k string) bool {
	if k == "" || k == "kind" || k == "multi" {
		return false
	}
	return strings.IndexFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) < 0
}

// ldValidate runs the evaluator's validation on a translated flag. A
// problem here is a gap in the translation or input it let through; it is
// reported as the translated field.
func ldValidate(f *evaluator.Flag, is *ldIssues) {
	err := evaluator.Validate(*f)
	if err == nil {
		return
	}
	var ve *evaluator.ValidationError
	if !errors.As(err, &ve) {
		is.invalid("", "%v", err)
		return
	}
	for _, p := range ve.Problems {
		is.invalid("", "translated definition: %s: %s", p.Field, p.Message)
	}
}
