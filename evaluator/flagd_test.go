package evaluator

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseSemverFlagd reads versions as flagd's evaluation test material
// (flagd-testbed 3.9.0, evaluator/gherkin/semver.feature) and flagd's Go
// evaluator read them.
func TestParseSemverFlagd(t *testing.T) {
	tests := []struct {
		in   string
		want semver
		ok   bool
	}{
		{"1.2.3", semver{1, 2, 3, ""}, true},
		{"v1.2.3", semver{1, 2, 3, ""}, true},
		{"V1.2.3", semver{1, 2, 3, ""}, true},
		{"1", semver{1, 0, 0, ""}, true},
		{"1.2", semver{1, 2, 0, ""}, true},
		{"V3", semver{3, 0, 0, ""}, true},
		{"1.0.0-rc.1", semver{1, 0, 0, "rc.1"}, true},
		{"1.0.0-rc-1.x-y", semver{1, 0, 0, "rc-1.x-y"}, true},
		{"1.0.0+build", semver{1, 0, 0, ""}, true},
		{"1.0.0-0+build.01", semver{1, 0, 0, "0"}, true},
		{"1-rc.1", semver{}, false},
		{"1.2+build", semver{}, false},
		{"1.0.0+build+build", semver{}, false},
		{"1.0.0-01", semver{}, false},
		{"1.0.0-", semver{}, false},
		{"1.0.0+", semver{}, false},
		{"1.0.0-a..b", semver{}, false},
		{"01.0.0", semver{}, false},
		{"01", semver{}, false},
		{"1.01", semver{}, false},
		{"2.0.0.0", semver{}, false},
		{"vv1.0.0", semver{}, false},
		{"", semver{}, false},
		{"v", semver{}, false},
		{"not-a-version", semver{}, false},
		{"1.0.0 ", semver{}, false},
		{"-1", semver{}, false},
	}
	for _, tt := range tests {
		got, ok := parseSemverFlagd(tt.in)
		assert.Equal(t, tt.ok, ok, "%q", tt.in)
		if ok {
			assert.Equal(t, tt.want, got, "%q", tt.in)
		}
	}
	for n, want := range map[float64]string{1: "1", 1.2: "1.2", 2: "2", 1.5: "1.5", 1e21: "1000000000000000000000", -1: "-1"} {
		assert.Equal(t, want, formatNumberFlagd(n))
	}
}

// FuzzParseSemverFlagd: any text parses or not without panicking, and a
// version that parses compares equal to itself and to its canonical form.
func FuzzParseSemverFlagd(f *testing.F) {
	for _, s := range []string{"1.2.3", "V1.2", "1", "1.0.0-rc.1+b.2", "1-rc.1", "1.0.0+a+b", "1.0.0-01", "v", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseSemverFlagd(s)
		if !ok {
			return
		}
		if v.compare(v) != 0 {
			t.Fatalf("%q does not equal itself", s)
		}
		canon := strconv.FormatUint(v.major, 10) + "." + strconv.FormatUint(v.minor, 10) + "." + strconv.FormatUint(v.patch, 10)
		if v.pre != "" {
			canon += "-" + v.pre
		}
		w, ok := parseSemverFlagd(canon)
		if !ok || w.compare(v) != 0 {
			t.Fatalf("%q parses, its canonical form %q does not read back the same", s, canon)
		}
	})
}
