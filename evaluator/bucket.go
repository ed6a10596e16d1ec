package evaluator

import (
	"crypto/sha256"
	"encoding/binary"
)

// Bucket returns the rollout bucket, 0–99, of a subject for a flag in an
// environment: sha256 of "<flagKey>:<environment>:<subject>", the first 8
// lower-case hex digits of the digest read as an unsigned 32-bit integer (the
// first four bytes, big-endian), modulo 100. It is the tutorial's scheme and
// never changes: the same input gives the same bucket in every process and
// every release (golden values guard it in testdata/).
//
// Bucket does not allocate when the three strings together are shorter than
// 190 bytes; longer ones cost one allocation.
func Bucket(flagKey, environment, subject string) int {
	var buf [192]byte
	b := append(buf[:0], flagKey...)
	b = append(b, ':')
	b = append(b, environment...)
	b = append(b, ':')
	b = append(b, subject...)
	sum := sha256.Sum256(b)
	return int(binary.BigEndian.Uint32(sum[:4]) % 100)
}
