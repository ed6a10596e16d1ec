package store

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// Simple flags are the "dynamic flags with Redis" pattern: one string key
// per flag, "<prefix><name>", holding "true" or "false" — so that
//
//	redis-cli SET feature:new_checkout_flow false
//
// is a kill switch — or a whole number 0–100, a canary percentage bucketed
// with that pattern's hash (md5 of "<subject>-<name>" mod 100, see
// evaluator.BucketMD5). With WithSimpleFlags a Store reads them beside the
// tutorial's layout, as boolean variant flags with the variants "on" (true)
// and "off" (false): "true"/"false" serve that variant (reason STATIC), a
// percentage is a split between them (SPLIT). A flag of the tutorial's
// layout with the same name wins. Simple flags are read-only here: write
// them with SET, as the pattern does.

// WithSimpleFlags makes the store read simple flags under prefix, such as
// "feature:". Default: off. Names after the prefix must be valid flag keys
// (letters, digits, '.', '_', '-'); other keys under the prefix are ignored.
func WithSimpleFlags(prefix string) Option {
	return func(c *config) { c.simple = prefix }
}

// SimplePrefix returns the simple-flag prefix, "" when simple flags are off.
func (s *Store) SimplePrefix() string { return s.simple }

// simpleFlag converts a simple flag's stored value into a definition.
func simpleFlag(name, value string) (evaluator.Flag, error) {
	f := evaluator.Flag{
		Key:            name,
		Description:    "simple flag " + name,
		DefaultEnabled: true,
		Variants:       map[string]json.RawMessage{"on": json.RawMessage("true"), "off": json.RawMessage("false")},
	}
	switch v := strings.TrimSpace(value); v {
	case "true":
		f.DefaultVariant = "on"
	case "false":
		f.DefaultVariant = "off"
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return evaluator.Flag{}, decodeError(name, "value", value, `a simple flag must be "true", "false" or a canary percentage 0–100`)
		}
		f.DefaultVariant = "off"
		f.Bucketing = evaluator.BucketMD5Canary
		f.Split = &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "on", Weight: n}, {Variant: "off", Weight: 100 - n}}}
	}
	return f, nil
}

func simpleFingerprint(value string) uint64 {
	h := fnv.New64a()
	h.Write([]byte("simple\x00"))
	h.Write([]byte(value))
	return h.Sum64()
}

// simpleRecord is the Record of a simple flag read as value (nil: absent).
func simpleRecord(name string, value any) Record {
	v, ok := value.(string)
	if !ok {
		return Record{Key: name, Err: fmt.Errorf("flag %q: %w", name, ErrNotFound)}
	}
	f, err := simpleFlag(name, v)
	return Record{Key: name, Flag: f, Err: err, Fingerprint: simpleFingerprint(v)}
}

// loadSimple reads the named simple flags with one MGET.
func (s *Store) loadSimple(ctx context.Context, names []string) ([]Record, error) {
	if len(names) == 0 {
		return nil, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = s.simple + n
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("load simple flags: %w", err)
	}
	out := make([]Record, len(names))
	for i, n := range names {
		out[i] = simpleRecord(n, vals[i])
	}
	return out, nil
}

// scanSimple lists the names of every simple flag (SCAN, so a large key
// space is walked in steps rather than blocking the server).
func (s *Store) scanSimple(ctx context.Context) ([]string, error) {
	var names []string
	iter := s.rdb.Scan(ctx, 0, escapeGlob(s.simple)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if name := strings.TrimPrefix(iter.Val(), s.simple); evaluator.ValidName(name) {
			names = append(names, name)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scan simple flags %s*: %w", s.simple, err)
	}
	return names, nil
}

// escapeGlob escapes the characters SCAN MATCH treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// simpleGet queues the read of one simple flag into a direct read.
func (s *Store) simpleGet(ctx context.Context, p redis.Pipeliner, name string) *redis.StringCmd {
	if s.simple == "" {
		return nil
	}
	return p.Get(ctx, s.simple+name)
}
