package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// ErrNotFound is returned (wrapped) when a flag is not stored.
var ErrNotFound = errors.New("flag not found")

// ErrConflict is returned (wrapped) when a write lost the race against other
// writers of the same flag more times than it retries.
var ErrConflict = errors.New("flag changed concurrently")

// maxTxRetries is how often a write retries when a WATCHed key changed.
const maxTxRetries = 32

// Store reads and writes flags in one Redis key space. Safe for concurrent
// use.
type Store struct {
	rdb    redis.UniversalClient
	keys   keys
	now    func() time.Time
	simple string // prefix of simple flags; "" when off
	large  int64  // large-set threshold; 0: load every allowlist
	outbox bool   // every write appends an event to P:outbox (WithOutbox)
}

// Option configures a Store.
type Option func(*config)

type config struct {
	prefix string
	now    func() time.Time
	simple string
	large  int64
	outbox bool
}

// WithKeyPrefix sets the key prefix. Default: "feature-flags", the
// tutorial's. For Redis Cluster use a hash tag such as "{feature-flags}" so
// that one flag set lives in one slot and transactions work.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) {
		if prefix != "" {
			c.prefix = prefix
		}
	}
}

// WithClock sets the clock used for updatedAt. Default: time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// New returns a Store over rdb. The caller keeps ownership of rdb and closes
// it.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	c := config{prefix: DefaultKeyPrefix, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	return &Store{rdb: rdb, keys: keys{prefix: c.prefix}, now: c.now, simple: c.simple, large: c.large, outbox: c.outbox}
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.keys.prefix }

// ChangesChannel returns the pub/sub channel change notices go to
// ("P:changes").
func (s *Store) ChangesChannel() string { return s.keys.changes() }

// KeyspacePattern returns the PSUBSCRIBE pattern that matches keyspace
// notifications for every key of this store in every database.
func (s *Store) KeyspacePattern() string { return "__keyspace@*__:" + s.keys.prefix + ":*" }

// FlagKeyOfNotification returns the flag key a keyspace notification channel
// is about, or false when it is about no flag (the index, say).
func (s *Store) FlagKeyOfNotification(channel string) (string, bool) {
	// "__keyspace@0__:P:flag:K:…"
	for i := 0; i+2 < len(channel); i++ {
		if channel[i] == '_' && channel[i+1] == '_' && channel[i+2] == ':' {
			key := channel[i+3:]
			if s.simple != "" {
				if name, ok := strings.CutPrefix(key, s.simple); ok && evaluator.ValidName(name) {
					return name, true
				}
			}
			return s.keys.flagKeyOf(key)
		}
	}
	return "", false
}

// SimpleKeyspacePattern returns the PSUBSCRIBE pattern for keyspace
// notifications of simple flags, "" when simple flags are off.
func (s *Store) SimpleKeyspacePattern() string {
	if s.simple == "" {
		return ""
	}
	return "__keyspace@*__:" + escapeGlob(s.simple) + "*"
}

// Change is the notice published on P:changes by every write of this
// package.
type Change struct {
	// Op is "upsert" or "delete".
	Op string `json:"op"`
	// FlagKey is the flag written.
	FlagKey string `json:"flagKey"`
	// Version is the flag's version after the write (0 for a delete).
	Version int64 `json:"version"`
}

// ParseChange decodes a change notice.
func ParseChange(payload string) (Change, error) {
	var c Change
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return Change{}, fmt.Errorf("change notice %q: %w", payload, err)
	}
	if !evaluator.ValidName(c.FlagKey) || (c.Op != "upsert" && c.Op != "delete") {
		return Change{}, fmt.Errorf("change notice %q: missing op or flag key", payload)
	}
	return c, nil
}

func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// Upsert validates f and stores it in one transaction: the flag's old keys
// (old environments included) are deleted, the new ones written, "version"
// is the old version plus one, updatedAt is now (on the flag and every
// environment), and a [Change] is published. An invalid f returns an
// *evaluator.ValidationError naming the field and writes nothing. It
// returns the definition as stored. Options: [IfVersion] makes the write
// conditional, [Actor] records it in the audit stream in the same
// transaction.
func (s *Store) Upsert(ctx context.Context, f evaluator.Flag, opts ...WriteOption) (evaluator.Flag, error) {
	w := newWriteConfig(opts)
	if err := evaluator.Validate(f); err != nil {
		return evaluator.Flag{}, err
	}
	if !w.keepLarge {
		if err := checkNotPartial(f); err != nil {
			return evaluator.Flag{}, err
		}
	}
	f = f.Clone()
	for name, env := range f.Environments {
		if len(env.Value) > 0 {
			compact, err := compactJSON(env.Value)
			if err != nil {
				return evaluator.Flag{}, err
			}
			env.Value = compact
		}
		env.AllowlistUsers = sortedNonEmpty(env.AllowlistUsers)
		env.AllowlistRegions = sortedNonEmpty(env.AllowlistRegions)
		f.Environments[name] = env
	}
	var stored evaluator.Flag
	err := s.retryTx(ctx, f.Key, func(tx *redis.Tx) error {
		oldEnvs, version, err := s.readForWrite(ctx, tx, f.Key)
		if err != nil {
			return err
		}
		before, err := w.prepare(ctx, s, tx, f.Key, oldEnvs, version)
		if err != nil {
			return err
		}
		stored = f.Clone()
		stored.Version = version + 1
		stored.UpdatedAt = timestamp(s.now())
		note, _ := json.Marshal(Change{Op: "upsert", FlagKey: f.Key, Version: stored.Version})
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.deleteKeysKeeping(ctx, p, f.Key, oldEnvs, &stored, w.keepLarge)
			s.writeFlag(ctx, p, &stored)
			p.SAdd(ctx, s.keys.index(), f.Key)
			p.Publish(ctx, s.keys.changes(), note)
			w.record(ctx, s, p, "upsert", f.Key, before, &stored)
			return nil
		})
		return err
	}, w.watch...)
	if err != nil {
		return evaluator.Flag{}, err
	}
	return stored, nil
}

// Delete removes the flag — index entry and every key — in one transaction
// and publishes a [Change]. Deleting a flag that is not stored returns
// ErrNotFound. It takes the same options as [Store.Upsert].
func (s *Store) Delete(ctx context.Context, key string, opts ...WriteOption) error {
	w := newWriteConfig(opts)
	if !evaluator.ValidName(key) {
		return fmt.Errorf("delete flag %q: %w", key, ErrNotFound)
	}
	return s.retryTx(ctx, key, func(tx *redis.Tx) error {
		oldEnvs, version, err := s.readForWrite(ctx, tx, key)
		if err != nil {
			return err
		}
		member, err := tx.SIsMember(ctx, s.keys.index(), key).Result()
		if err != nil {
			return err
		}
		exists, err := tx.Exists(ctx, s.keys.flag(key)).Result()
		if err != nil {
			return err
		}
		if !member && exists == 0 {
			return fmt.Errorf("delete flag %q: %w", key, ErrNotFound)
		}
		before, err := w.prepare(ctx, s, tx, key, oldEnvs, version)
		if err != nil {
			return err
		}
		note, _ := json.Marshal(Change{Op: "delete", FlagKey: key})
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.deleteKeys(ctx, p, key, oldEnvs)
			p.SRem(ctx, s.keys.index(), key)
			p.Publish(ctx, s.keys.changes(), note)
			w.record(ctx, s, p, "delete", key, before, nil)
			return nil
		})
		return err
	}, w.watch...)
}

// retryTx runs fn under WATCH of the flag's hash, its environment set and
// the index, retrying when another writer got there first.
func (s *Store) retryTx(ctx context.Context, key string, fn func(*redis.Tx) error, extraWatch ...string) error {
	for attempt := range maxTxRetries {
		err := s.rdb.Watch(ctx, fn, append([]string{s.keys.flag(key), s.keys.envs(key), s.keys.index()}, extraWatch...)...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		// Back off a random while, growing with the attempt, so that writers
		// racing for one flag take turns instead of colliding again.
		wait := time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("write flag %q: %w", key, ErrConflict)
}

// readForWrite reads what a write must delete: the stored environments and
// the version.
func (s *Store) readForWrite(ctx context.Context, tx *redis.Tx, key string) ([]string, int64, error) {
	envs, err := tx.SMembers(ctx, s.keys.envs(key)).Result()
	if err != nil {
		return nil, 0, err
	}
	v, err := tx.HGet(ctx, s.keys.flag(key), "version").Result()
	if errors.Is(err, redis.Nil) {
		return envs, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	// A version that does not parse restarts the count rather than blocking
	// every future write of the flag.
	n, _ := strconv.ParseInt(v, 10, 64)
	return envs, max(n, 0), nil
}

func (s *Store) deleteKeys(ctx context.Context, p redis.Pipeliner, key string, envs []string) {
	ks := []string{s.keys.flag(key), s.keys.envs(key)}
	for _, e := range envs {
		ks = append(ks, s.keys.env(key, e), s.keys.users(key, e), s.keys.regions(key, e))
	}
	p.Del(ctx, ks...)
	p.SRem(ctx, s.keys.rollouts(), key)
}

// writeFlag queues the HSET/SADD sequence of the tutorial's upsert, plus the
// version field.
func (s *Store) writeFlag(ctx context.Context, p redis.Pipeliner, f *evaluator.Flag) {
	p.HSet(ctx, s.keys.flag(f.Key), append([]any{
		"description", f.Description,
		"defaultEnabled", strconv.FormatBool(f.DefaultEnabled),
		"updatedAt", f.UpdatedAt,
		"version", strconv.FormatInt(f.Version, 10),
	}, richFields(f)...)...)
	names := f.EnvironmentNames()
	if len(names) > 0 {
		p.SAdd(ctx, s.keys.envs(f.Key), toAny(names)...)
	}
	for _, name := range names {
		env := f.Environments[name]
		env.UpdatedAt = f.UpdatedAt
		value := "null"
		if env.HasValue() {
			value = string(env.Value)
		}
		p.HSet(ctx, s.keys.env(f.Key, name), append([]any{
			"enabled", strconv.FormatBool(env.Enabled),
			"rolloutPercent", strconv.Itoa(env.RolloutPercent),
			"value", value,
			"updatedAt", env.UpdatedAt,
		}, rolloutField(env.Rollout)...)...)
		if len(env.AllowlistUsers) > 0 {
			p.SAdd(ctx, s.keys.users(f.Key, name), toAny(env.AllowlistUsers)...)
		}
		if len(env.AllowlistRegions) > 0 {
			p.SAdd(ctx, s.keys.regions(f.Key, name), toAny(env.AllowlistRegions)...)
		}
		if env.Rollout != nil {
			p.SAdd(ctx, s.keys.rollouts(), f.Key)
		}
		f.Environments[name] = env
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// compactJSON removes insignificant space, keeping numbers and key order
// exactly as given.
func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
