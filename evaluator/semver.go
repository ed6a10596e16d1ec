package evaluator

import "strings"

// semver is a parsed semantic version (semver.org 2.0). pre is the
// pre-release part without its '-', a substring of the parsed text, so that
// parsing allocates nothing; build metadata is dropped, as the standard says
// it does not take part in precedence.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver reads "1.2.3", "1.2.3-rc.1+build", with an optional leading
// "v"; a missing minor or patch is 0 ("1" is 1.0.0, "1.2" is 1.2.0), as
// LaunchDarkly and flagd accept them.
func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if i == len(s)-1 {
			return semver{}, false
		}
		s = s[:i]
	}
	var v semver
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = s[i+1:]
		s = s[:i]
		if !validPrerelease(v.pre) {
			return semver{}, false
		}
	}
	parts := [3]*uint64{&v.major, &v.minor, &v.patch}
	for i := 0; i < 3; i++ {
		var part string
		if j := strings.IndexByte(s, '.'); j >= 0 {
			part, s = s[:j], s[j+1:]
			if i == 2 {
				return semver{}, false // a fourth component
			}
		} else {
			part, s = s, ""
			n, ok := parseUint(part)
			if !ok {
				return semver{}, false
			}
			*parts[i] = n
			return v, true
		}
		n, ok := parseUint(part)
		if !ok {
			return semver{}, false
		}
		*parts[i] = n
	}
	return v, true
}

// parseUint reads a decimal number without sign or leading zeros.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func validPrerelease(s string) bool {
	if s == "" {
		return false
	}
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// compare returns -1, 0 or 1 by semantic-version precedence.
func (a semver) compare(b semver) int {
	for _, p := range [3][2]uint64{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		switch {
		case p[0] < p[1]:
			return -1
		case p[0] > p[1]:
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1 // a release ranks above its pre-releases
	case b.pre == "":
		return -1
	}
	x, y := a.pre, b.pre
	for {
		var ix, iy string
		ix, x, _ = strings.Cut(x, ".")
		iy, y, _ = strings.Cut(y, ".")
		if c := comparePreID(ix, iy); c != 0 {
			return c
		}
		switch {
		case x == "" && y == "":
			return 0
		case x == "":
			return -1 // fewer identifiers rank lower
		case y == "":
			return 1
		}
	}
}

func comparePreID(a, b string) int {
	na, aNum := parseUint(a)
	nb, bNum := parseUint(b)
	switch {
	case aNum && bNum:
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	case aNum:
		return -1 // numeric identifiers rank below alphanumeric ones
	case bNum:
		return 1
	}
	return strings.Compare(a, b)
}
