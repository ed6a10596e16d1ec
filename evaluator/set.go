package evaluator

// smallSetMax is the size up to which a set is a slice scanned in order:
// comparing a handful of strings is cheaper than hashing the probe, and most
// allowlists and environment lists are this short.
const smallSetMax = 8

// stringSet is an immutable set of strings tuned for membership tests.
type stringSet struct {
	small []string
	large map[string]struct{}
}

func newStringSet(items []string) stringSet {
	if len(items) <= smallSetMax {
		var s []string
		for _, it := range items {
			if !contains(s, it) {
				s = append(s, it)
			}
		}
		return stringSet{small: s}
	}
	m := make(map[string]struct{}, len(items))
	for _, it := range items {
		m[it] = struct{}{}
	}
	return stringSet{large: m}
}

// ownedStringSet is newStringSet for items nothing will modify (a compiled
// flag's own copy): a short list without repeats is used as it is, not
// copied.
func ownedStringSet(items []string) stringSet {
	if len(items) == 0 {
		return stringSet{}
	}
	if len(items) > smallSetMax {
		return newStringSet(items)
	}
	for i, it := range items {
		if contains(items[:i], it) {
			return newStringSet(items)
		}
	}
	return stringSet{small: items[:len(items):len(items)]}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// has reports membership. It does not allocate.
func (s *stringSet) has(x string) bool {
	if s.large != nil {
		_, ok := s.large[x]
		return ok
	}
	return contains(s.small, x)
}
