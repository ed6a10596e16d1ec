package importer_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldreason"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	ld "github.com/launchdarkly/go-server-sdk/v7"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/ldcompat"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

const ldDataFile = "testdata/launchdarkly/flags.json"

// ldFlagTypes is the OpenFeature type each flag of the test data is asked
// with; ldExtraTypes are further evaluations of another type (LaunchDarkly's
// IntVariation truncating, JSONVariation of a scalar, a type mismatch).
var (
	ldFlagTypes = map[string]string{
		"simple-bool": "bool", "off-bool": "bool", "off-no-off-variation": "string",
		"targets": "string", "targets-legacy": "string",
		"rules-strings": "string", "rules-numbers": "string", "rules-dates": "string",
		"rules-semver": "string", "rules-kinds": "string", "rules-legacy-attributes": "int",
		"rollout-50-50": "bool", "rollout-three-way-bucket-by": "string",
		"rollout-org-seed": "string", "rollout-org-key": "string", "experiment": "string",
		"rule-rollout": "int", "weights-short": "string", "rollout-number-attribute": "string",
		"prereq-parent": "string", "prereq-chain": "bool", "prereq-off": "string",
		"prereq-missing": "string", "prereq-of-failed": "string", "cycle-a": "string", "cycle-b": "string",
		"segments": "string", "segment-kinds": "bool",
		"json-flag": "json", "int-flag": "int", "float-flag": "float",
		"value-string": "string", "value-number": "int",
		// What LaunchDarkly evaluates and the importer once refused: off
		// flags with an empty or missing fallthrough, negative weights.
		"off-empty-fallthrough": "string", "off-no-fallthrough": "bool",
		"negative-weights": "string", "negative-weights-rule": "int",
	}
	ldExtraTypes = map[string]string{
		"float-flag": "int", "simple-bool": "json", "targets": "bool", "int-flag": "float",
	}
)

// answer is one evaluation as an OpenFeature application sees it.
type answer struct {
	Value   any
	Variant string
	Reason  of.Reason
	Code    of.ErrorCode
}

func (a answer) String() string {
	return fmt.Sprintf("value=%#v variant=%q reason=%s code=%s", a.Value, a.Variant, a.Reason, a.Code)
}

// ldDefaults are the callers' defaults, unlike any variation value.
var ldDefaults = map[string]any{
	"bool": false, "string": "DEFAULT", "int": int64(-1), "float": -1.5, "json": map[string]any{"default": true},
}

// launchDarklyAnswer evaluates through LaunchDarkly's SDK and maps the
// result as its OpenFeature provider and the OpenFeature SDK would; lc and
// err are what ldcompat.ToContext made of the OpenFeature context.
func launchDarklyAnswer(c *ld.LDClient, flag, typ string, lc ldcontext.Context, err error) answer {
	def := ldDefaults[typ]
	if err != nil {
		return answer{Value: def, Reason: of.ErrorReason, Code: of.TargetingKeyMissingCode}
	}
	var value any
	var detail ldreason.EvaluationDetail
	switch typ {
	case "bool":
		value, detail, _ = c.BoolVariationDetail(flag, lc, def.(bool))
	case "string":
		value, detail, _ = c.StringVariationDetail(flag, lc, def.(string))
	case "int":
		var v int
		v, detail, _ = c.IntVariationDetail(flag, lc, int(def.(int64)))
		value = int64(v)
	case "float":
		value, detail, _ = c.Float64VariationDetail(flag, lc, def.(float64))
	case "json":
		var v ldvalue.Value
		v, detail, _ = c.JSONVariationDetail(flag, lc, ldvalue.CopyArbitraryValue(def))
		value = v.AsArbitraryValue()
	}
	a := answer{Value: value, Reason: ldcompat.Reason(detail.Reason.GetKind())}
	if detail.VariationIndex.IsDefined() {
		a.Variant = detail.VariationIndex.String()
	}
	if ek := detail.Reason.GetErrorKind(); ek != "" {
		a.Code, a.Reason, a.Value = ldcompat.ErrorCode(ek), of.ErrorReason, def
	}
	return a
}

// redisflagsAnswer evaluates through the provider's methods, as the
// OpenFeature SDK calls them.
func redisflagsAnswer(ctx context.Context, p *provider.Provider, flag, typ string, fc map[string]any) answer {
	def := ldDefaults[typ]
	var value any
	var d of.ProviderResolutionDetail
	switch typ {
	case "bool":
		r := p.BooleanEvaluation(ctx, flag, def.(bool), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "string":
		r := p.StringEvaluation(ctx, flag, def.(string), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "int":
		r := p.IntEvaluation(ctx, flag, def.(int64), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "float":
		r := p.FloatEvaluation(ctx, flag, def.(float64), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "json":
		r := p.ObjectEvaluation(ctx, flag, def, fc)
		value, d = r.Value, r.ProviderResolutionDetail
	}
	rd := d.ResolutionDetail()
	a := answer{Value: value, Variant: rd.Variant, Reason: rd.Reason, Code: rd.ErrorCode}
	if a.Code != "" {
		a.Reason, a.Value = of.ErrorReason, def // what the OpenFeature SDK hands the caller
	}
	return a
}

// ldContexts generates n evaluation contexts, LaunchDarkly-shaped as an
// application written for LaunchDarkly's OpenFeature provider sends them:
// single contexts of three kinds, multi-contexts, with and without rule
// attributes, and some LaunchDarkly refuses (no key, bad kinds).
func ldContexts(n int, seed uint64) []map[string]any {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = ldContext(r)
	}
	return out
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func ldContext(r *rand.Rand) map[string]any {
	switch x := r.IntN(100); {
	case x < 45:
		return single(r, "", userAttrs(r))
	case x < 50:
		return single(r, "", map[string]any{"key": fmt.Sprintf("user-%d", r.IntN(2000))})
	case x < 58:
		return single(r, "org", orgAttrs(r))
	case x < 62:
		return single(r, "device", deviceAttrs(r))
	case x < 80:
		return map[string]any{"kind": "multi", "user": inner(r, userAttrs(r)), "org": inner(r, orgAttrs(r))}
	case x < 88:
		return map[string]any{"kind": "multi", "user": inner(r, userAttrs(r)), "org": inner(r, orgAttrs(r)), "device": inner(r, deviceAttrs(r)),
			of.TargetingKey: "ignored-by-launchdarkly"}
	case x < 92:
		return map[string]any{"kind": "multi", "org": inner(r, orgAttrs(r)), "device": inner(r, deviceAttrs(r))}
	case x < 94:
		return map[string]any{"kind": "multi", "user": inner(r, userAttrs(r))}
	}
	// Contexts LaunchDarkly refuses, or reads in surprising ways.
	u := userAttrs(r)
	switch r.IntN(9) {
	case 0:
		delete(u, "key")
		return u // no key
	case 1:
		u["key"] = "   "
		return u
	case 2:
		u["kind"] = "bad kind"
		return u
	case 3:
		u["kind"] = "kind"
		return u
	case 4:
		return map[string]any{"kind": "multi", "user": "not an object"}
	case 5:
		o := orgAttrs(r)
		delete(o, "key")
		return map[string]any{"kind": "multi", "user": u, "org": o}
	case 6:
		return map[string]any{"kind": "multi", "user": inner(r, u), "": map[string]any{"key": "dup"}}
	case 7:
		u[of.TargetingKey] = ""
		return u
	default:
		return map[string]any{"kind": "multi", "": inner(r, u)}
	}
}

// single makes a single context: the key as the targeting key (what
// openfeature.NewEvaluationContext flattens to) or as the attribute "key".
func single(r *rand.Rand, kind string, attrs map[string]any) map[string]any {
	if kind != "" || r.IntN(5) == 0 {
		if kind == "" {
			kind = "user"
		}
		attrs["kind"] = kind
	}
	if r.IntN(2) == 0 {
		attrs[of.TargetingKey] = attrs["key"]
		delete(attrs, "key")
	}
	return attrs
}

func inner(r *rand.Rand, attrs map[string]any) map[string]any {
	if r.IntN(4) == 0 {
		attrs[of.TargetingKey] = attrs["key"]
		delete(attrs, "key")
	}
	if r.IntN(6) == 0 {
		attrs["kind"] = "ignored"
	}
	return attrs
}

func maybe(r *rand.Rand, m map[string]any, name string, p int, v func() any) {
	if r.IntN(100) < p {
		m[name] = v()
	}
}

func userAttrs(r *rand.Rand) map[string]any {
	m := map[string]any{"key": fmt.Sprintf("user-%d", r.IntN(2000))}
	maybe(r, m, "email", 70, func() any {
		return pick[any](r, "a1@example.com", "b22@example.com", "bob@test.org", "c7@corp.net", "x@example.com.evil",
			"test@foo.io", fmt.Sprintf("u%d@mail.com", r.IntN(500)), fmt.Sprintf("d%d@example.com", r.IntN(50)), any(42))
	})
	maybe(r, m, "name", 50, func() any { return pick[any](r, "Alice", "Bob", "carol", "Ångström", "", 5, nil) })
	maybe(r, m, "country", 70, func() any { return pick[any](r, "NO", "SE", "FI", "DE", "FR", "US", "", nil, 47) })
	maybe(r, m, "age", 60, func() any {
		return pick[any](r, r.IntN(90)+5, float64(r.IntN(90)+5), 17.5, 65.0, "30", int64(70), 71)
	})
	maybe(r, m, "score", 60, func() any { return pick[any](r, r.Float64()*10, float64(r.IntN(11)), 2.5, 9, "3") })
	maybe(r, m, "beta", 50, func() any { return pick[any](r, true, false, "true") })
	maybe(r, m, "plan", 60, func() any { return pick(r, "free", "pro", "team", "enterprise") })
	maybe(r, m, "version", 50, func() any {
		return pick[any](r, "1.9.9", "2.0.0", "2.1", "2.1.0", "2.1.0+build.7", "3.0.0-rc.1", "3.0.0-rc.2", "3.0.0",
			"3.0.0-beta.01", "v2.1.0", "2", "10.0.0-alpha", "2.1.0-0", "x.y.z", 3)
	})
	maybe(r, m, "tags", 40, func() any {
		switch r.IntN(4) {
		case 0:
			return []any{"beta", "x"}
		case 1:
			return []any{"early", 3, nil, []any{"beta"}}
		case 2:
			return []string{"y", "beta"}
		}
		return []any{}
	})
	maybe(r, m, "signup", 60, func() any {
		t := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(4 * 365 * 24 * time.Hour))))
		switch r.IntN(6) {
		case 0:
			return float64(t.UnixMilli())
		case 1:
			return t.UnixMilli()
		case 2:
			return t.In(time.FixedZone("x", -5*3600)).Format("2006-01-02T15:04:05.999999-07:00")
		case 3:
			return "not a date"
		case 4:
			return t.Format("2006-01-02t15:04:05z")
		}
		return t.Format(time.RFC3339Nano)
	})
	maybe(r, m, "address", 30, func() any { return map[string]any{"city": pick(r, "Oslo", "Bergen"), "zip": "0150"} })
	maybe(r, m, "/odd", 10, func() any { return "yes" })
	maybe(r, m, "anonymous", 20, func() any { return pick[any](r, true, false, "yes") })
	maybe(r, m, "privateAttributes", 10, func() any { return []string{"email"} })
	maybe(r, m, "region", 10, func() any { return pick[any](r, "eu-north", 5) })
	maybe(r, m, "environment", 5, func() any { return "staging" })
	return m
}

func orgAttrs(r *rand.Rand) map[string]any {
	m := map[string]any{"key": fmt.Sprintf("org-%d", r.IntN(12))}
	maybe(r, m, "plan", 70, func() any { return pick(r, "free", "pro", "enterprise") })
	maybe(r, m, "employees", 60, func() any { return pick[any](r, r.IntN(5000), 1000, "many") })
	maybe(r, m, "name", 60, func() any { return pick(r, "Acme Inc", "Globex", "Initech Inc", "Umbrella") })
	return m
}

func deviceAttrs(r *rand.Rand) map[string]any {
	m := map[string]any{"key": fmt.Sprintf("device-%d", r.IntN(10))}
	maybe(r, m, "os", 70, func() any { return pick(r, "ios", "android") })
	return m
}

// importLD imports the test data into a real Redis and returns a client
// for it.
func importLD(t *testing.T) *redistest.Server {
	t.Helper()
	data, err := os.ReadFile(ldDataFile)
	require.NoError(t, err)
	res, err := importer.LaunchDarkly(data)
	require.NoError(t, err)
	require.Len(t, res.Flags, len(ldFlagTypes), "every flag of the test data imports")
	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	for _, f := range res.Flags {
		_, err := st.Upsert(t.Context(), f)
		require.NoError(t, err, f.Key)
	}
	return srv
}

type ldStats struct {
	evaluations int
	variants    map[string]map[string]int // flag → variant → count
	reasons     map[of.Reason]int
	codes       map[of.ErrorCode]int
	diffs       []string
	ndiff       int
}

func (st *ldStats) add(o *ldStats) {
	st.evaluations += o.evaluations
	st.ndiff += o.ndiff
	st.diffs = append(st.diffs, o.diffs...)
	for f, m := range o.variants {
		if st.variants[f] == nil {
			st.variants[f] = map[string]int{}
		}
		for v, n := range m {
			st.variants[f][v] += n
		}
	}
	for r, n := range o.reasons {
		st.reasons[r] += n
	}
	for c, n := range o.codes {
		st.codes[c] += n
	}
}

func newLDStats() *ldStats {
	return &ldStats{variants: map[string]map[string]int{}, reasons: map[of.Reason]int{}, codes: map[of.ErrorCode]int{}}
}

// ldEvaluation is one flag asked with one type.
type ldEvaluation struct{ flag, typ string }

func ldEvaluations() []ldEvaluation {
	var out []ldEvaluation
	for _, m := range []map[string]string{ldFlagTypes, ldExtraTypes} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, ldEvaluation{k, m[k]})
		}
	}
	return out
}

func sameAnswer(a, b answer) bool {
	if a.Variant != b.Variant || a.Reason != b.Reason || a.Code != b.Code {
		return false
	}
	if _, isMap := a.Value.(map[string]any); isMap {
		return reflect.DeepEqual(a.Value, b.Value)
	}
	if _, isSlice := a.Value.([]any); isSlice {
		return reflect.DeepEqual(a.Value, b.Value)
	}
	return a.Value == b.Value
}

// compareLD evaluates every flag for every context on both sides, split
// over the CPUs, and fails listing the first differences.
func compareLD(t *testing.T, c *ld.LDClient, p *provider.Provider, contexts []map[string]any) *ldStats {
	t.Helper()
	return compareLDOn(t, c, p, contexts, ldEvaluations())
}

// compareLDOn is compareLD for the given evaluations.
func compareLDOn(t *testing.T, c *ld.LDClient, p *provider.Provider, contexts []map[string]any, evals []ldEvaluation) *ldStats {
	t.Helper()
	workers := runtime.GOMAXPROCS(0)
	parts := make([]*ldStats, workers)
	var wg sync.WaitGroup
	for w := range workers {
		st := newLDStats()
		parts[w] = st
		wg.Go(func() {
			for i := w; i < len(contexts); i += workers {
				fc := contexts[i]
				lc, err := ldcompat.ToContext(fc)
				for _, e := range evals {
					want := launchDarklyAnswer(c, e.flag, e.typ, lc, err)
					got := redisflagsAnswer(t.Context(), p, e.flag, e.typ, fc)
					st.evaluations++
					if st.variants[e.flag] == nil {
						st.variants[e.flag] = map[string]int{}
					}
					st.variants[e.flag][got.Variant]++
					st.reasons[got.Reason]++
					if got.Code != "" {
						st.codes[got.Code]++
					}
					if !sameAnswer(want, got) {
						st.ndiff++
						if len(st.diffs) < 10 {
							st.diffs = append(st.diffs, fmt.Sprintf("flag %s as %s, context %v:\n  LaunchDarkly: %v\n  redisflags:   %v", e.flag, e.typ, fc, want, got))
						}
					}
				}
			}
		})
	}
	wg.Wait()
	st := newLDStats()
	for _, part := range parts {
		st.add(part)
	}
	for _, d := range st.diffs {
		t.Error(d)
	}
	if st.ndiff > 0 {
		t.Fatalf("%d of %d evaluations differ", st.ndiff, st.evaluations)
	}
	return st
}

func TestLaunchDarklyEquivalence(t *testing.T) {
	c := ldcompat.FileClient(t, ldDataFile)
	srv := importLD(t)
	n := 50_000
	if testing.Short() {
		n = 5_000
	}
	contexts := ldContexts(n, 1)

	t.Run("snapshot", func(t *testing.T) {
		p := provider.New(srv.Client(t))
		require.NoError(t, of.SetNamedProviderAndWait(t.Name(), p))
		t.Cleanup(p.Shutdown)
		st := compareLD(t, c, p, contexts)
		t.Logf("snapshot: %d contexts × %d flags (%d typed evaluations each side): identical values, variants, reasons and error codes",
			len(contexts), len(ldFlagTypes), st.evaluations)
		kinds := map[string]int{}
		for _, fc := range contexts {
			kinds[describeContext(fc)]++
		}
		t.Logf("contexts: %v", kinds)
		t.Logf("reasons: %v; error codes: %v", st.reasons, st.codes)
		for _, flag := range []string{"rollout-50-50", "rollout-three-way-bucket-by", "rollout-org-seed", "experiment", "json-flag", "segments", "negative-weights", "negative-weights-rule"} {
			t.Logf("%s variants: %v", flag, st.variants[flag])
		}
		// Every flag served more than one outcome or was meant not to.
		require.Greater(t, len(st.variants["rollout-three-way-bucket-by"]), 3)
		require.Greater(t, len(st.variants["rules-strings"]), 6)
		// Negative weights split as LaunchDarkly splits them: two of three
		// variations served (and the errors' empty variant).
		require.Len(t, st.variants["negative-weights"], 3)
		require.GreaterOrEqual(t, len(st.variants["negative-weights-rule"]), 3)
	})

	t.Run("direct", func(t *testing.T) {
		p := provider.New(srv.Client(t), provider.WithDirectReads())
		require.NoError(t, of.SetNamedProviderAndWait(t.Name(), p))
		t.Cleanup(p.Shutdown)
		m := 300
		if testing.Short() {
			m = 100
		}
		st := compareLD(t, c, p, contexts[:m])
		t.Logf("direct: %d contexts × %d flags (%d typed evaluations each side): identical", m, len(ldFlagTypes), st.evaluations)
	})

	t.Run("through the OpenFeature SDK", func(t *testing.T) {
		// The same comparison through an OpenFeature client, as an
		// application calls it, for a sample.
		p := provider.New(srv.Client(t))
		domain := t.Name()
		require.NoError(t, of.SetNamedProviderAndWait(domain, p))
		t.Cleanup(p.Shutdown)
		client := of.NewClient(domain)
		m := 1_000
		for _, fc := range contexts[:m] {
			ec := toEvaluationContext(fc)
			lc, lerr := ldcompat.ToContext(fc)
			for flag, typ := range ldFlagTypes {
				want := launchDarklyAnswer(c, flag, typ, lc, lerr)
				got := sdkAnswer(t.Context(), client, flag, typ, ec)
				if !sameAnswer(want, got) {
					t.Fatalf("flag %s as %s, context %v:\n  LaunchDarkly: %v\n  redisflags:   %v", flag, typ, fc, want, got)
				}
			}
		}
		t.Logf("OpenFeature SDK: %d contexts × %d flags identical", m, len(ldFlagTypes))
	})
}

// describeContext classifies a generated context for the test log.
func describeContext(fc map[string]any) string {
	lc, err := ldcompat.ToContext(fc)
	switch {
	case err != nil || lc.Err() != nil:
		return "refused by LaunchDarkly"
	case lc.Multiple():
		return fmt.Sprintf("multi-kind (%d kinds)", lc.IndividualContextCount())
	}
	attrs := "without rule attributes"
	for k := range fc {
		switch k {
		case "kind", "key", of.TargetingKey:
		default:
			attrs = "with attributes"
		}
	}
	return fmt.Sprintf("single %s %s", lc.Kind(), attrs)
}

// toEvaluationContext turns a flattened context back into what an
// application builds: the targeting key apart.
func toEvaluationContext(fc map[string]any) of.EvaluationContext {
	attrs := make(map[string]any, len(fc))
	key := ""
	for k, v := range fc {
		if k == of.TargetingKey {
			if s, ok := v.(string); ok && s != "" {
				key = s
				continue
			}
		}
		attrs[k] = v
	}
	return of.NewEvaluationContext(key, attrs)
}

func sdkAnswer(ctx context.Context, c *of.Client, flag, typ string, ec of.EvaluationContext) answer {
	def := ldDefaults[typ]
	var a answer
	var d of.EvaluationDetails
	switch typ {
	case "bool":
		r, _ := c.BooleanValueDetails(ctx, flag, def.(bool), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "string":
		r, _ := c.StringValueDetails(ctx, flag, def.(string), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "int":
		r, _ := c.IntValueDetails(ctx, flag, def.(int64), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "float":
		r, _ := c.FloatValueDetails(ctx, flag, def.(float64), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "json":
		r, _ := c.ObjectValueDetails(ctx, flag, def, ec)
		a.Value, d = r.Value, r.EvaluationDetails
	}
	a.Variant, a.Reason, a.Code = d.Variant, d.Reason, d.ErrorCode
	return a
}

// TestLaunchDarklyImportIntoOneEnvironment imports the test data into one
// environment (LDEnvironment) and checks, in both modes: evaluated there
// (by the provider's environment, or by a string "environment" attribute,
// also when another attribute such as "region" is not a string), every
// answer is LaunchDarkly's; asked about another environment, every flag
// serves the caller's default with reason DEFAULT and no variant, as a flag
// that does not exist there.
func TestLaunchDarklyImportIntoOneEnvironment(t *testing.T) {
	c := ldcompat.FileClient(t, ldDataFile)
	data, err := os.ReadFile(ldDataFile)
	require.NoError(t, err)
	res, err := importer.LaunchDarkly(data, importer.LDEnvironment("staging"))
	require.NoError(t, err)
	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	for _, f := range res.Flags {
		_, err := st.Upsert(t.Context(), f)
		require.NoError(t, err, f.Key)
	}
	contexts := ldContexts(2_000, 7)
	withEnv := make([]map[string]any, len(contexts))
	for i, fc := range contexts {
		m := maps.Clone(fc)
		m["environment"] = "staging"
		if i%3 == 0 && m["kind"] != "multi" {
			m["region"] = 5 // any type, for a LaunchDarkly flag
		}
		withEnv[i] = m
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			n := len(contexts)
			if m.direct {
				n = 200
			}
			staging := provider.New(srv.Client(t), append(m.opts, provider.WithEnvironment("staging"))...)
			require.NoError(t, staging.Init(of.EvaluationContext{}))
			t.Cleanup(staging.Shutdown)
			compareLD(t, c, staging, contexts[:n])

			production := provider.New(srv.Client(t), m.opts...)
			require.NoError(t, production.Init(of.EvaluationContext{}))
			t.Cleanup(production.Shutdown)
			compareLD(t, c, production, withEnv[:n])
			for _, e := range ldEvaluations() {
				fc := map[string]any{of.TargetingKey: "user-1", "kind": "user", "email": "ann@example.com"}
				got := redisflagsAnswer(t.Context(), production, e.flag, e.typ, fc)
				want := answer{Value: ldDefaults[e.typ], Reason: of.DefaultReason}
				require.True(t, sameAnswer(want, got), "flag %s (%s) in production: got %v, want %v", e.flag, e.typ, got, want)
			}
		})
	}
}

// modes are the provider's two modes.
func modes() []struct {
	name   string
	direct bool
	opts   []provider.Option
} {
	return []struct {
		name   string
		direct bool
		opts   []provider.Option
	}{{"snapshot", false, nil}, {"direct", true, []provider.Option{provider.WithDirectReads()}}}
}
