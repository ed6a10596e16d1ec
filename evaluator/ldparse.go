package evaluator

import "time"

// LaunchDarkly reads dates and semantic versions its own way, a little
// differently from the standard library and from parseSemver; conditions
// with a ContextKind (and the date operators everywhere) read them as it
// does, so that an imported flag matches exactly the contexts it matched.

// parseDateLD reads a date as LaunchDarkly does: a number is milliseconds
// since the epoch (the fraction dropped); a string is an RFC 3339 date-time
// read by [parseRFC3339LD]. Anything else is not a date.
func parseDateLD(v any) (time.Time, bool) {
	if s, ok := v.(string); ok {
		return parseRFC3339LD(s)
	}
	if f, ok := toNumber(v); ok {
		return time.Unix(0, int64(f)*int64(time.Millisecond)).UTC(), true
	}
	return time.Time{}, false
}

// parseRFC3339LD reads "YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)" with
// LaunchDarkly's tolerances: 't' and 'z' in either case, an hour of one or
// two digits, up to nine fraction digits, an offset hour up to 99, a second
// of 60, days and seconds past the end of their month or minute carried over
// (time.Date's normalisation), and anything after the 'Z' ignored. ASCII
// only. It does not allocate.
func parseRFC3339LD(s string) (time.Time, bool) {
	p := ldScanner{s: s}
	year, _, ok := p.field(func(c byte) bool { return c == '-' }, false, 4, 4, 0, 9999)
	if !ok {
		return time.Time{}, false
	}
	month, _, ok := p.field(func(c byte) bool { return c == '-' }, false, 2, 2, 1, 12)
	if !ok {
		return time.Time{}, false
	}
	day, _, ok := p.field(func(c byte) bool { return c == 'T' || c == 't' }, false, 2, 2, 1, 31)
	if !ok {
		return time.Time{}, false
	}
	hour, _, ok := p.field(isColon, false, 1, 2, 0, 23)
	if !ok {
		return time.Time{}, false
	}
	minute, _, ok := p.field(isColon, false, 2, 2, 0, 59)
	if !ok {
		return time.Time{}, false
	}
	second, term, ok := p.field(func(c byte) bool { return c == '.' || c == 'Z' || c == 'z' || c == '+' || c == '-' }, false, 2, 2, 0, 60)
	if !ok {
		return time.Time{}, false
	}
	nanos := 0
	if term == '.' {
		var frac string
		frac, term = p.until(func(c byte) bool { return c == 'Z' || c == 'z' || c == '+' || c == '-' })
		if term < 0 || len(frac) > 9 {
			return time.Time{}, false
		}
		n, ok := digits(frac)
		if !ok {
			return time.Time{}, false
		}
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		nanos = n
	}
	offset := 0
	if term == '+' || term == '-' {
		oh, _, ok := p.field(isColon, false, 2, 2, 0, 99)
		if !ok {
			return time.Time{}, false
		}
		om, _, ok := p.field(func(byte) bool { return false }, true, 2, 2, 0, 59)
		if !ok {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if term == '+' {
			offset = -offset
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC)
	if offset != 0 {
		t = t.Add(time.Duration(offset) * time.Second)
	}
	return t, true
}

func isColon(c byte) bool { return c == ':' }

// ldScanner walks an ASCII string; a NUL or non-ASCII byte ends a read as
// if it were the end, with terminator -2 (LaunchDarkly's scanners do the
// same).
type ldScanner struct {
	s   string
	pos int
}

// until reads up to the next byte for which stop holds, consuming that
// byte, and returns what it read and the terminator: the byte, -1 at the
// end, -2 at a non-ASCII or NUL byte (not consumed).
func (p *ldScanner) until(stop func(byte) bool) (string, int) {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == 0 || c > 127 {
			return p.s[start:p.pos], -2
		}
		p.pos++
		if stop(c) {
			return p.s[start : p.pos-1], int(c)
		}
	}
	return p.s[start:p.pos], -1
}

// field reads a decimal field of minLen–maxLen digits within [lo, hi].
func (p *ldScanner) field(stop func(byte) bool, endOK bool, minLen, maxLen, lo, hi int) (int, int, bool) {
	s, term := p.until(stop)
	if s == "" || (!endOK && term < 0) || len(s) < minLen || len(s) > maxLen {
		return 0, term, false
	}
	n, ok := digits(s)
	if !ok || n < lo || n > hi {
		return 0, term, false
	}
	return n, term, true
}

// digits reads a non-empty string of ASCII digits (leading zeros allowed).
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// parseSemverLD reads a semantic version as LaunchDarkly does: like
// parseSemver, but without a leading "v", with build metadata checked
// (dot-separated non-empty identifiers of letters, digits and '-'), and with
// the pre-release running up to the first '+'. Components longer than 18
// digits are not read (LaunchDarkly overflows them; such a version never
// matches here).
func parseSemverLD(s string) (semver, bool) {
	p := ldScanner{s: s}
	var v semver
	var term int
	var ok bool
	dotDashPlus := func(c byte) bool { return c == '.' || c == '-' || c == '+' }
	dashPlus := func(c byte) bool { return c == '-' || c == '+' }
	if v.major, term, ok = p.number(dotDashPlus); !ok {
		return semver{}, false
	}
	if term == '.' {
		if v.minor, term, ok = p.number(dotDashPlus); !ok {
			return semver{}, false
		}
		if term == '.' {
			if v.patch, term, ok = p.number(dashPlus); !ok {
				return semver{}, false
			}
		}
	}
	if term == '-' {
		v.pre, term = p.until(func(c byte) bool { return c == '+' })
		if v.pre == "" || term == -2 || !validPrereleaseLD(v.pre) {
			return semver{}, false
		}
	}
	if term == '+' {
		build, t := p.until(func(byte) bool { return false })
		if build == "" || t == -2 || !validIdentifiers(build, false) {
			return semver{}, false
		}
	}
	return v, true
}

// number reads a version component: digits, no leading zero.
func (p *ldScanner) number(stop func(byte) bool) (uint64, int, bool) {
	s, term := p.until(stop)
	if term == -2 {
		return 0, term, false
	}
	n, ok := parseUint(s)
	return n, term, ok
}

func validPrereleaseLD(s string) bool { return validIdentifiers(s, true) }

// validIdentifiers checks dot-separated identifiers of letters, digits and
// '-'; with numeric set, an all-digit identifier may not have a leading zero.
func validIdentifiers(s string, numeric bool) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if numeric && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return false
		}
		start = i + 1
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isWholeLD reports whether f is an integer as LaunchDarkly decides it
// (f == float64(int(f))), so that it buckets by its decimal form.
func isWholeLD(f float64) bool { return f == float64(int(f)) }

// ParseDateLD reads v as LaunchDarkly reads a date: an RFC 3339 date-time
// string (with its tolerances, see parseRFC3339LD) or a number of epoch
// milliseconds, the fraction dropped. ok is false for anything else, which
// the before and after operators never match.
func ParseDateLD(v any) (t time.Time, ok bool) { return parseDateLD(v) }

// ValidSemverLD reports whether s is a semantic version as LaunchDarkly
// reads one ("1.2.3", "1.2", "1", with pre-release and build); its semVer
// operators never match other values.
func ValidSemverLD(s string) bool {
	_, ok := parseSemverLD(s)
	return ok
}

// CompareSemverLD compares two versions read as LaunchDarkly reads them,
// by semantic-version precedence (-1, 0, 1); ok is false when either is not
// a version.
func CompareSemverLD(a, b string) (cmp int, ok bool) {
	va, oka := parseSemverLD(a)
	vb, okb := parseSemverLD(b)
	if !oka || !okb {
		return 0, false
	}
	return va.compare(vb), true
}
