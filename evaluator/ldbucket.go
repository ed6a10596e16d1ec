package evaluator

import (
	"crypto/sha1" //nolint:gosec // LaunchDarkly's bucketing hash, not a security measure
	"encoding/binary"
	"strconv"
)

// ldScale is LaunchDarkly's divisor, 0xFFFFFFFFFFFFFFF as a float32 (which
// rounds it to 2^60).
const ldScale = float32(0xFFFFFFFFFFFFFFF)

// ldWeightScale is LaunchDarkly's unit of weight: 100000 is 100%.
const ldWeightScale = 100000

// BucketLD returns LaunchDarkly's rollout bucket, in [0, 1], of a value:
// sha1 of "<key>.<salt>.<value>" — or of "<seed>.<value>" when seed is not
// nil — the first 15 lower-case hex digits of the digest read as an
// integer, converted to float32 and divided by float32(0xFFFFFFFFFFFFFFF), as
// LaunchDarkly's Go SDK (v7) computes it, so that every context keeps the
// bucket it has there. key and salt are the flag's (or, for a segment rule,
// the segment's). A rollout then serves the first variation whose running
// sum of float32(weight)/100000 exceeds the bucket, and the last one when
// none does.
//
// BucketLD does not allocate when the hash input is at most 256 bytes.
func BucketLD(key, salt string, seed *int64, value string) float32 {
	var s int64
	if seed != nil {
		s = *seed
	}
	return ldHash(key, salt, s, seed != nil, value, 0, false)
}

// ldHash hashes the prefix and either the string s or, with isInt, the
// decimal form of n.
func ldHash(key, salt string, seed int64, hasSeed bool, s string, n int64, isInt bool) float32 {
	var buf [bucketBuf]byte
	b := buf[:0]
	if hasSeed {
		b = strconv.AppendInt(b, seed, 10)
	} else {
		b = append(b, key...)
		b = append(b, '.')
		b = append(b, salt...)
	}
	b = append(b, '.')
	if isInt {
		b = strconv.AppendInt(b, n, 10)
	} else {
		b = append(b, s...)
	}
	sum := sha1.Sum(b) //nolint:gosec // see the import
	// The first 15 hex digits are the first 60 bits.
	v := binary.BigEndian.Uint64(sum[:8]) >> 4
	return float32(v) / ldScale
}

// ldRollout is a compiled LaunchDarkly rollout (a split under
// BucketLaunchDarkly) or segment-rule weight. Immutable.
type ldRollout struct {
	kind    string  // context kind; never ""
	ref     attrRef // the bucket-by attribute; nil for the key
	seed    int64
	hasSeed bool
	// upper are the running sums of float32(weight)/100000, in LaunchDarkly's
	// float32 arithmetic; a bucket below upper[i] (and not below the ones
	// before) takes variant i.
	upper []float32
}

// bucket computes the rollout's bucket for in, as LaunchDarkly does: no
// context of the rollout's kind gives 0 with lacksKind set; a bucket-by
// attribute that is missing, or neither a string nor a whole number, gives 0.
// It does not allocate for hash inputs of up to 256 bytes.
func (r *ldRollout) bucket(in *Input, key, salt string) (b float32, lacksKind bool) {
	ctx, ok := in.contextOf(r.kind)
	if !ok {
		return 0, true
	}
	if r.ref == nil {
		return ldHash(key, salt, r.seed, r.hasSeed, ctx.key, 0, false), false
	}
	v, ok := ctx.value(r.ref)
	if !ok {
		return 0, false
	}
	if s, isStr := v.(string); isStr {
		return ldHash(key, salt, r.seed, r.hasSeed, s, 0, false), false
	}
	if f, isNum := toNumber(v); isNum && isWholeLD(f) {
		return ldHash(key, salt, r.seed, r.hasSeed, "", int64(int(f)), true), false
	}
	return 0, false
}

// pick returns the index of the weight a bucket falls in: the last one
// when the weights end below it.
func (r *ldRollout) pick(b float32) int {
	for i, u := range r.upper {
		if b < u {
			return i
		}
	}
	return len(r.upper) - 1
}

// ldWeightSums returns the running sums of weights in LaunchDarkly's units,
// computed exactly as its evaluator sums them.
func ldWeightSums(weights []int) []float32 {
	out := make([]float32, len(weights))
	var sum float32
	for i, w := range weights {
		sum += float32(w) / ldWeightScale
		out[i] = sum
	}
	return out
}

// ldSplitResult serves a BucketLaunchDarkly split with the given outcome.
// It never fails: a context that lacks what the rollout buckets by lands in
// bucket 0, as in LaunchDarkly.
func (c *Compiled) ldSplitResult(in *Input, s *compiledSplit, outcome Outcome) Result {
	b, _ := s.ld.bucket(in, c.key, c.salt)
	r := Result{Outcome: outcome, Bucket: min(int(b*100), 99)}
	c.variant.serve(&r, s.variants[s.ld.pick(b)])
	return r
}
