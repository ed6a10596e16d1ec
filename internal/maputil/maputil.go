// Package maputil holds the map helpers the evaluator and the store share.
package maputil

import "slices"

// SortedKeys returns m's keys sorted, in one allocation of the right size
// (slices.Sorted(maps.Keys(m)) grows its slice from empty, and a load sorts
// the keys of every flag).
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
