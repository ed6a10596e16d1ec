package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/redisflags/redisflags/evaluator"
)

// Keys returns the key of every flag in the index, sorted: one SMEMBERS,
// for listing many flags a page at a time without loading them (load a
// page with [Store.Load]). Simple flags are not listed.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	members, err := s.rdb.SMembers(ctx, s.keys.index()).Result()
	if err != nil {
		return nil, fmt.Errorf("read flag index %s: %w", s.keys.index(), err)
	}
	slices.Sort(members)
	return members, nil
}

// MaxScanCount bounds the count of one [Store.ScanAllowlist] call.
const MaxScanCount = 1000

// AllowlistPage is one page of an allowlist read with SSCAN.
type AllowlistPage struct {
	// Members are this page's members, sorted (SSCAN's own order is none).
	Members []string
	// Cursor continues the scan; 0 when the scan is complete.
	Cursor uint64
	// Size is the allowlist's size (SCARD).
	Size int64
}

// ScanAllowlist reads one page of a flag's allowlist in an environment
// with SSCAN (cursor 0 starts; match is a glob, "" for every member; count
// is a hint, at most MaxScanCount), and its size, so that an allowlist of
// millions is browsed and searched without being loaded whole.
func (s *Store) ScanAllowlist(ctx context.Context, flagKey, environment string, list evaluator.List, cursor uint64, match string, count int64) (AllowlistPage, error) {
	key := s.keys.users(flagKey, environment)
	if list == evaluator.ListRegions {
		key = s.keys.regions(flagKey, environment)
	}
	if match == "" {
		match = "*"
	}
	count = min(max(count, 1), MaxScanCount)
	p := s.rdb.Pipeline()
	scan := p.SScan(ctx, key, cursor, match, count)
	card := p.SCard(ctx, key)
	if _, err := p.Exec(ctx); err != nil {
		return AllowlistPage{}, fmt.Errorf("scan allowlist of flag %q in %q: %w", flagKey, environment, err)
	}
	members, next := scan.Val()
	slices.Sort(members)
	return AllowlistPage{Members: members, Cursor: next, Size: card.Val()}, nil
}
