package bench

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/murmur3"

	"github.com/redisflags/redisflags/evaluator"
)

// BenchmarkBucketHash compares the cost of the tutorial's bucket
// (evaluator.Bucket: sha256) with the hashes other flag systems bucket with.
// Only hashing and the reduction to 0–99 are measured, not an SDK's
// evaluation. Every case hashes the same bytes, "<flagKey>:<environment>:<subject>"
// built the way evaluator.Bucket builds them (see keyBuf; LaunchDarkly-style
// uses '.' for ':', as LaunchDarkly joins key, salt and subject), for a
// rotating set of 1024 subjects:
//
//   - input=short: subject "user-<n>", 38 bytes in all, the common case;
//   - input=long: a 300-byte subject (327 bytes in all), past the 192 bytes
//     that are hashed without allocating.
func BenchmarkBucketHash(b *testing.B) {
	const flagKey, env = "checkout-banner", "production"
	inputs := []struct {
		name     string
		subjects []string
	}{
		{"short", subjectsOf(func(i int) string { return "user-" + strconv.Itoa(100000+i) })},
		{"long", subjectsOf(func(i int) string { return strings.Repeat("x", 294) + strconv.Itoa(100000+i) })},
	}
	for _, in := range inputs {
		for _, h := range bucketHashes {
			b.Run("input="+in.name+"/hash="+h.name, func(b *testing.B) {
				b.SetBytes(int64(len(flagKey) + len(env) + len(in.subjects[0]) + 2))
				b.ReportAllocs()
				var sum, i int
				for b.Loop() {
					sum += h.bucket(flagKey, env, in.subjects[i&(len(in.subjects)-1)])
					i++
				}
				bucketSink = sum
			})
		}
	}
}

// bucketSink keeps the benchmarks' results alive.
var bucketSink int

// subjectsOf returns 1024 subjects (a power of two, so the benchmark loop
// indexes with a mask).
func subjectsOf(name func(i int) string) []string {
	s := make([]string, 1024)
	for i := range s {
		s[i] = name(i)
	}
	return s
}

// keyBuf holds the hashed bytes. Like evaluator.Bucket's it is 192 bytes on
// the stack, so every case pays the same to build its input: nothing for
// input=short, one allocation for input=long.
type keyBuf [192]byte

func (k *keyBuf) join(flagKey, env, subject string, sep byte) []byte {
	b := append(k[:0], flagKey...)
	b = append(b, sep)
	b = append(b, env...)
	b = append(b, sep)
	return append(b, subject...)
}

// bucketHashes are the compared schemes, each returning a bucket 0–99.
var bucketHashes = []struct {
	name   string
	bucket func(flagKey, env, subject string) int
}{
	// The tutorial's scheme, as evaluation runs it.
	{"sha256-tutorial", evaluator.Bucket},
	{"md5", func(flagKey, env, subject string) int {
		var k keyBuf
		sum := md5.Sum(k.join(flagKey, env, subject, ':'))
		return int(binary.BigEndian.Uint32(sum[:4]) % 100)
	}},
	// LaunchDarkly's bucketing: sha1 of "key.salt.subject", the first 15 hex
	// digits as an integer divided by 0xFFFFFFFFFFFFFFF, a float in [0, 1).
	// The first 15 hex digits are the first 60 bits, read here without the
	// hex round trip.
	{"sha1-launchdarkly", func(flagKey, env, subject string) int {
		var k keyBuf
		sum := sha1.Sum(k.join(flagKey, env, subject, '.'))
		v := binary.BigEndian.Uint64(sum[:8]) >> 4
		return int(float64(v) / float64(0xFFFFFFFFFFFFFFF) * 100)
	}},
	// flagd's fractional operator: murmur3 x86 32-bit, seed 0, mapped onto
	// the weights by multiply and shift.
	{"murmur3-flagd", func(flagKey, env, subject string) int {
		var k keyBuf
		h := murmur3.Sum32(k.join(flagKey, env, subject, ':'))
		return int(uint64(h) * 100 >> 32)
	}},
	{"fnv1a-32", func(flagKey, env, subject string) int {
		var k keyBuf
		h := fnv.New32a()
		h.Write(k.join(flagKey, env, subject, ':'))
		return int(h.Sum32() % 100)
	}},
	{"xxhash64", func(flagKey, env, subject string) int {
		var k keyBuf
		return int(xxhash.Sum64(k.join(flagKey, env, subject, ':')) % 100)
	}},
}
