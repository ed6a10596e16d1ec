package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis layout of evaluation counts (docs/design.md §13), beside the
// tutorial's keys under the same prefix, so that a hash-tagged prefix keeps
// them in the flags' Cluster slot:
//
//	P:usage:day:YYYY-MM-DD  hash  "flag|environment|variant|reason" → count (UTC day, with a TTL)
//	P:usage:last            hash  flag → last time it was evaluated (RFC 3339, ms, UTC)
//
// Flag keys and environment names never contain '|'; a variant name may,
// so a field is split at its first two '|' and its last.
func (k keys) usageDay(day string) string { return k.prefix + ":usage:day:" + day }
func (k keys) usageLast() string          { return k.prefix + ":usage:last" }

const usageDayLayout = "2006-01-02"

// UsageCount is how many evaluations of one flag, in one environment, served
// one variant with one reason (an OpenFeature reason such as "SPLIT", or
// "ERROR"). Variant is empty when none was served.
type UsageCount struct {
	Flag, Environment, Variant, Reason string
	Count                              int64
}

func (c UsageCount) field() string {
	return c.Flag + "|" + c.Environment + "|" + c.Variant + "|" + c.Reason
}

func parseUsageField(f string) (UsageCount, bool) {
	flag, rest, ok1 := strings.Cut(f, "|")
	env, rest, ok2 := strings.Cut(rest, "|")
	i := strings.LastIndexByte(rest, '|')
	if !ok1 || !ok2 || i < 0 || flag == "" {
		return UsageCount{}, false
	}
	return UsageCount{Flag: flag, Environment: env, Variant: rest[:i], Reason: rest[i+1:]}, true
}

// AddUsage adds counts to the UTC day of at and stamps every counted flag as
// evaluated at at, in one MULTI/EXEC: either all of it lands or none (so a
// caller may keep the counts and retry after an error). The day's key
// expires ttl after its last write. Counts of zero are skipped.
func (s *Store) AddUsage(ctx context.Context, at time.Time, counts []UsageCount, ttl time.Duration) error {
	day := s.keys.usageDay(at.UTC().Format(usageDayLayout))
	stamp := at.UTC().Format("2006-01-02T15:04:05.000Z")
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		seen := make(map[string]bool)
		for _, c := range counts {
			if c.Count == 0 {
				continue
			}
			p.HIncrBy(ctx, day, c.field(), c.Count)
			if !seen[c.Flag] {
				seen[c.Flag] = true
				p.HSet(ctx, s.keys.usageLast(), c.Flag, stamp)
			}
		}
		if len(seen) > 0 {
			p.Expire(ctx, day, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add usage counts: %w", err)
	}
	return nil
}

// FlagUsage is what providers counted for one flag.
type FlagUsage struct {
	Flag string
	// LastEvaluated is when a provider last flushed an evaluation of the
	// flag (within its flush interval of the evaluation itself); zero when
	// none was ever counted.
	LastEvaluated time.Time
	// Total is the evaluations counted over the days read.
	Total int64
	// Counts are the combinations counted over the days read, summed
	// across days, sorted by environment, variant and reason.
	Counts []UsageCount
}

// Usage reads the counts of the last days UTC days up to now (today
// included; at most 400) and every flag's last-evaluated time, sorted by
// flag key. Flags never counted are absent: the caller joins them with its
// flag list.
func (s *Store) Usage(ctx context.Context, now time.Time, days int) ([]FlagUsage, error) {
	days = min(max(days, 1), 400)
	pipe := s.rdb.Pipeline()
	last := pipe.HGetAll(ctx, s.keys.usageLast())
	perDay := make([]*redis.MapStringStringCmd, days)
	for i := range days {
		day := now.UTC().AddDate(0, 0, -i).Format(usageDayLayout)
		perDay[i] = pipe.HGetAll(ctx, s.keys.usageDay(day))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: read usage counts: %w", err)
	}
	byFlag := make(map[string]*FlagUsage)
	get := func(flag string) *FlagUsage {
		u := byFlag[flag]
		if u == nil {
			u = &FlagUsage{Flag: flag}
			byFlag[flag] = u
		}
		return u
	}
	for flag, stamp := range last.Val() {
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			get(flag).LastEvaluated = t
		}
	}
	sums := make(map[UsageCount]int64)
	for _, cmd := range perDay {
		for f, v := range cmd.Val() {
			c, ok := parseUsageField(f)
			n, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				continue // not ours; counts are advisory, never fatal
			}
			sums[c] += n
		}
	}
	for c, n := range sums {
		u := get(c.Flag)
		c.Count = n
		u.Total += n
		u.Counts = append(u.Counts, c)
	}
	out := make([]FlagUsage, 0, len(byFlag))
	for _, u := range byFlag {
		slices.SortFunc(u.Counts, func(a, b UsageCount) int {
			return strings.Compare(a.Environment+"|"+a.Variant+"|"+a.Reason, b.Environment+"|"+b.Variant+"|"+b.Reason)
		})
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b FlagUsage) int { return strings.Compare(a.Flag, b.Flag) })
	return out, nil
}
