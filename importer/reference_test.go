package importer_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/murmur3"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
)

// This file checks the flagd translation against a reference: a small JSON
// Logic interpreter written from flagd's documented semantics (JavaScript
// comparisons, null read as 0 by <, flagd's sem_ver, starts_with, ends_with
// and fractional), over random targetings and random contexts. Contexts hold
// attributes of the type the targeting compares them with, or none, or null:
// the domain the package documentation promises exactness in.

// refResult is what flagd answers for a targeting: a variant (match), null
// (the default variant, reason DEFAULT), or — split set — a variant chosen by
// fractional. noBucket marks a fractional that had nothing to hash, which
// yields null.
type refResult struct {
	variant  string
	null     bool
	split    bool
	noBucket bool
}

type refEval struct {
	flag string
	data map[string]any
}

func (r refEval) lookup(name string) any {
	if name == "$flagd.flagKey" {
		return r.flag
	}
	var cur any = r.data
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// value evaluates an operand or condition to a JSON Logic value.
func (r refEval) value(expr any) any {
	switch x := expr.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for op, args := range x {
			return r.op(op, args)
		}
	}
	return expr
}

func list(args any) []any {
	if l, ok := args.([]any); ok {
		return l
	}
	return []any{args}
}

func toNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		if strings.TrimSpace(x) == "" {
			return 0
		}
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return math.NaN()
		}
		return f
	}
	return math.NaN()
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	}
	return true
}

func looseEquals(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if okA && okB {
		return sa == sb
	}
	return toNumber(a) == toNumber(b)
}

func strictEquals(a, b any) bool {
	if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return false
	}
	return looseEquals(a, b)
}

func less(a, b any) bool {
	sa, okA := a.(string)
	sb, okB := b.(string)
	if okA && okB {
		return sa < sb
	}
	return toNumber(a) < toNumber(b)
}

func (r refEval) op(op string, args any) any {
	l := list(args)
	vals := func() []any {
		out := make([]any, len(l))
		for i, a := range l {
			out[i] = r.value(a)
		}
		return out
	}
	switch op {
	case "var":
		return r.lookup(l[0].(string))
	case "and":
		for _, a := range l {
			if !truthy(r.value(a)) {
				return false
			}
		}
		return true
	case "or":
		for _, a := range l {
			if truthy(r.value(a)) {
				return true
			}
		}
		return false
	case "!":
		return !truthy(r.value(l[0]))
	case "!!":
		return truthy(r.value(l[0]))
	case "==":
		v := vals()
		return looseEquals(v[0], v[1])
	case "!=":
		v := vals()
		return !looseEquals(v[0], v[1])
	case "===":
		v := vals()
		return strictEquals(v[0], v[1])
	case "!==":
		v := vals()
		return !strictEquals(v[0], v[1])
	case "<", "<=", ">", ">=":
		v := vals()
		cmp := func(a, b any) bool {
			switch op {
			case "<":
				return less(a, b)
			case "<=":
				return less(a, b) || looseEquals(a, b)
			case ">":
				return less(b, a)
			}
			return less(b, a) || looseEquals(a, b)
		}
		if len(v) == 3 {
			return cmp(v[0], v[1]) && cmp(v[1], v[2])
		}
		return cmp(v[0], v[1])
	case "in":
		v := vals()
		if s, ok := v[1].(string); ok {
			n, ok := v[0].(string)
			return ok && strings.Contains(s, n)
		}
		arr, ok := l[1].([]any)
		if !ok {
			return false
		}
		for _, e := range arr {
			if looseEquals(v[0], r.value(e)) && (v[0] != nil) {
				return true
			}
		}
		return false
	case "starts_with", "ends_with":
		v := vals()
		s, ok1 := v[0].(string)
		p, ok2 := v[1].(string)
		if !ok1 || !ok2 {
			return false
		}
		if op == "starts_with" {
			return strings.HasPrefix(s, p)
		}
		return strings.HasSuffix(s, p)
	case "sem_ver":
		a, ok1 := r.value(l[0]).(string)
		b, ok2 := r.value(l[2]).(string)
		va, okA := refParseSemver(a)
		vb, okB := refParseSemver(b)
		if !ok1 || !ok2 || !okA || !okB {
			return false
		}
		c := refCompareSemver(va, vb)
		switch l[1].(string) {
		case "=":
			return c == 0
		case "!=":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		case "^":
			return va.nums[0] == vb.nums[0]
		case "~":
			return va.nums[0] == vb.nums[0] && va.nums[1] == vb.nums[1]
		}
	}
	panic("reference: unexpected operator " + op)
}

type refSemver struct {
	nums [3]int
	pre  string
}

// refParseSemver reads the versions the generator makes: M.m.p with an
// optional pre-release of one identifier.
func refParseSemver(s string) (refSemver, bool) {
	var v refSemver
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	s, v.pre, _ = strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, false
		}
		v.nums[i] = n
	}
	return v, true
}

func refCompareSemver(a, b refSemver) int {
	for i := range 3 {
		if a.nums[i] != b.nums[i] {
			if a.nums[i] < b.nums[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	an, errA := strconv.Atoi(a.pre)
	bn, errB := strconv.Atoi(b.pre)
	switch {
	case errA == nil && errB == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a.pre, b.pre)
}

// targeting evaluates a variant-yielding expression.
func (r refEval) targeting(expr any) refResult {
	switch x := expr.(type) {
	case nil:
		return refResult{null: true}
	case string:
		return refResult{variant: x}
	case bool:
		return refResult{variant: strconv.FormatBool(x)}
	case map[string]any:
		for op, args := range x {
			switch op {
			case "if":
				l := list(args)
				i := 0
				for ; i+1 < len(l); i += 2 {
					if truthy(r.value(l[i])) {
						return r.targeting(l[i+1])
					}
				}
				if i < len(l) {
					return r.targeting(l[i])
				}
				return refResult{null: true}
			case "fractional":
				return r.fractional(list(args))
			}
		}
	}
	panic(fmt.Sprintf("reference: unexpected targeting %v", expr))
}

func (r refEval) fractional(l []any) refResult {
	// As flagd's Go evaluator: a string bucket-by is hashed alone; a null
	// one (a missing attribute) falls back to flagKey+targetingKey; any
	// other type, or no targeting key to fall back on, yields null.
	var bucketBy string
	explicit := false
	if _, isPair := l[0].([]any); !isPair {
		switch v := r.value(l[0]).(type) {
		case string:
			bucketBy, explicit = v, true
		case nil:
		default:
			return refResult{null: true, noBucket: true}
		}
		l = l[1:]
	}
	if !explicit {
		tk, ok := r.data["targetingKey"].(string)
		if !ok || tk == "" {
			return refResult{null: true, noBucket: true}
		}
		bucketBy = r.flag + tk
	}
	var total uint64
	for _, p := range l {
		w, _ := p.([]any)[1].(json.Number).Int64()
		total += uint64(w)
	}
	bucket := uint64(murmur3.StringSum32(bucketBy)) * total >> 32
	var end uint64
	for _, p := range l {
		pair := p.([]any)
		w, _ := pair[1].(json.Number).Int64()
		end += uint64(w)
		if bucket < end {
			return refResult{variant: pair[0].(string), split: true}
		}
	}
	panic("reference: fractional fell through")
}

// generator makes random targetings over a fixed set of typed attributes.
type generator struct {
	rnd      *rand.Rand
	variants []string
}

func (g *generator) pick(xs ...any) any { return xs[g.rnd.IntN(len(xs))] }

func num(n float64) json.Number { return json.Number(strconv.FormatFloat(n, 'f', -1, 64)) }

func v(name string) map[string]any { return map[string]any{"var": name} }

func op(name string, args ...any) map[string]any { return map[string]any{name: args} }

func (g *generator) cond(depth int) any {
	k := g.rnd.IntN(12)
	if depth > 2 && k >= 9 {
		k = g.rnd.IntN(9)
	}
	strs := []any{"a", "b", "ab", "", "abc@x.com"}
	nums := []any{num(-1), num(0), num(1), num(2.5), num(10), num(29)}
	vers := []any{"1.0.0", "1.2.3", "1.2.3-rc", "2.0.0", "0.9.9", "1.3.0-0", "1.10.0", "1.2.3-1"}
	swap := func(a, b any) []any {
		if g.rnd.IntN(2) == 0 {
			return []any{a, b}
		}
		return []any{b, a}
	}
	switch k {
	case 0:
		return op(g.pick("==", "!=", "===", "!==").(string), swap(v("s"), g.pick(append(strs, nil)...))...)
	case 1:
		return op(g.pick("==", "!=", "===", "!==").(string), swap(v("n"), g.pick(nums...))...)
	case 2:
		return op(g.pick("<", "<=", ">", ">=").(string), swap(v("n"), g.pick(nums...))...)
	case 3:
		lo, hi := g.pick(nums...), g.pick(nums...)
		return op(g.pick("<", "<=").(string), lo, v("n"), hi)
	case 4:
		return op(g.pick("==", "!=").(string), swap(v("b"), g.pick(true, false, nil))...)
	case 5:
		switch g.rnd.IntN(3) {
		case 0:
			return op("in", v("s"), []any{g.pick(strs...), g.pick(strs...)})
		case 1:
			return op("in", g.pick("a", "b", "@x").(string), v("s"))
		}
		return op("in", v("n"), []any{g.pick(nums...), g.pick(nums...)})
	case 6:
		return op(g.pick("starts_with", "ends_with").(string), v("s"), g.pick("a", "b", "", "x.com"))
	case 7:
		sop := g.pick("=", "!=", "<", "<=", ">", ">=", "^", "~").(string)
		return op("sem_ver", v("ver"), sop, g.pick(vers...))
	case 8:
		return op("==", swap(v(g.pick("targetingKey", "$flagd.flagKey").(string)), g.pick("u1", "u2", "flag"))...)
	case 9:
		return op("!", g.cond(depth+1))
	default:
		n := 1 + g.rnd.IntN(3)
		args := make([]any, n)
		for i := range args {
			args[i] = g.cond(depth + 1)
		}
		return op(g.pick("and", "or").(string), args...)
	}
}

func (g *generator) targeting(depth int) any {
	k := g.rnd.IntN(10)
	if depth > 2 {
		k = g.rnd.IntN(4)
	}
	switch k {
	case 0:
		return nil
	case 1, 2:
		return g.variants[g.rnd.IntN(len(g.variants))]
	case 3:
		weights := g.pick([]int{50, 50}, []int{1, 1}, []int{1, 3}, []int{10, 20, 70}, []int{1, 1, 2}, []int{100}).([]int)
		var args []any
		if g.rnd.IntN(2) == 0 {
			args = append(args, v("s"))
		}
		for _, w := range weights {
			args = append(args, []any{g.variants[g.rnd.IntN(len(g.variants))], num(float64(w))})
		}
		return map[string]any{"fractional": args}
	}
	n := 1 + g.rnd.IntN(3)
	var args []any
	for range n {
		args = append(args, g.cond(0), g.targeting(depth+1))
	}
	if g.rnd.IntN(2) == 0 {
		args = append(args, g.targeting(depth+1))
	}
	return map[string]any{"if": args}
}

func (g *generator) context() map[string]any {
	m := map[string]any{}
	set := func(name string, vals ...any) {
		switch g.rnd.IntN(len(vals) + 2) {
		case 0: // missing
		case 1:
			m[name] = nil
		default:
			m[name] = vals[g.rnd.IntN(len(vals))]
		}
	}
	set("s", "a", "b", "ab", "ba", "", "abc@x.com", "zzz")
	set("n", -1.0, 0.0, 1.0, 2.5, 3.0, 10.0, 29.0, 100.0)
	set("b", true, false)
	set("ver", "1.0.0", "1.2.3", "1.2.3-rc", "1.2.3-1", "2.0.0", "0.9.9", "1.3.0-0", "1.10.0", "1.2.4", "2.0.0-0", "not-a-version")
	set("targetingKey", "u1", "u2", "user-77", "5c3d8535")
	return m
}

// TestFlagdTranslationMatchesReference is the differential test: the
// translated rules and flagd's semantics agree on every generated case.
func TestFlagdTranslationMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	g := &generator{rnd: rnd, variants: []string{"red", "green", "blue"}}
	const flagKey = "flag"
	cases, contexts := 0, 0
	seen := map[string]int{}
	for i := 0; i < 800; i++ {
		targeting := g.targeting(0)
		doc := map[string]any{"flags": map[string]any{flagKey: map[string]any{
			"state": "ENABLED", "variants": map[string]any{"red": "R", "green": "G", "blue": "B"},
			"defaultVariant": "red", "targeting": targeting,
		}}}
		data, err := json.Marshal(doc)
		require.NoError(t, err)
		flags, err := importer.ImportFlagd(data)
		require.NoError(t, err, "targeting %s", data)
		require.Len(t, flags, 1)
		c, err := evaluator.Compile(flags[0])
		require.NoError(t, err, "targeting %s", data)
		// Re-read the targeting as the importer does (json.Number).
		var back map[string]map[string]map[string]any
		require.NoError(t, decodeNumbers(data, &back))
		expr := back["flags"][flagKey]["targeting"]
		cases++
		for range 40 {
			ctx := g.context()
			contexts++
			want := refEval{flag: flagKey, data: ctx}.targeting(expr)
			subject, _ := ctx["targetingKey"].(string)
			got := c.Evaluate(evaluator.Input{Environment: "production", Subject: subject, Attributes: evaluator.MapAttributes(ctx)})
			msg := fmt.Sprintf("targeting %s\ncontext %v\nrules %s", data, ctx, mustJSON(t, flags[0].Rules))
			switch {
			case want.null:
				if want.noBucket {
					seen["split without input"]++
				} else {
					seen["null"]++
				}
				require.Equal(t, evaluator.NoError, got.Err, msg)
				require.Equal(t, "red", got.Variant, msg)
				require.Equal(t, evaluator.DefaultServed, got.Outcome, msg)
			default:
				require.Equal(t, evaluator.NoError, got.Err, msg)
				require.Equal(t, want.variant, got.Variant, msg)
				// flagd reports TARGETING_MATCH for a fractional's answer
				// too (outcome RuleMatch).
				require.Equal(t, evaluator.RuleMatch, got.Outcome, msg)
				if want.split {
					seen["split"]++
				} else {
					seen["match"]++
				}
			}
		}
	}
	t.Logf("%d targetings, %d evaluations agree: %v", cases, contexts, seen)
	for _, k := range []string{"split without input", "null", "split", "match"} {
		require.Greater(t, seen[k], contexts/50, "too few %s outcomes to prove much", k)
	}
}

func decodeNumbers(data []byte, dst any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	return dec.Decode(dst)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
