package importer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"
	"github.com/twmb/murmur3"

	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// This file is the flagd differential test: flagd's in-process evaluator
// (@openfeature/flagd-core from npm, pinned by conformance/flagd's lock
// file, run by node) and our provider (importer → store on a real
// redis-server → provider → OpenFeature client) evaluate the flag file
// testdata/flagd/flags.json for the same generated contexts, and every
// value, variant, reason and error code must agree, in snapshot and direct
// modes, and so must every flag's metadata.
//
// Where flagd's Go evaluator and flagd-core disagree, redisflags follows the
// Go evaluator (README, "Moving from flagd"), and the expected answer is
// computed here from flagd's Go bucketing (murmur3 of the UTF-8 input,
// hash·total >> 32) instead of taken from node: a fractional whose
// bucket-by attribute is missing or null (Go falls back to flagKey +
// targetingKey, flagd-core serves the default variant), and a bucket-by
// value that is not ASCII (flagd-core hashes UTF-16 code units).

const (
	flagdDataFile = "testdata/flagd/flags.json"
	flagdNodeDir  = "../conformance/flagd"
)

// flagdDefaults are the callers' defaults per flagd-core type, unlike any
// variant value.
var flagdDefaults = map[string]any{
	"boolean": false, "string": "DEFAULT", "number": -1.5, "object": map[string]any{"default": true},
}

// flagdAnswer is one evaluation as both sides report it.
type flagdAnswer struct {
	Value   any
	Variant string
	Reason  string
	Code    string
}

func (a flagdAnswer) String() string {
	return fmt.Sprintf("value=%s variant=%q reason=%s code=%s", mustJSONValue(a.Value), a.Variant, a.Reason, a.Code)
}

func mustJSONValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// sameFlagdAnswer compares values as JSON (numbers as float64 on both sides).
func sameFlagdAnswer(a, b flagdAnswer) bool {
	return a.Variant == b.Variant && a.Reason == b.Reason && a.Code == b.Code && sameJSON(a.Value, b.Value)
}

func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case string, bool:
		return a == b
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	}
	var x, y any
	if json.Unmarshal([]byte(mustJSONValue(a)), &x) != nil || json.Unmarshal([]byte(mustJSONValue(b)), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// flagdEvaluation is one flag asked with one type.
type flagdEvaluation struct {
	flag, typ string
	natural   bool // the flag's own type, not a deliberate mismatch
}

// flagdFile is the part of the flag file the test reads itself.
type flagdFile struct {
	Flags map[string]struct {
		Variants  map[string]any `json:"variants"`
		Targeting any            `json:"targeting"`
	} `json:"flags"`
}

// flagdEvaluations asks every flag with the type of its variants and with
// one other type (TYPE_MISMATCH), plus a flag that does not exist.
func flagdEvaluations(t *testing.T, file flagdFile) []flagdEvaluation {
	t.Helper()
	wrong := map[string]string{"boolean": "string", "string": "number", "number": "boolean", "object": "string"}
	var out []flagdEvaluation
	for _, key := range slices.Sorted(maps.Keys(file.Flags)) {
		typ := ""
		for _, v := range file.Flags[key].Variants {
			switch v.(type) {
			case bool:
				typ = "boolean"
			case string:
				typ = "string"
			case float64:
				typ = "number"
			default:
				typ = "object"
			}
		}
		out = append(out, flagdEvaluation{key, typ, true}, flagdEvaluation{key, wrong[typ], false})
	}
	return append(out, flagdEvaluation{"no-such-flag", "string", true})
}

// flagdContexts generates n contexts as applications send them to a flagd
// provider, and some they should not: with and without a targeting key, a
// "key" without one, LaunchDarkly multi-contexts, reserved attributes of
// any type, missing, null and wrongly-typed attributes, versions with and
// without prefixes, partial, numeric and invalid versions, nested objects
// and an attribute whose name holds a dot.
//
// Wrongly-typed values go where both of flagd's evaluators answer them:
// the operators that are flagd's own (sem_ver, starts_with, ends_with,
// fractional), strict equality and array membership. flagd-core fails a
// loose comparison (==, <, "in" a string) of mismatched types with GENERAL
// where flagd's Go evaluator compares them, and redisflags follows the Go
// evaluator (README, "Moving from flagd"), so attributes those operators
// read get strings, numbers or null as their rules expect.
func flagdContexts(n int, seed uint64) []map[string]any {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	maybe := func(m map[string]any, name string, vals ...any) {
		i := r.IntN(len(vals) + 2)
		switch {
		case i == len(vals):
			m[name] = nil
		case i < len(vals):
			m[name] = vals[i]
		}
	}
	versions := []any{"1.0.0", "v1.0.0", "V1.0.0", "2.0.0", "v2.0.0", "V2.1.0", "2.1.0-rc.1", "2.1.0-rc.2", "2.0.0-alpha",
		"1.5.0", "V1.5.0", "1.5", "1", "3", "3.0.1", "3.1.0", "V3.0.0-beta.2", "4.0.0", "1.0.0+build", "1.0.0+other",
		"1.2.0", "1.1", "0.9.9", "1-rc.1", "1.0.0+build+build", "1.0.0-01", "2.0.0.0", "not-a-version", "",
		1.0, 1.2, 2.0, 3.0, 1.5, 1.1, true, map[string]any{"major": 1}}
	out := make([]map[string]any, n)
	for i := range out {
		m := map[string]any{}
		switch r.IntN(10) {
		case 0, 1, 2, 3, 4, 5:
			m[of.TargetingKey] = pick(r, "5c3d8535-f81a-4478-a6d3-afaa4d51199e", "jon@company.com", "jane@company.com",
				fmt.Sprintf("user-%d", r.IntN(100_000)))
		case 6, 7:
			m["key"] = fmt.Sprintf("user-%d", r.IntN(1000)) // a LaunchDarkly single context: no targeting key for flagd
		case 8:
			m["kind"] = "multi" // a LaunchDarkly multi-context
			user := map[string]any{"key": fmt.Sprintf("user-%d", r.IntN(1000))}
			maybe(user, "name", "ann", "bob", "chloé")
			m["user"] = user
			if r.IntN(2) == 0 {
				m[of.TargetingKey] = fmt.Sprintf("mc-%d", r.IntN(1000))
			}
		}
		maybe(m, "email", "ballmer@macrosoft.com", "ann@corp.com", "bob@home.net", "ballmer@macrosoft.com.au")
		maybe(m, "id", "abcdef", "uvwxyz", "abcxyz", "lmnopq", 5.0, false)
		maybe(m, "version", versions...)
		maybe(m, "age", 10.0, 17.0, 18.0, 30.0, 35.0, 40.0, 41.0, 64.0, 65.0, 90.0, 17.5, 0.0, -3.0)
		maybe(m, "tier", "premium", "basic", "gold")
		maybe(m, "plan", "pro", "free", 1.0, true, map[string]any{"name": "pro"})
		maybe(m, "country", "fr", "de", "us")
		maybe(m, "beta", true, false, 0.0)
		maybe(m, "subject", "alice", "bob", 9.0, true)
		maybe(m, "region", "eu-west", "us-east", 5.0, false, map[string]any{"name": "eu-west"})
		maybe(m, "environment", "staging", "production", 3.0, true)
		maybe(m, "org", map[string]any{"id": "acme"}, map[string]any{"id": "other"}, map[string]any{"id": 5.0}, "acme")
		if r.IntN(8) == 0 {
			m["org.id"] = "acme" // a name with a dot is not a path's end
		}
		if _, multi := m["user"]; !multi && r.IntN(3) == 0 {
			user := map[string]any{}
			maybe(user, "name", "ann", "bob", "chloé", 12.0)
			maybe(user, "address", map[string]any{"city": "Paris"}, map[string]any{"city": "Lyon"}, "Paris")
			m["user"] = user
		}
		switch r.IntN(10) {
		case 0:
			m["missing_key"] = fmt.Sprintf("k-%d", r.IntN(1000))
		case 1:
			m["missing_key"] = 7.0
		}
		out[i] = m
	}
	return out
}

// requireFlagdCore finds node and the installed flagd-core, or skips (fails
// under REDISFLAGS_REQUIRE_BROWSER=1, as CI runs).
func requireFlagdCore(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		msg := fmt.Sprintf("%s; run `npm ci` in conformance/flagd to run the flagd differential test", what)
		if os.Getenv("REDISFLAGS_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(flagdNodeDir, "node_modules", "@openfeature", "flagd-core", "package.json")); err != nil {
		missing("@openfeature/flagd-core is not installed")
	}
	return node
}

// runFlagdCore evaluates every context with flagd-core: answers[i][j] is
// context i, evaluation j; metadata is per flag.
func runFlagdCore(t *testing.T, node string, evals []flagdEvaluation, contexts []map[string]any) ([][]flagdAnswer, map[string]any) {
	t.Helper()
	dir := t.TempDir()
	pairs := make([][2]string, len(evals))
	for i, e := range evals {
		pairs[i] = [2]string{e.flag, e.typ}
	}
	cases, err := json.Marshal(map[string]any{"evaluations": pairs, "defaults": flagdDefaults, "contexts": contexts})
	require.NoError(t, err)
	casesPath := filepath.Join(dir, "cases.json")
	require.NoError(t, os.WriteFile(casesPath, cases, 0o600))
	flagsPath, err := filepath.Abs(flagdDataFile)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // generous: a loaded 2-core machine
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "evaluate.cjs", flagsPath, casesPath)
	cmd.Dir = flagdNodeDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node evaluate.cjs: %s", stderr.String())

	var answers [][]flagdAnswer
	var metadata map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte(`{"metadata"`)) {
			var m struct{ Metadata map[string]any }
			require.NoError(t, json.Unmarshal(line, &m))
			metadata = m.Metadata
			continue
		}
		var row [][4]any
		require.NoError(t, json.Unmarshal(line, &row))
		as := make([]flagdAnswer, len(row))
		for j, cell := range row {
			as[j] = flagdAnswer{Value: cell[0], Variant: cell[1].(string), Reason: cell[2].(string), Code: cell[3].(string)}
		}
		answers = append(answers, as)
	}
	require.NoError(t, sc.Err())
	require.Len(t, answers, len(contexts), "one answer line per context")
	require.NotNil(t, metadata, "flagd-core reported metadata")
	return answers, metadata
}

// goAnswer is the answer of flagd's Go evaluator where it differs from
// flagd-core, for a top-level fractional with a bucket-by {"var": name}:
// when the attribute is missing or null and the context has a targeting
// key, Go buckets by flagKey+targetingKey (flagd-core serves the default
// variant); when the attribute's string is not ASCII, Go hashes its UTF-8
// bytes (flagd-core's murmur3 hashes UTF-16 code units). ok is false when
// the case is neither, and flagd-core's answer is flagd's.
func goAnswer(file flagdFile, flag string, fc map[string]any) (string, bool) {
	def, found := file.Flags[flag]
	if !found {
		return "", false
	}
	tm, _ := def.Targeting.(map[string]any)
	args, _ := tm["fractional"].([]any)
	if len(args) < 2 {
		return "", false
	}
	by, _ := args[0].(map[string]any)
	name, _ := by["var"].(string)
	if name == "" {
		return "", false
	}
	var input string
	switch v := lookupPath(fc, name).(type) {
	case nil:
		tk, _ := fc[of.TargetingKey].(string)
		if tk == "" {
			return "", false
		}
		input = flag + tk
	case string:
		if isASCII(v) {
			return "", false
		}
		input = v
	default:
		return "", false
	}
	var total uint64
	for _, p := range args[1:] {
		total += uint64(p.([]any)[1].(float64))
	}
	bucket := uint64(murmur3.StringSum32(input)) * total >> 32
	var end uint64
	for _, p := range args[1:] {
		pair := p.([]any)
		end += uint64(pair[1].(float64))
		if bucket < end {
			return pair[0].(string), true
		}
	}
	return "", false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lookupPath walks a dotted name through nested objects (nil when absent).
func lookupPath(m map[string]any, name string) any {
	var cur any = m
	for {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		head, rest, more := cutDot(name)
		cur = obj[head]
		if !more {
			return cur
		}
		name = rest
	}
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// sdkFlagdAnswer evaluates through an OpenFeature client, as an
// application does.
func sdkFlagdAnswer(ctx context.Context, c *of.Client, flag, typ string, ec of.EvaluationContext) (flagdAnswer, of.FlagMetadata) {
	var a flagdAnswer
	var d of.EvaluationDetails
	switch typ {
	case "boolean":
		r, _ := c.BooleanValueDetails(ctx, flag, flagdDefaults[typ].(bool), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "string":
		r, _ := c.StringValueDetails(ctx, flag, flagdDefaults[typ].(string), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "number":
		r, _ := c.FloatValueDetails(ctx, flag, flagdDefaults[typ].(float64), ec)
		a.Value, d = r.Value, r.EvaluationDetails
	case "object":
		r, _ := c.ObjectValueDetails(ctx, flag, flagdDefaults[typ], ec)
		a.Value, d = r.Value, r.EvaluationDetails
	}
	a.Variant, a.Reason, a.Code = d.Variant, string(d.Reason), string(d.ErrorCode)
	return a, d.FlagMetadata
}

// providerFlagdAnswer evaluates through the provider's typed methods, as
// the OpenFeature SDK calls them, and maps errors as the SDK hands them to
// the caller (the default value, reason ERROR).
func providerFlagdAnswer(ctx context.Context, p *provider.Provider, flag, typ string, fc map[string]any) (flagdAnswer, of.FlagMetadata) {
	def := flagdDefaults[typ]
	var value any
	var d of.ProviderResolutionDetail
	switch typ {
	case "boolean":
		r := p.BooleanEvaluation(ctx, flag, def.(bool), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "string":
		r := p.StringEvaluation(ctx, flag, def.(string), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "number":
		r := p.FloatEvaluation(ctx, flag, def.(float64), fc)
		value, d = r.Value, r.ProviderResolutionDetail
	case "object":
		r := p.ObjectEvaluation(ctx, flag, def, fc)
		value, d = r.Value, r.ProviderResolutionDetail
	}
	rd := d.ResolutionDetail()
	a := flagdAnswer{Value: value, Variant: rd.Variant, Reason: string(rd.Reason), Code: string(rd.ErrorCode)}
	if a.Code != "" {
		a.Reason, a.Value, a.Variant = string(of.ErrorReason), def, ""
	}
	return a, d.FlagMetadata
}

// flagdAsker answers one evaluation for a flattened context.
type flagdAsker func(e flagdEvaluation, fc map[string]any) (flagdAnswer, of.FlagMetadata)

type flagdStats struct {
	evaluations, fallbacks int
	reasons                map[string]int
	codes                  map[string]int
	variants               map[string]map[string]int
	metadata               map[string]of.FlagMetadata
	diffs                  []string
	ndiff                  int
}

func newFlagdStats() *flagdStats {
	return &flagdStats{reasons: map[string]int{}, codes: map[string]int{}, variants: map[string]map[string]int{}, metadata: map[string]of.FlagMetadata{}}
}

// compareFlagd evaluates evals for every context through client, split
// over the CPUs, against want; it fails listing the first differences.
func compareFlagd(t *testing.T, ask flagdAsker, file flagdFile, evals []flagdEvaluation, contexts []map[string]any, want [][]flagdAnswer, only func(e flagdEvaluation, context, eval int) bool) *flagdStats {
	t.Helper()
	workers := max(runtime.GOMAXPROCS(0), 4) // direct mode waits on Redis
	parts := make([]*flagdStats, workers)
	var wg sync.WaitGroup
	for w := range workers {
		st := newFlagdStats()
		parts[w] = st
		wg.Go(func() {
			for i := w; i < len(contexts); i += workers {
				fc := contexts[i]
				for j, e := range evals {
					if !only(e, i, j) {
						continue
					}
					expect := want[i][j]
					if variant, ok := goAnswer(file, e.flag, fc); ok && e.natural {
						st.fallbacks++
						expect = flagdAnswer{Value: variant, Variant: variant, Reason: string(of.TargetingMatchReason)}
					}
					got, md := ask(e, fc)
					st.evaluations++
					st.reasons[got.Reason]++
					if got.Code != "" {
						st.codes[got.Code]++
					}
					if st.variants[e.flag] == nil {
						st.variants[e.flag] = map[string]int{}
					}
					st.variants[e.flag][got.Variant]++
					if got.Code == "" && st.metadata[e.flag] == nil {
						st.metadata[e.flag] = md
					}
					if !sameFlagdAnswer(expect, got) {
						st.ndiff++
						if len(st.diffs) < 10 {
							st.diffs = append(st.diffs, fmt.Sprintf("flag %s as %s, context %s:\n  flagd:      %v\n  redisflags: %v", e.flag, e.typ, mustJSONValue(fc), expect, got))
						}
					}
				}
			}
		})
	}
	wg.Wait()
	st := newFlagdStats()
	for _, p := range parts {
		st.evaluations += p.evaluations
		st.fallbacks += p.fallbacks
		st.ndiff += p.ndiff
		st.diffs = append(st.diffs, p.diffs...)
		for k, n := range p.reasons {
			st.reasons[k] += n
		}
		for k, n := range p.codes {
			st.codes[k] += n
		}
		for f, vs := range p.variants {
			if st.variants[f] == nil {
				st.variants[f] = map[string]int{}
			}
			for v, n := range vs {
				st.variants[f][v] += n
			}
		}
		for f, md := range p.metadata {
			if st.metadata[f] == nil {
				st.metadata[f] = md
			}
		}
	}
	for _, d := range st.diffs[:min(len(st.diffs), 10)] {
		t.Error(d)
	}
	if st.ndiff > 0 {
		t.Fatalf("%d of %d evaluations differ from flagd", st.ndiff, st.evaluations)
	}
	return st
}

func TestFlagdDifferential(t *testing.T) {
	node := requireFlagdCore(t)
	data, err := os.ReadFile(flagdDataFile)
	require.NoError(t, err)
	var file flagdFile
	require.NoError(t, json.Unmarshal(data, &file))
	flags, err := importer.ImportFlagd(data)
	require.NoError(t, err, "every flag of the test data imports")
	require.Len(t, flags, len(file.Flags))

	n := 10_000
	if testing.Short() {
		n = 2_000
	}
	contexts := flagdContexts(n, 20)
	evals := flagdEvaluations(t, file)
	start := time.Now()
	want, wantMeta := runFlagdCore(t, node, evals, contexts)
	t.Logf("flagd-core: %d contexts × %d evaluations in %v", len(contexts), len(evals), time.Since(start).Round(time.Millisecond))

	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	for _, f := range flags {
		_, err := st.Upsert(t.Context(), f)
		require.NoError(t, err, f.Key)
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			p := provider.New(srv.Client(t), m.opts...)
			domain := t.Name()
			require.NoError(t, of.SetNamedProviderAndWait(domain, p))
			t.Cleanup(p.Shutdown)
			client := of.NewClient(domain)
			// Every evaluation through the provider's typed methods, as
			// the SDK calls them; a sample through the SDK itself, as an
			// application calls it, below.
			viaProvider := func(e flagdEvaluation, fc map[string]any) (flagdAnswer, of.FlagMetadata) {
				return providerFlagdAnswer(t.Context(), p, e.flag, e.typ, fc)
			}
			only := func(flagdEvaluation, int, int) bool { return true }
			if m.direct {
				// One round trip per evaluation, so every context is asked
				// a rotating twentieth of the evaluations: each context,
				// each flag and each type is covered.
				only = func(_ flagdEvaluation, i, j int) bool { return (i+j)%20 == 0 }
			}
			res := compareFlagd(t, viaProvider, file, evals, contexts, want, only)
			viaSDK := func(e flagdEvaluation, fc map[string]any) (flagdAnswer, of.FlagMetadata) {
				return sdkFlagdAnswer(t.Context(), client, e.flag, e.typ, toEvaluationContext(fc))
			}
			sample := min(len(contexts), 500)
			sdk := compareFlagd(t, viaSDK, file, evals, contexts[:sample], want[:sample], only)
			t.Logf("%s through the OpenFeature SDK: %d contexts, %d evaluations identical", m.name, sample, sdk.evaluations)
			t.Logf("%s: %d contexts, %d evaluations identical to flagd-core's (%d where flagd's Go evaluator's bucketing decides)",
				m.name, len(contexts), res.evaluations, res.fallbacks)
			t.Logf("reasons %v; error codes %v", res.reasons, res.codes)
			for _, f := range []string{"fractional-shorthand-flag", "fractional-bucket-by-flag", "semver-equal-flag", "numeric-flag", "equality-flag"} {
				t.Logf("%s variants: %v", f, res.variants[f])
			}
			// The contexts reach every kind of answer.
			for _, r := range []of.Reason{of.StaticReason, of.DefaultReason, of.TargetingMatchReason, of.DisabledReason, of.ErrorReason} {
				require.Greater(t, res.reasons[string(r)], res.evaluations/50, "reason %s", r)
			}
			for _, c := range []of.ErrorCode{of.TypeMismatchCode, of.FlagNotFoundCode} {
				require.Positive(t, res.codes[string(c)], "error code %s", c)
			}
			for _, f := range []string{"fractional-shorthand-flag", "fractional-bucket-by-flag", "semver-equal-flag", "semver-major-minor-flag", "numeric-flag", "in-flag", "equality-flag", "dotted-flag", "region-flag"} {
				require.GreaterOrEqual(t, len(res.variants[f]), 2, "flag %s served %v", f, res.variants[f])
			}
			for flag, md := range wantMeta {
				require.True(t, sameJSON(md, map[string]any(res.metadata[flag])), "metadata of %s: flagd %v, redisflags %v", flag, md, res.metadata[flag])
			}
			require.NotEmpty(t, wantMeta["metadata-flag"])
		})
	}
}
