package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// ErrVersionMismatch is returned (wrapped) by a write made with [IfVersion]
// when the stored version is another one. Nothing is written.
var ErrVersionMismatch = errors.New("stored flag version differs")

// AuditMaxLen is the approximate number of entries the audit stream P:audit
// keeps: each audited write trims it with XADD … MAXLEN ~ AuditMaxLen, so the
// oldest entries go first and the stream stays bounded (at a few hundred
// bytes to a few KiB per entry).
const AuditMaxLen = 100000

// WriteOption changes one call of [Store.Upsert] or [Store.Delete].
type WriteOption func(*writeConfig)

type writeConfig struct {
	checkVersion bool
	version      int64
	actor        string
	// note, watch, guard and also carry release writes (see schedule.go).
	note      string
	watch     []string
	guard     func(ctx context.Context, tx *redis.Tx) error
	also      func(ctx context.Context, p redis.Pipeliner, after *evaluator.Flag)
	keepLarge bool // see KeepLargeAllowlists
}

// IfVersion makes the write conditional: it happens only when the flag's
// stored version is v, checked inside the WATCHed transaction, so that a
// writer who read version v cannot overwrite a change made after that read.
// Otherwise the write returns an error wrapping [ErrVersionMismatch] and
// writes nothing. Version 0 means "no version stored": a flag that does not
// exist, or one written by the tutorial's application or by hand.
func IfVersion(v int64) WriteOption {
	return func(c *writeConfig) { c.checkVersion, c.version = true, v }
}

// Actor names who makes the write in its audit entry. Every write appends an
// [AuditEntry] to the stream P:audit in the same MULTI/EXEC as the write
// itself, so that no change is recorded that did not happen and none happens
// unrecorded; without Actor (or with an empty name) the actor is recorded as
// "unknown".
func Actor(name string) WriteOption {
	return func(c *writeConfig) {
		c.actor = strings.TrimSpace(name)
		if c.actor == "" {
			c.actor = "unknown"
		}
	}
}

func newWriteConfig(opts []WriteOption) writeConfig {
	c := writeConfig{actor: "unknown"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

func (c *writeConfig) audited() bool { return c.actor != "" }

// prepare runs inside the WATCH, before MULTI: it checks the expected
// version and, for an audited write, reads the definition the write replaces
// (nil when there is none).
func (c *writeConfig) prepare(ctx context.Context, s *Store, tx *redis.Tx, key string, envs []string, version int64) (json.RawMessage, error) {
	if c.checkVersion && version != c.version {
		return nil, fmt.Errorf("write flag %q: stored version is %d, not %d: %w", key, version, c.version, ErrVersionMismatch)
	}
	if c.guard != nil {
		if err := c.guard(ctx, tx); err != nil {
			return nil, err
		}
	}
	if !c.audited() {
		return nil, nil
	}
	return s.readBefore(ctx, tx, key, envs)
}

// record queues the audit entry of an audited write into the transaction.
// after is nil for a delete.
func (c *writeConfig) record(ctx context.Context, s *Store, p redis.Pipeliner, op, key string, before json.RawMessage, after *evaluator.Flag) {
	if c.also != nil {
		c.also(ctx, p, after)
	}
	s.queueFlagEvent(ctx, p, op, key, c.actor, c.note, after)
	if !c.audited() {
		return
	}
	afterJSON := []byte("null")
	if after != nil {
		afterJSON = auditJSON(*after)
	}
	c.recordJSON(ctx, s, p, op, key, before, afterJSON)
}

// recordJSON is record with the after side already in its audit JSON form.
func (c *writeConfig) recordJSON(ctx context.Context, s *Store, p redis.Pipeliner, op, key string, before, afterJSON json.RawMessage) {
	if !c.audited() {
		return
	}
	if before == nil {
		before = json.RawMessage("null")
	}
	values := []any{
		"actor", c.actor,
		"time", timestamp(s.now()),
		"op", op,
		"flag", key,
		"before", string(before),
		"after", string(afterJSON),
	}
	if c.note != "" {
		values = append(values, "note", c.note)
	}
	p.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.audit(), MaxLen: AuditMaxLen, Approx: true, Values: values})
}

func (k keys) audit() string { return k.prefix + ":audit" }

// AuditStream returns the key of the audit stream ("P:audit").
func (s *Store) AuditStream() string { return s.keys.audit() }

// AuditMaxMembers is the largest allowlist an audit entry lists member by
// member; a larger one is recorded as {"count": N}, so that one write of a
// flag with millions of allowlisted subjects does not copy them all into the
// stream (before and after).
const AuditMaxMembers = 10000

// readBefore reads everything stored for the flag on the transaction's
// connection (one pipelined round trip; an allowlist of more than
// AuditMaxMembers members only as its count) and returns it as the JSON of
// its definition, or nil when the flag is not stored. Stored data that does
// not decode is kept as it is, under "stored", with the reason under
// "corrupt": the audit must show what a write replaced even when it was
// broken.
func (s *Store) readBefore(ctx context.Context, tx *redis.Tx, key string, envs []string) (json.RawMessage, error) {
	type envReads struct {
		hash           *redis.MapStringStringCmd
		users, regions setRead
	}
	var hash *redis.MapStringStringCmd
	reads := make(map[string]envReads, len(envs))
	_, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
		hash = p.HGetAll(ctx, s.keys.flag(key))
		for _, e := range envs {
			reads[e] = envReads{
				hash:    p.HGetAll(ctx, s.keys.env(key, e)),
				users:   setRead{either: p.Eval(ctx, readSetScript, []string{s.keys.users(key, e)}, AuditMaxMembers)},
				regions: setRead{either: p.Eval(ctx, readSetScript, []string{s.keys.regions(key, e)}, AuditMaxMembers)},
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read flag %q for its audit entry: %w", key, err)
	}
	raw := rawFlag{key: key, hash: hash.Val(), envs: make(map[string]rawEnv, len(envs))}
	for name, r := range reads {
		e := rawEnv{hash: r.hash.Val()}
		e.users, e.largeUsers = r.users.val()
		e.regions, e.largeRegions = r.regions.val()
		raw.envs[name] = e
	}
	if len(raw.hash) == 0 && len(raw.envs) == 0 {
		return nil, nil
	}
	f, derr := raw.decode()
	if derr == nil {
		return auditJSON(f), nil
	}
	stored := map[string]any{"flag": raw.hash}
	envData := map[string]any{}
	for name, e := range raw.envs {
		envData[name] = map[string]any{"hash": e.hash, "users": auditList(e.users, e.largeUsers), "regions": auditList(e.regions, e.largeRegions)}
	}
	stored["environments"] = envData
	b, err := json.Marshal(map[string]any{"flagKey": key, "corrupt": derr.Error(), "stored": stored})
	return b, err
}

// auditList is an allowlist as an audit entry holds it: its members, or
// {"count": N} above AuditMaxMembers (or when only its size was read).
func auditList(members []string, count int64) any {
	switch {
	case count > 0:
		return map[string]int64{"count": count}
	case len(members) > AuditMaxMembers:
		return map[string]int{"count": len(members)}
	case members == nil:
		return []string{}
	}
	return members
}

// auditJSON is the JSON form of a definition in an audit entry: the
// tutorial's shape, with empty allowlists as [] (never null), so that
// before and after compare field by field, and large allowlists as
// {"count": N} (see AuditMaxMembers).
func auditJSON(f evaluator.Flag) json.RawMessage {
	f = f.Clone()
	large := false
	for name, e := range f.Environments {
		if e.AllowlistUsers == nil {
			e.AllowlistUsers = []string{}
		}
		if e.AllowlistRegions == nil {
			e.AllowlistRegions = []string{}
		}
		large = large || e.HasLargeAllowlist() || len(e.AllowlistUsers) > AuditMaxMembers || len(e.AllowlistRegions) > AuditMaxMembers
		f.Environments[name] = e
	}
	if !large {
		b, _ := json.Marshal(f) // plain data: cannot fail
		return b
	}
	// Replace the large lists, keeping every other field (payload numbers
	// included) exactly as encoded.
	envs := make(map[string]map[string]json.RawMessage, len(f.Environments))
	for name, e := range f.Environments {
		users, regions := e.AllowlistUsers, e.AllowlistRegions
		e.AllowlistUsers, e.AllowlistRegions = nil, nil
		b, _ := json.Marshal(e)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		m["allowlistUsers"], _ = json.Marshal(auditList(users, e.LargeUsers))
		m["allowlistRegions"], _ = json.Marshal(auditList(regions, e.LargeRegions))
		envs[name] = m
	}
	f.Environments = nil
	b, _ := json.Marshal(f)
	var top map[string]json.RawMessage
	_ = json.Unmarshal(b, &top)
	top["environments"], _ = json.Marshal(envs)
	b, _ = json.Marshal(top)
	return b
}

// AuditEntry is one audited write, as read back by [Store.Audit].
type AuditEntry struct {
	// ID is the stream entry ID, which orders entries.
	ID string `json:"id"`
	// Actor is who made the write (see [Actor]).
	Actor string `json:"actor"`
	// Time is when the write was made, by the writer's clock (RFC 3339,
	// UTC, milliseconds).
	Time string `json:"time"`
	// Op is "upsert" or "delete".
	Op string `json:"op"`
	// Flag is the flag key written.
	Flag string `json:"flag"`
	// Before is the definition the write replaced, as JSON; JSON null when
	// the flag did not exist.
	Before json.RawMessage `json:"before"`
	// After is the definition as stored by the write, as JSON; JSON null for
	// a delete.
	After json.RawMessage `json:"after"`
	// Note says how the write came about when it was not a plain edit
	// ("scheduled by ana at …, schedule s-…", "request r-… by ana,
	// approved by ben", "emergency off"); empty otherwise. See [Note].
	Note string `json:"note,omitempty"`
}

// auditScanBatch is how many stream entries one XREVRANGE reads while
// looking for one flag's entries.
const auditScanBatch = 500

// Audit returns up to n audit entries, newest first: every flag's when
// flagKey is empty, else only that flag's. n ≤ 0 means all of them (the
// stream holds about [AuditMaxLen] at most). Entries are read with
// XREVRANGE in batches, so asking for one flag's recent history costs a
// scan of the stream back to the n-th matching entry.
func (s *Store) Audit(ctx context.Context, flagKey string, n int) ([]AuditEntry, error) {
	var out []AuditEntry
	end := "+"
	for {
		batch := int64(auditScanBatch)
		if flagKey == "" && n > 0 {
			batch = int64(min(n-len(out), auditScanBatch))
		}
		msgs, err := s.rdb.XRevRangeN(ctx, s.keys.audit(), end, "-", batch).Result()
		if err != nil {
			return nil, fmt.Errorf("read audit stream %s: %w", s.keys.audit(), err)
		}
		for _, m := range msgs {
			e := auditEntry(m)
			if flagKey != "" && e.Flag != flagKey {
				continue
			}
			out = append(out, e)
			if n > 0 && len(out) == n {
				return out, nil
			}
		}
		if int64(len(msgs)) < batch {
			return out, nil
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
}

func auditEntry(m redis.XMessage) AuditEntry {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	js := func(k string) json.RawMessage {
		v := str(k)
		if v == "" || !json.Valid([]byte(v)) {
			return json.RawMessage("null")
		}
		return json.RawMessage(v)
	}
	return AuditEntry{
		ID: m.ID, Actor: str("actor"), Time: str("time"), Op: str("op"), Flag: str("flag"),
		Before: js("before"), After: js("after"), Note: str("note"),
	}
}

// AuditTime parses an entry's Time; the zero time when it does not parse.
func (e AuditEntry) AuditTime() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.Time)
	return t
}
