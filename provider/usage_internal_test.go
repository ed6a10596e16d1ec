package provider

import (
	"strings"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
)

// BenchmarkFlagUsageAdd is the counting step alone, for a flag serving
// three combinations (the environment name built at run time, as one from
// a context would be).
func BenchmarkFlagUsageAdd(b *testing.B) {
	u := &flagUsage{flag: "f"}
	env := strings.Repeat("production", 1)
	u.add(env, VariantOn, of.TargetingMatchReason, 1)
	u.add(env, VariantOn, of.SplitReason, 1)
	u.add(env, VariantOff, of.SplitReason, 1)
	b.ReportAllocs()
	for b.Loop() {
		u.add("production", VariantOff, of.SplitReason, 1)
	}
}
