package store

import (
	"context"
	"slices"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
)

// FlagKeys returns the key of every flag stored, sorted: the index's
// members (one SMEMBERS) and, with simple flags on, their names (a SCAN of
// the simple prefix). It is where a paced resync starts a cycle: a flag not
// listed is gone, as for [Store.LoadAll].
func (s *Store) FlagKeys(ctx context.Context) ([]string, error) {
	keys, err := s.Keys(ctx)
	if err != nil || s.simple == "" {
		return keys, err
	}
	names, err := s.scanSimple(ctx)
	if err != nil {
		return nil, err
	}
	keys = append(keys, names...)
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// TrackingPrefixes returns the key prefixes whose writes change a flag, for
// Redis client tracking in broadcasting mode (CLIENT TRACKING ON BCAST
// PREFIX …): every flag's keys ("P:flag:") and, with simple flags on, the
// simple prefix. Prefixes must not overlap; the index is left out (an index
// change alone is seen by the resync).
func (s *Store) TrackingPrefixes() []string {
	out := []string{s.keys.prefix + ":flag:"}
	if s.simple != "" {
		out = append(out, s.simple)
	}
	return out
}

// FlagKeyOf returns the flag key a Redis key of this store belongs to (the
// keys a tracking invalidation names), or false when it is no flag's.
func (s *Store) FlagKeyOf(redisKey string) (string, bool) {
	if s.simple != "" {
		if name, ok := strings.CutPrefix(redisKey, s.simple); ok && evaluator.ValidName(name) {
			return name, true
		}
	}
	return s.keys.flagKeyOf(redisKey)
}
