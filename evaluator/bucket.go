package evaluator

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// bucketBuf is the stack buffer every scheme builds its hash input in: an
// input that fits costs no allocation; a longer one costs one.
const bucketBuf = 256

// Bucket returns the rollout bucket, 0–99, of a subject for a flag in an
// environment: sha256 of "<flagKey>:<environment>:<subject>", the first 8
// lower-case hex digits of the digest read as an unsigned 32-bit integer (the
// first four bytes, big-endian), modulo 100. It is the tutorial's scheme and
// never changes: the same input gives the same bucket in every process and
// every release (golden values guard it in testdata/).
//
// Bucket does not allocate when the three strings together are at most 254
// bytes long; longer ones cost one allocation.
func Bucket(flagKey, environment, subject string) int {
	var buf [bucketBuf]byte
	b := append(buf[:0], flagKey...)
	b = append(b, ':')
	b = append(b, environment...)
	b = append(b, ':')
	b = append(b, subject...)
	sum := sha256.Sum256(b)
	return int(binary.BigEndian.Uint32(sum[:4]) % 100)
}

// BucketMD5 is the canary bucket of the "dynamic flags with Redis" pattern:
// md5 of "<subject>-<flagKey>", the whole 128-bit digest read as a
// big-endian unsigned integer, modulo 100 (what Python's
// int(hashlib.md5(…).hexdigest(), 16) % 100 computes).
func BucketMD5(flagKey, subject string) int {
	var buf [bucketBuf]byte
	b := append(buf[:0], subject...)
	b = append(b, '-')
	b = append(b, flagKey...)
	sum := md5.Sum(b)
	hi := binary.BigEndian.Uint64(sum[:8])
	lo := binary.BigEndian.Uint64(sum[8:])
	// (hi·2⁶⁴ + lo) mod 100, with 2⁶⁴ mod 100 = 16.
	return int((hi%100*16 + lo%100) % 100)
}

// BucketFlagd is flagd's fractional bucket: murmur3 (x86, 32-bit, seed 0)
// of "<flagKey><subject>" — or of value alone when the split buckets by an
// explicit attribute, as flagd hashes the value it is given — mapped onto
// 0–99 by multiply and shift (hash·100 >> 32).
func BucketFlagd(flagKey, value string, explicit bool) int {
	var buf [bucketBuf]byte
	b := buf[:0]
	if !explicit {
		b = append(b, flagKey...)
	}
	b = append(b, value...)
	return int(uint64(murmur3x86(b)) * 100 >> 32)
}

// Scheme is a bucketing scheme, chosen per flag (Flag.Bucketing).
type Scheme uint8

// The schemes; SchemeSHA256 is the zero value and the tutorial's.
const (
	SchemeSHA256 Scheme = iota
	SchemeMD5Canary
	SchemeMurmur3
	// SchemeLaunchDarkly is BucketLaunchDarkly; variant flags only.
	SchemeLaunchDarkly
)

// String returns the scheme's name as Flag.Bucketing spells it
// (BucketSHA256 for SchemeSHA256), so that ParseScheme(s.String()) is s.
func (s Scheme) String() string {
	switch s {
	case SchemeMD5Canary:
		return BucketMD5Canary
	case SchemeMurmur3:
		return BucketMurmur3
	case SchemeLaunchDarkly:
		return BucketLaunchDarkly
	}
	return BucketSHA256
}

// ParseScheme reads Flag.Bucketing; "" is SchemeSHA256.
func ParseScheme(name string) (Scheme, error) {
	switch name {
	case "", BucketSHA256:
		return SchemeSHA256, nil
	case BucketMD5Canary:
		return SchemeMD5Canary, nil
	case BucketMurmur3:
		return SchemeMurmur3, nil
	case BucketLaunchDarkly:
		return SchemeLaunchDarkly, nil
	}
	return 0, fmt.Errorf("unknown bucketing scheme %q (want %q, %q, %q or %q)", name, BucketSHA256, BucketMD5Canary, BucketMurmur3, BucketLaunchDarkly)
}

// BucketWith returns the bucket, 0–99, of value under scheme s. explicit is
// true when value is a split's bucket-by attribute rather than the subject
// (only flagd's scheme hashes the two differently).
func BucketWith(s Scheme, flagKey, environment, value string, explicit bool) int {
	switch s {
	case SchemeMD5Canary:
		return BucketMD5(flagKey, value)
	case SchemeMurmur3:
		return BucketFlagd(flagKey, value, explicit)
	case SchemeLaunchDarkly:
		// Splits under this scheme bucket with BucketLD itself; this is
		// its bucket scaled onto 0–99, with an empty salt.
		return min(int(BucketLD(flagKey, "", nil, value)*100), 99)
	}
	return Bucket(flagKey, environment, value)
}

// murmur3x86 is MurmurHash3's x86 32-bit variant with seed 0.
func murmur3x86(data []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(data) / 4
	for i := 0; i < n; i++ {
		k := binary.LittleEndian.Uint32(data[i*4:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	tail := data[n*4:]
	var k uint32
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
