package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_buckets.json from the reference computation")

const goldenPath = "testdata/golden_buckets.json"

// goldenVector is one fixed input and its bucket.
type goldenVector struct {
	FlagKey     string `json:"flagKey"`
	Environment string `json:"environment"`
	Subject     string `json:"subject"`
	// SHA256Prefix is the first 8 lower-case hex digits of the digest, so
	// that a port to another language can check its hashing separately from
	// its arithmetic.
	SHA256Prefix string `json:"sha256Prefix"`
	Bucket       int    `json:"bucket"`
}

type goldenFile struct {
	Scheme  string         `json:"scheme"`
	Vectors []goldenVector `json:"vectors"`
}

const goldenScheme = `sha256("<flagKey>:<environment>:<subject>") as lower-case hex; ` +
	`first 8 hex digits read as an unsigned 32-bit integer; modulo 100 (docs/design.md §3). ` +
	`Regenerate with: go test ./bench -run TestBucketMatchesGoldenVectors -update`

// referenceVector computes a vector the way docs/design.md §3 words the scheme, with
// the standard library's sha256 and hex and strconv, not with any of
// evaluator.Bucket's code.
func referenceVector(flagKey, environment, subject string) goldenVector {
	sum := sha256.Sum256([]byte(flagKey + ":" + environment + ":" + subject))
	digest := hex.EncodeToString(sum[:])
	n, err := strconv.ParseUint(digest[:8], 16, 32)
	if err != nil {
		panic(err) // 8 hex digits always parse into 32 bits
	}
	return goldenVector{flagKey, environment, subject, digest[:8], int(n % 100)}
}

// goldenInputs is the fixed list of inputs the golden file covers: a grid of
// flags × environments × ordinary and non-ASCII subjects, sequential ids,
// subjects around the 192-byte buffer evaluator.Bucket hashes without
// allocating, long subjects, and the empty subject.
func goldenInputs() []goldenVector {
	var in []goldenVector
	add := func(f, e, s string) { in = append(in, goldenVector{FlagKey: f, Environment: e, Subject: s}) }
	subjects := []string{
		"user-123", "user-0", "42", "alice@example.com", "3f2b8c1e-9d4a-4c6b-8e2f-0a1b2c3d4e5f",
		"user with spaces", "a:b:c",
		"ユーザー-42",    // Japanese, 3-byte UTF-8
		"Zo\u00eb",   // "Zoë" precomposed (NFC)
		"Zoe\u0308",  // "Zoë" with a combining diaeresis (NFD): other bytes, other bucket
		"👩\u200d💻",   // emoji ZWJ sequence, 4-byte UTF-8
		"مستخدم-٧",   // Arabic, right to left
		"用户\u00a0中文", // CJK with a no-break space
	}
	for _, f := range []string{"checkout-banner", "new-search", "dark-mode", "pricing.v2_experiment"} {
		for _, e := range []string{"production", "staging", "development"} {
			for _, s := range subjects {
				add(f, e, s)
			}
		}
	}
	for i := range 50 {
		add("checkout-banner", "production", "user-"+strconv.Itoa(i))
	}
	// "checkout-banner:production:" is 27 bytes: inputs of 189–194 bytes.
	digits := strings.Repeat("0123456789", 20)
	for total := 189; total <= 194; total++ {
		add("checkout-banner", "production", digits[:total-27])
	}
	long := []string{
		strings.Repeat("x", 201),
		strings.Repeat("x", 250),
		strings.Repeat("abcdefghijklmnop", 16), // 256 bytes
		strings.Repeat("0123456789", 100),      // 1,000 bytes
		strings.Repeat("q", 4096),
		strings.Repeat("ü", 150),                             // 300 bytes
		strings.Repeat("ユーザー", 20),                           // 240 bytes
		strings.Repeat("👩\u200d💻", 30),                       // 330 bytes
		strings.Repeat("long.name+tag", 20) + "@example.com", // 272 bytes
	}
	for _, s := range long {
		add("checkout-banner", "production", s)
		add("new-search", "staging", s)
	}
	add("checkout-banner", "production", "") // Bucket is defined for it, though evaluation never asks
	return in
}

func writeGolden(t *testing.T) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString("{\n\"scheme\": ")
	require.NoError(t, enc.Encode(goldenScheme))
	buf.Truncate(buf.Len() - 1) // Encode's newline
	buf.WriteString(",\n\"vectors\": [\n")
	inputs := goldenInputs()
	for i, in := range inputs {
		require.NoError(t, enc.Encode(referenceVector(in.FlagKey, in.Environment, in.Subject)))
		buf.Truncate(buf.Len() - 1)
		if i < len(inputs)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n}\n")
	require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
	require.NoError(t, os.WriteFile(goldenPath, buf.Bytes(), 0o644))
}

func TestBucketMatchesGoldenVectors(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	data, err := os.ReadFile(goldenPath)
	require.NoError(t, err, "run: go test ./bench -run TestBucketMatchesGoldenVectors -update")
	var g goldenFile
	require.NoError(t, json.Unmarshal(data, &g))

	// The file covers what it claims to, and the inputs it was written for.
	require.GreaterOrEqual(t, len(g.Vectors), 200)
	var long, unicode int
	var inputs []goldenVector
	for _, v := range g.Vectors {
		if len(v.Subject) > 200 {
			long++
		}
		if !isASCII(v.Subject) {
			unicode++
		}
		require.True(t, utf8.ValidString(v.Subject), "subject %q", v.Subject)
		inputs = append(inputs, goldenVector{FlagKey: v.FlagKey, Environment: v.Environment, Subject: v.Subject})
	}
	assert.GreaterOrEqual(t, long, 10, "long subjects")
	assert.GreaterOrEqual(t, unicode, 50, "non-ASCII subjects")
	require.Equal(t, goldenInputs(), inputs, "golden inputs changed: rerun with -update")

	for _, v := range g.Vectors {
		// The file agrees with the scheme as docs/design.md §3 words it…
		ref := referenceVector(v.FlagKey, v.Environment, v.Subject)
		require.Equal(t, ref, v, "the golden file disagrees with the reference scheme")
		// …and evaluator.Bucket agrees with the file.
		assert.Equal(t, v.Bucket, evaluator.Bucket(v.FlagKey, v.Environment, v.Subject),
			"Bucket(%q, %q, %q)", v.FlagKey, v.Environment, v.Subject)
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// TestBucketMatchesShellComputedVectors pins a few buckets computed outside
// Go, by hand, as
//
//	d=$(printf '%s' 'checkout-banner:production:user-123' | sha256sum | cut -c1-64)
//	echo "$d $((16#${d:0:8} % 100))"
//
// so that neither the reference computation above nor the golden file can
// drift with it unnoticed.
func TestBucketMatchesShellComputedVectors(t *testing.T) {
	for _, tt := range []struct {
		flagKey, env, subject string
		digest                string // sha256sum of "<flagKey>:<env>:<subject>"
		bucket                int
	}{
		{"checkout-banner", "production", "user-123", "0918a4a6a98e90bad62681d0d2ce5ed1976fbccf75028f34f7043cc6f86a148c", 58},
		{"checkout-banner", "staging", "user-123", "e37b0d287d96c868b7e70dfb957bb9c538fbaea1b170aa01bd55d113854bab29", 28},
		{"new-search", "production", "user-42", "6a4191e1a7a0505880a2431f02e6b18fe5fdf1da5f758d5c82689af67164ae3c", 81},
		{"checkout-banner", "production", "ユーザー-42", "0ce0205346079a64c4b42b1b97e245404892ffa11701717aff84f9dc0e11b26f", 31},
		{"dark-mode", "development", "Zo\u00eb", "4ac38028a4d37577fc80f0a83c1020bc5fb9f81dcd7e3d241f30be19acdf743b", 12},
		// printf 'x%.0s' $(seq 1 250): 277 bytes in all, past Bucket's stack buffer.
		{"checkout-banner", "production", strings.Repeat("x", 250), "4b3476db877cac230105ab6d602fe2fb296d4587ea5572cf28012620c4773936", 99},
		{"checkout-banner", "production", "", "c860f3eee3dfcc8ad259dbb4b79faa338dd2b31fec457d41b309fbfbf1928315", 2},
	} {
		name := tt.flagKey + ":" + tt.env + ":" + tt.subject
		if len(tt.subject) > 40 {
			name = tt.flagKey + ":" + tt.env + ":" + strconv.Itoa(len(tt.subject)) + "-byte-subject"
		}
		t.Run(name, func(t *testing.T) {
			sum := sha256.Sum256([]byte(tt.flagKey + ":" + tt.env + ":" + tt.subject))
			require.Equal(t, tt.digest, hex.EncodeToString(sum[:]))
			assert.Equal(t, tt.bucket, evaluator.Bucket(tt.flagKey, tt.env, tt.subject))
			assert.Equal(t, tt.bucket, referenceVector(tt.flagKey, tt.env, tt.subject).Bucket)
		})
	}
}
