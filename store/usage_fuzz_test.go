package store

import (
	"strings"
	"testing"
)

// FuzzParseUsageField: any field parses without panicking, and a count's
// field parses back to the same count (a variant may hold '|').
func FuzzParseUsageField(f *testing.F) {
	f.Add("banner|production|on|SPLIT")
	f.Add("banner|production|a|b|ERROR")
	f.Add("||||")
	f.Add("x")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseUsageField(s)
		if ok && c.Flag == "" {
			t.Fatalf("%q: parsed with an empty flag", s)
		}
		parts := strings.SplitN(s, "|", 3)
		if len(parts) < 3 || strings.Contains(parts[0], "|") {
			return
		}
		i := strings.LastIndexByte(parts[2], '|')
		if i < 0 || parts[0] == "" {
			return
		}
		in := UsageCount{Flag: parts[0], Environment: parts[1], Variant: parts[2][:i], Reason: parts[2][i+1:]}
		got, ok := parseUsageField(in.field())
		if !ok || got != in {
			t.Fatalf("%+v → %q → %+v, %v", in, in.field(), got, ok)
		}
	})
}
