package importer

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
)

// flagd's custom JSON Logic operators: sem_ver and fractional.

// semver translates flagd's sem_ver. "^" (same major version) and "~" (same
// major and minor) become ranges: ^1.2.3 is ≥ 1.0.0-0 and < 2.0.0-0, the
// lowest pre-releases, so that every 1.x.y and its pre-releases are in and
// nothing else. Versions read as flagd reads them (v/V prefix, partial
// versions; see evaluator.SemanticsFlagd). An invalid version never
// matches, in flagd as here (so != is "lower or higher", not "not equal");
// a literal version that does not parse, or an unknown operator, makes the
// condition false, as flagd evaluates it.
func (t *translator) semver(list []any, path string) pred {
	x, ok1 := t.operand(list[0], path+"[0]")
	y, ok2 := t.operand(list[2], path+"[2]")
	sop, ok3 := list[1].(string)
	if !ok1 || !ok2 {
		return constant(false)
	}
	if x.isAttr == y.isAttr {
		t.unsupported(path, "sem_ver", "compares an attribute with a literal version only")
		return constant(false)
	}
	attr, lit := x.attr, y.literal
	flip := map[string]string{"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=", "^": "^", "~": "~"}
	if !x.isAttr {
		attr, lit = y.attr, x.literal
		if f, ok := flip[sop]; ok {
			sop = f
		}
	}
	ver, ok := lit.(string)
	v, valid := parseVersion(ver)
	if !ok || !valid || !ok3 {
		// flagd's sem_ver is false when a version does not parse or the
		// operator is not a string.
		return constant(false)
	}
	switch sop {
	case "=":
		return leaf(attr, evaluator.OpSemverEq, ver)
	case "!=":
		return combine(false, []pred{leaf(attr, evaluator.OpSemverLT, ver), leaf(attr, evaluator.OpSemverGT, ver)})
	case "<":
		return leaf(attr, evaluator.OpSemverLT, ver)
	case "<=":
		return leaf(attr, evaluator.OpSemverLTE, ver)
	case ">":
		return leaf(attr, evaluator.OpSemverGT, ver)
	case ">=":
		return leaf(attr, evaluator.OpSemverGTE, ver)
	case "^", "~":
		lo, hi := v, v
		lo.patch, hi.patch = 0, 0
		if sop == "^" {
			lo.minor, hi.minor = 0, 0
			hi.major++
		} else {
			hi.minor++
		}
		if hi.major > maxVersionPart || hi.minor > maxVersionPart {
			t.unsupported(path, "sem_ver "+sop, "the version's upper bound does not fit a version number")
			return constant(false)
		}
		return combine(true, []pred{
			leaf(attr, evaluator.OpSemverGTE, lo.lowest()),
			leaf(attr, evaluator.OpSemverLT, hi.lowest()),
		})
	}
	// flagd's sem_ver is false for an unknown operator.
	return constant(false)
}

// maxVersionPart is the largest version component the evaluator reads (18
// decimal digits).
const maxVersionPart = 999_999_999_999_999_999

// version is the numeric part of a semantic version; pre-release and build
// do not matter for ^ and ~ bounds.
type version struct{ major, minor, patch uint64 }

// lowest is the lowest version with these numbers: its first pre-release.
func (v version) lowest() string { return fmt.Sprintf("%d.%d.%d-0", v.major, v.minor, v.patch) }

// parseVersion reads "1.2.3", "v1.2", "V1.2.3-rc.1+b" into its numbers,
// for a version that flagd reads as valid (evaluator.ValidSemverFlagd; a
// missing minor or patch is 0).
func parseVersion(s string) (version, bool) {
	if !evaluator.ValidSemverFlagd(s) {
		return version{}, false
	}
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return version{}, false
	}
	var nums [3]uint64
	for i, p := range parts {
		if p == "" || len(p) > 18 || (len(p) > 1 && p[0] == '0') {
			return version{}, false
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return version{}, false
		}
		nums[i] = n
	}
	return version{nums[0], nums[1], nums[2]}, true
}

// fractional translates flagd's fractional into a split: an optional
// bucket-by ({"var": name}) then [variant, weight] pairs (weight 1 when
// left out). Weights that do not sum to 100 are scaled when every one
// scales to a whole percentage — flagd buckets into [0, sum) and redisflags
// into [0, 100), which then pick the same variant for every hash.
func (t *translator) fractional(args any, path string) (*evaluator.Split, bool) {
	list, ok := args.([]any)
	if !ok || len(list) == 0 {
		t.invalid(path, "fractional", "takes an array: an optional bucket-by, then [variant, weight] pairs")
		return nil, false
	}
	s := &evaluator.Split{}
	if _, isPair := list[0].([]any); !isPair {
		x, ok := t.operand(list[0], path+"[0]")
		if !ok {
			return nil, false
		}
		if !x.isAttr {
			t.unsupported(path+"[0]", "fractional", "a literal bucket-by value puts every subject in one bucket; use {\"var\": name}")
			return nil, false
		}
		// Under flagd's semantics a named attribute, "targetingKey"
		// included, is hashed alone (see evaluator.SemanticsFlagd).
		s.BucketBy = x.attr
		list = list[1:]
	}
	if len(list) == 0 {
		t.invalid(path, "fractional", "lists no variants")
		return nil, false
	}
	var total int64
	weights := make([]int64, len(list))
	names := make([]string, len(list))
	for i, item := range list {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		pair, ok := item.([]any)
		if !ok || len(pair) == 0 || len(pair) > 2 {
			t.invalid(ipath, "fractional", "must be [variant, weight] or [variant]")
			return nil, false
		}
		switch v := pair[0].(type) {
		case string:
			names[i] = v
		case bool:
			names[i] = strconv.FormatBool(v)
		case nil:
			t.unsupported(ipath, "fractional", "a null bucket (flagd's default variant with reason DEFAULT) has no counterpart in a redisflags split")
			return nil, false
		default:
			t.unsupported(ipath, "fractional", "the variant must be a literal variant name")
			return nil, false
		}
		weights[i] = 1
		if len(pair) == 2 && pair[1] != nil {
			n, ok := pair[1].(json.Number)
			w, err := n.Int64()
			if !ok || err != nil || w < 0 || w > math.MaxInt32 {
				t.invalid(ipath+"[1]", "fractional", "the weight must be a whole number from 0 to 2147483647")
				return nil, false
			}
			weights[i] = w
		}
		total += weights[i]
	}
	if total <= 0 || total > math.MaxInt32 {
		t.invalid(path, "fractional", "the weights must sum to between 1 and 2147483647, got %d", total)
		return nil, false
	}
	for i, w := range weights {
		if w*100%total != 0 {
			t.unsupported(path, "fractional", "weights %v (sum %d) do not convert exactly to whole percentages, so redisflags' buckets 0–99 cannot reproduce flagd's", weights, total)
			return nil, false
		}
		s.Weights = append(s.Weights, evaluator.WeightedValue{Variant: names[i], Weight: int(w * 100 / total)})
	}
	return s, true
}
