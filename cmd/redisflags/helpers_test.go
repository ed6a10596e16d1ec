package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of every test that writes: updatedAt and audit
// times come out the same on every run.
var fixedNow = time.Date(2026, 3, 19, 12, 0, 0, 0, time.UTC)

// useFixedClock sets the command's clock for the test.
func useFixedClock(t testing.TB) {
	t.Helper()
	old := now
	now = func() time.Time { return fixedNow }
	t.Cleanup(func() { now = old })
}

// tutorialBody is the tutorial's PUT body for its example flag.
const tutorialBody = `{
  "description": "Show the fast-checkout banner",
  "defaultEnabled": true,
  "environments": {
    "production": {
      "enabled": true,
      "rolloutPercent": 25,
      "value": {"title": "Fast checkout"},
      "allowlistUsers": ["user-123"],
      "allowlistRegions": ["us-west"]
    },
    "staging": {"enabled": false, "rolloutPercent": 100, "allowlistUsers": [], "allowlistRegions": []}
  }
}`

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./cmd/redisflags -update")
	require.Equal(t, string(want), got, "output differs from %s (go test ./cmd/redisflags -update rewrites it)", path)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs the command and returns its stdout, stderr and error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func mustRunCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, args...)
	require.NoError(t, err, "redisflags %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}
