package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// MaxAllowlistEdit bounds the members one [Store.EditAllowlist] adds and
// removes together.
const MaxAllowlistEdit = 10000

// EditAllowlist adds and removes members of one allowlist of a flag's
// environment (SADD, SREM) without reading it whole, in one transaction
// that also bumps the flag's version, sets updatedAt on the flag and the
// environment, publishes a [Change] and appends the audit entry (the
// allowlist listed member by member up to [AuditMaxMembers], as
// {"count": N} above). It returns the new version. A member in both add and
// remove is an error, as is an empty member, more than MaxAllowlistEdit of
// them, an environment the flag does not have, or a variant flag (which
// targets with rules). Options as for [Store.Upsert]: [IfVersion],
// [Actor].
func (s *Store) EditAllowlist(ctx context.Context, flagKey, environment string, list evaluator.List, add, remove []string, opts ...WriteOption) (int64, error) {
	w := newWriteConfig(opts)
	field := "allowlistUsers"
	setKey := s.keys.users(flagKey, environment)
	if list == evaluator.ListRegions {
		field, setKey = "allowlistRegions", s.keys.regions(flagKey, environment)
	}
	path := "environments." + environment + "." + field
	bad := func(format string, args ...any) error {
		return &evaluator.ValidationError{Flag: flagKey, Problems: []evaluator.FieldError{{Field: path, Message: fmt.Sprintf(format, args...)}}}
	}
	if !evaluator.ValidName(flagKey) {
		return 0, fmt.Errorf("edit allowlist of flag %q: %w", flagKey, ErrNotFound)
	}
	if len(add)+len(remove) > MaxAllowlistEdit {
		return 0, bad("at most %d members added and removed at once, got %d", MaxAllowlistEdit, len(add)+len(remove))
	}
	add, remove = sortedNonEmpty(add), sortedNonEmpty(remove)
	for _, m := range add {
		if _, found := slices.BinarySearch(remove, m); found {
			return 0, bad("%q is both added and removed", m)
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return 0, bad("nothing to add or remove")
	}
	var version int64
	err := s.retryTx(ctx, fmt.Sprintf("flag %q", flagKey), []string{flagKey}, func(tx *redis.Tx) error {
		states, befores, err := s.readAndCheck(ctx, tx, w, []string{flagKey})
		if err != nil {
			return err
		}
		envs, v, before := states[0].envs, states[0].version, befores[0]
		if !slices.Contains(envs, environment) {
			return fmt.Errorf("edit allowlist of flag %q: no environment %q: %w", flagKey, environment, ErrNotFound)
		}
		variants, err := tx.HExists(ctx, s.keys.flag(flagKey), "variants").Result()
		if err != nil {
			return err
		}
		if variants {
			return bad("a variant flag targets users and regions with rules, not allowlists")
		}
		card, err := tx.SCard(ctx, setKey).Result()
		if err != nil {
			return err
		}
		members := append(slices.Clone(add), remove...)
		in, err := tx.SMIsMember(ctx, setKey, toAny(members)...).Result()
		if err != nil {
			return err
		}
		count := card
		for i, isMember := range in {
			switch {
			case i < len(add) && !isMember:
				count++
			case i >= len(add) && isMember:
				count--
			}
		}
		version = v + 1
		now := timestamp(s.now())
		after := editedAudit(before, environment, field, add, remove, count, version, now)
		note, _ := json.Marshal(Change{Op: "upsert", FlagKey: flagKey, Version: version})
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if len(add) > 0 {
				p.SAdd(ctx, setKey, toAny(add)...)
			}
			if len(remove) > 0 {
				p.SRem(ctx, setKey, toAny(remove)...)
			}
			p.HSet(ctx, s.keys.flag(flagKey), "version", strconv.FormatInt(version, 10), "updatedAt", now)
			p.HSet(ctx, s.keys.env(flagKey, environment), "updatedAt", now)
			p.Publish(ctx, s.keys.changes(), note)
			w.recordJSON(s, pipeWriter{ctx, p}, "upsert", flagKey, before, after)
			return nil
		})
		return err
	}, setKey)
	if err != nil {
		return 0, err
	}
	return version, nil
}

// editedAudit is the audit "after" of an allowlist edit: the "before"
// definition with the list edited (or counted), the version and updatedAt
// moved on. A before that is not a plain definition (a corrupt one) is
// recorded as the edit alone.
func editedAudit(before json.RawMessage, environment, field string, add, remove []string, count, version int64, now string) json.RawMessage {
	var top map[string]any
	var envs map[string]any
	var env map[string]any
	d := json.NewDecoder(bytes.NewReader(before))
	d.UseNumber() // payload numbers stay exactly as recorded
	if d.Decode(&top) == nil && top != nil && top["corrupt"] == nil {
		envs, _ = top["environments"].(map[string]any)
		env, _ = envs[environment].(map[string]any)
	}
	if env == nil {
		b, _ := json.Marshal(map[string]any{"edit": field, "environment": environment, "added": add, "removed": remove, "count": count})
		return b
	}
	switch old := env[field].(type) {
	case []any:
		set := map[string]bool{}
		for _, m := range old {
			if s, ok := m.(string); ok {
				set[s] = true
			}
		}
		for _, m := range add {
			set[m] = true
		}
		for _, m := range remove {
			delete(set, m)
		}
		members := make([]string, 0, len(set))
		for m := range set {
			members = append(members, m)
		}
		slices.Sort(members)
		env[field] = auditList(members, 0)
	default:
		env[field] = map[string]int64{"count": count}
	}
	env["updatedAt"] = now
	top["updatedAt"], top["version"] = now, version
	b, _ := json.Marshal(top)
	return b
}
