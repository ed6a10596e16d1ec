package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
	batch  int    // flags per load transaction, one at a time; 0: loadBatch, several at once
	// noScript is set once the server refused load.lua: loads pipeline.
	// Shared with the Stores WithLoadBatch makes.
	noScript *atomic.Bool
}

// WithLoadBatch returns a Store like s whose loads read n flags per
// transaction instead of 256. Redis runs a transaction whole, every other
// client waiting: 256 flags of 3 environments are ~6,000 commands, tens of
// milliseconds of a busy server. A reader that is in no hurry (the
// provider's resync and reconnection reloads) uses small batches, so that
// other clients' commands, and the change notices it follows, wait for a
// few milliseconds at most; it pays a round trip per batch.
func (s *Store) WithLoadBatch(n int) *Store {
	c := *s
	c.batch = max(n, 1)
	return &c
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
	return &Store{rdb: rdb, keys: keys{prefix: c.prefix}, now: c.now, simple: c.simple, large: c.large, outbox: c.outbox, noScript: new(atomic.Bool)}
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
// returns the definition as stored. Options: [IfVersion], [IfAbsent] and
// [IfExists] make the write conditional, [Actor] records it in the audit
// stream in the same transaction.
//
// The transaction WATCHes only the flag's own hash and environment set, so
// writes of different flags never conflict; the index entry is added inside
// the transaction (SADD is idempotent), not watched.
func (s *Store) Upsert(ctx context.Context, f evaluator.Flag, opts ...WriteOption) (evaluator.Flag, error) {
	out, err := s.upsert(ctx, []evaluator.Flag{f}, opts)
	if err != nil {
		return evaluator.Flag{}, err
	}
	return out[0], nil
}

// MaxUpsertAll is the most flags one [Store.UpsertAll] writes: the batch
// runs as one script, which blocks every other client of that Redis while it
// runs — 2 s for 20,000 small audited flags on a loaded 2-core machine —
// and past Redis' busy-reply-threshold (5 s by default) other clients get
// BUSY errors until it ends.
const MaxUpsertAll = 20000

// ErrBatchTooLarge is returned (wrapped) by [Store.UpsertAll] for more than
// [MaxUpsertAll] flags. Nothing is written.
var ErrBatchTooLarge = errors.New("too many flags for one transaction")

// UpsertAll stores every flag of flags in one transaction, all or nothing:
// each flag is written as [Store.Upsert] writes it (old keys deleted, version
// plus one, a change notice, an audit entry), and either every write happens
// or none does. Every definition is validated first; the error then names
// every flag that does not validate (an *evaluator.ValidationError each,
// joined) and nothing is written. Keys must be distinct. Options apply to
// every flag ([IfVersion] would compare each flag with the same version;
// [IfAbsent] makes the whole batch fail when any of its flags exists).
//
// Why this is all or nothing: the old state of every flag is read (one
// pipelined round trip), the writes are built, and one Lua script checks
// that no flag's fingerprint (version, updatedAt, environment names)
// changed since the read and then runs every write; a script runs alone, so
// nothing happens between the check and the writes, and a changed flag
// makes it write nothing (the batch is then read and tried again, up to 32
// times). Redis does not roll a script back, so nothing in it may fail half
// way: every flag key written is deleted first (no command meets a wrong
// type), the shared keys (index, audit stream) have their types checked
// before the first write, and Redis refuses a script for maxmemory only at
// its first write. (One WATCH over the batch's keys would do the same but is
// quadratic in Redis 7.0 — 40,000 keys took 20 s — and one MULTI per
// bounded batch would not be all or nothing.) The cost is one script the
// size of the batch: at most [MaxUpsertAll] flags. On Redis Cluster the
// key prefix must carry a hash tag ("{feature-flags}"), as for every write.
func (s *Store) UpsertAll(ctx context.Context, flags []evaluator.Flag, opts ...WriteOption) ([]evaluator.Flag, error) {
	if len(flags) > MaxUpsertAll {
		return nil, fmt.Errorf("write %d flags: %w (at most %d)", len(flags), ErrBatchTooLarge, MaxUpsertAll)
	}
	if len(flags) == 0 {
		return nil, nil
	}
	return s.upsert(ctx, flags, opts)
}

// prepareUpsert validates f and returns it as it will be stored (payloads
// compacted, allowlists sorted and deduplicated).
func prepareUpsert(f evaluator.Flag, keepLarge bool) (evaluator.Flag, error) {
	if err := evaluator.Validate(f); err != nil {
		return evaluator.Flag{}, err
	}
	if !keepLarge {
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
	return f, nil
}

func (s *Store) upsert(ctx context.Context, flags []evaluator.Flag, opts []WriteOption) ([]evaluator.Flag, error) {
	w := newWriteConfig(opts)
	prepared := make([]evaluator.Flag, 0, len(flags))
	keys := make([]string, 0, len(flags))
	seen := make(map[string]bool, len(flags))
	var errs []error
	for _, f := range flags {
		p, err := prepareUpsert(f, w.keepLarge)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[p.Key] {
			errs = append(errs, fmt.Errorf("flag %q: given twice", p.Key))
			continue
		}
		seen[p.Key] = true
		prepared = append(prepared, p)
		keys = append(keys, p.Key)
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		return nil, fmt.Errorf("%d of %d flags are invalid, nothing written: %w", len(errs), len(flags), errors.Join(errs...))
	}
	if len(prepared) > 1 {
		if w.guard != nil || w.also != nil || len(w.watch) > 0 {
			return nil, errors.New("write flags: a bulk write takes no release write options (guard, also, watch)")
		}
		return s.upsertBulk(ctx, w, prepared, keys)
	}
	var stored []evaluator.Flag
	err := s.retryTx(ctx, fmt.Sprintf("flag %q", keys[0]), keys, func(tx *redis.Tx) error {
		states, befores, err := s.readAndCheck(ctx, tx, w, keys)
		if err != nil {
			return err
		}
		now := timestamp(s.now())
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			stored = s.queueUpserts(pipeWriter{ctx, p}, w, prepared, states, befores, now)
			return nil
		})
		return err
	}, w.watch...)
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// readAndCheck reads the flags' write states (and, for an audited write,
// the definitions it replaces) and checks the write's conditions.
func (s *Store) readAndCheck(ctx context.Context, tx redis.Cmdable, w writeConfig, keys []string) ([]writeState, []json.RawMessage, error) {
	states, err := s.readForWrite(ctx, tx, keys)
	if err != nil {
		return nil, nil, err
	}
	for i, st := range states {
		if err := w.check("write", keys[i], st); err != nil {
			return nil, nil, err
		}
	}
	if err := w.runGuard(ctx, tx); err != nil {
		return nil, nil, err
	}
	befores, err := w.before(ctx, s, tx, keys, states)
	if err != nil {
		return nil, nil, err
	}
	return states, befores, nil
}

// queueUpserts queues the writes of the prepared flags and returns them as
// they will be stored.
func (s *Store) queueUpserts(p writer, w writeConfig, prepared []evaluator.Flag, states []writeState, befores []json.RawMessage, now string) []evaluator.Flag {
	stored := make([]evaluator.Flag, len(prepared))
	for i := range prepared {
		f := prepared[i].Clone()
		f.Version = states[i].version + 1
		f.UpdatedAt = now
		note, _ := json.Marshal(Change{Op: "upsert", FlagKey: f.Key, Version: f.Version})
		s.deleteKeysKeeping(p, f.Key, states[i].envs, &f, w.keepLarge)
		s.writeFlag(p, &f)
		p.sadd(s.keys.index(), f.Key)
		p.publish(s.keys.changes(), string(note))
		w.record(s, p, "upsert", f.Key, befores[i], &f)
		stored[i] = f
	}
	return stored
}

// upsertBulk is UpsertAll's write of many flags: the reads are not WATCHed
// (WATCH of tens of thousands of keys is quadratic in Redis 7.0: 40,000 keys
// took 20 s), but each flag's fingerprint (version, updatedAt, environment
// names) as read is checked again by the script that writes, in the same
// atomic step; a flag changed in between makes the script write nothing,
// and the batch is read and tried again.
func (s *Store) upsertBulk(ctx context.Context, w writeConfig, prepared []evaluator.Flag, keys []string) ([]evaluator.Flag, error) {
	for attempt := range maxTxRetries {
		states, befores, err := s.readAndCheck(ctx, s.rdb, w, keys)
		if err != nil {
			return nil, err
		}
		var l cmdList
		stored := s.queueUpserts(&l, w, prepared, states, befores, timestamp(s.now()))
		args := make([]any, 0, 1+3*len(keys)+len(l.args))
		args = append(args, len(keys))
		for i, k := range keys {
			args = append(args, s.keys.flag(k), s.keys.envs(k), states[i].fingerprint)
		}
		shared := [][2]string{{s.keys.index(), "set"}, {s.keys.rollouts(), "set"}, {s.keys.audit(), "stream"},
			{s.keys.auditBytes(), "string"}, {s.keys.outbox(), "stream"}}
		args = append(args, len(shared))
		for _, kt := range shared {
			args = append(args, kt[0], kt[1])
		}
		args = append(args, l.args...)
		ok, err := s.rdb.Eval(ctx, bulkWriteScript, []string{s.keys.index()}, args...).Int()
		if err != nil {
			return nil, fmt.Errorf("write %d flags: nothing written: %w", len(keys), err)
		}
		if ok == 1 {
			return stored, nil
		}
		wait := time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil, fmt.Errorf("write %d flags: nothing written: %w", len(keys), ErrConflict)
}

// Delete removes the flag — index entry and every key — in one transaction
// and publishes a [Change]. Deleting a flag that is not stored returns
// ErrNotFound. It takes the same options as [Store.Upsert].
func (s *Store) Delete(ctx context.Context, key string, opts ...WriteOption) error {
	w := newWriteConfig(opts)
	if !evaluator.ValidName(key) {
		return fmt.Errorf("delete flag %q: %w", key, ErrNotFound)
	}
	return s.retryTx(ctx, fmt.Sprintf("flag %q", key), []string{key}, func(tx *redis.Tx) error {
		states, err := s.readForWrite(ctx, tx, []string{key})
		if err != nil {
			return err
		}
		st := states[0]
		// The index is not WATCHed (writes of other flags change it), so a
		// flag only in the index still counts as stored: its entry is what
		// the delete removes.
		member, err := tx.SIsMember(ctx, s.keys.index(), key).Result()
		if err != nil {
			return err
		}
		if !member && !st.exists {
			return fmt.Errorf("delete flag %q: %w", key, ErrNotFound)
		}
		if err := w.check("delete", key, st); err != nil {
			return err
		}
		if err := w.runGuard(ctx, tx); err != nil {
			return err
		}
		befores, err := w.before(ctx, s, tx, []string{key}, states)
		if err != nil {
			return err
		}
		note, _ := json.Marshal(Change{Op: "delete", FlagKey: key})
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			pw := pipeWriter{ctx, p}
			s.deleteKeys(pw, key, st.envs)
			pw.srem(s.keys.index(), key)
			pw.publish(s.keys.changes(), string(note))
			w.record(s, pw, "delete", key, befores[0], nil)
			return nil
		})
		return err
	}, w.watch...)
}

// retryTx runs fn under WATCH of the flags' hashes and environment sets —
// what each flag's own consistency needs, and nothing shared such as the
// index — retrying when another writer of one of these flags got there
// first. label names what is written in the conflict error.
func (s *Store) retryTx(ctx context.Context, label string, flagKeys []string, fn func(*redis.Tx) error, extraWatch ...string) error {
	watched := make([]string, 0, 2*len(flagKeys)+len(extraWatch))
	for _, k := range flagKeys {
		watched = append(watched, s.keys.flag(k), s.keys.envs(k))
	}
	watched = append(watched, extraWatch...)
	for attempt := range maxTxRetries {
		err := s.rdb.Watch(ctx, fn, watched...)
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
	return fmt.Errorf("write %s: %w", label, ErrConflict)
}

// writeState is what a write reads of a flag before it: the stored
// environments (which it must delete), the version, whether the flag's hash
// or environment set exists, and the fingerprint a bulk write checks again.
type writeState struct {
	envs        []string
	version     int64
	exists      bool
	fingerprint string
}

// readForWrite reads the write state of every key in one pipelined round
// trip (on the transaction's connection for one flag). A key of the wrong
// type (an environment set stored as a string, say) reads as absent: the
// write deletes it and stores the flag anew, which is how such a flag is
// repaired.
func (s *Store) readForWrite(ctx context.Context, c redis.Cmdable, flagKeys []string) ([]writeState, error) {
	type reads struct {
		envs   *redis.StringSliceCmd
		hash   *redis.SliceCmd
		exists *redis.IntCmd
	}
	rs := make([]reads, len(flagKeys))
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range flagKeys {
			rs[i] = reads{
				envs:   p.SMembers(ctx, s.keys.envs(k)),
				hash:   p.HMGet(ctx, s.keys.flag(k), "version", "updatedAt"),
				exists: p.Exists(ctx, s.keys.flag(k), s.keys.envs(k)),
			}
		}
		return nil
	})
	out := make([]writeState, len(flagKeys))
	for i, r := range rs {
		for _, err := range []error{r.envs.Err(), r.hash.Err(), r.exists.Err()} {
			if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
				return nil, fmt.Errorf("read flag %q before writing it: %w", flagKeys[i], err)
			}
		}
		st := writeState{exists: r.exists.Val() > 0}
		// The fingerprint as bulk.lua computes it.
		fp := "!"
		if r.hash.Err() == nil {
			str := func(v any) string { s, _ := v.(string); return s }
			vals := r.hash.Val()
			fp = str(vals[0]) + "\x00" + str(vals[1])
			// A version that does not parse restarts the count rather than
			// blocking every future write of the flag.
			n, _ := strconv.ParseInt(str(vals[0]), 10, 64)
			st.version = max(n, 0)
		}
		if r.envs.Err() == nil {
			st.envs = r.envs.Val()
			sorted := slices.Clone(st.envs)
			slices.Sort(sorted)
			fp += "\x00" + strings.Join(sorted, "\x00")
		} else {
			fp += "\x00!"
		}
		st.fingerprint = fp
		out[i] = st
	}
	return out, nil
}

// isWrongType reports whether err is Redis' WRONGTYPE reply, also when a
// script relays it.
func isWrongType(err error) bool {
	return err != nil && strings.Contains(err.Error(), "WRONGTYPE")
}

func (s *Store) deleteKeys(p writer, key string, envs []string) {
	ks := []string{s.keys.flag(key), s.keys.envs(key)}
	for _, e := range envs {
		ks = append(ks, s.keys.env(key, e), s.keys.users(key, e), s.keys.regions(key, e))
	}
	p.del(ks...)
	p.srem(s.keys.rollouts(), key)
}

// writeFlag queues the HSET/SADD sequence of the tutorial's upsert, plus the
// version field.
func (s *Store) writeFlag(p writer, f *evaluator.Flag) {
	p.hset(s.keys.flag(f.Key), append([]any{
		"description", f.Description,
		"defaultEnabled", strconv.FormatBool(f.DefaultEnabled),
		"updatedAt", f.UpdatedAt,
		"version", strconv.FormatInt(f.Version, 10),
	}, richFields(f)...)...)
	names := f.EnvironmentNames()
	if len(names) > 0 {
		p.sadd(s.keys.envs(f.Key), names...)
	}
	for _, name := range names {
		env := f.Environments[name]
		env.UpdatedAt = f.UpdatedAt
		value := "null"
		if env.HasValue() {
			value = string(env.Value)
		}
		p.hset(s.keys.env(f.Key, name), append([]any{
			"enabled", strconv.FormatBool(env.Enabled),
			"rolloutPercent", strconv.Itoa(env.RolloutPercent),
			"value", value,
			"updatedAt", env.UpdatedAt,
		}, rolloutField(env.Rollout)...)...)
		if len(env.AllowlistUsers) > 0 {
			p.sadd(s.keys.users(f.Key, name), env.AllowlistUsers...)
		}
		if len(env.AllowlistRegions) > 0 {
			p.sadd(s.keys.regions(f.Key, name), env.AllowlistRegions...)
		}
		if env.Rollout != nil {
			p.sadd(s.keys.rollouts(), f.Key)
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
