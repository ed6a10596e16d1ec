//go:build race

package provider_test

// raceEnabled: the race detector multiplies CPU time several-fold, so the
// tests that measure it (TestIdleCost) run without it (.ci/run).
const raceEnabled = true
