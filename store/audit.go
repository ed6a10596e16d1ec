package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// AuditMaxLen is the most entries the audit stream P:audit keeps: each
// audited write appends its entry and deletes the oldest ones while the
// stream holds more than AuditMaxLen entries or more than [AuditMaxBytes]
// bytes, in one script (so the two bounds and the byte count cannot
// disagree).
const AuditMaxLen = 100000

// WriteOption changes one call of [Store.Upsert] or [Store.Delete].
type WriteOption func(*writeConfig)

type writeConfig struct {
	checkVersion bool
	version      int64
	ifAbsent     bool
	ifExists     bool
	actor        string
	// note, watch, guard and also carry release writes (see schedule.go).
	// A bulk write (UpsertAll) takes none of them but keepLarge.
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

// ErrExists is returned (wrapped) by a write made with [IfAbsent] when the
// flag is stored. Nothing is written.
var ErrExists = errors.New("flag already exists")

// IfAbsent makes the write create-only: it happens only when neither the
// flag's hash nor its environment set exists, checked inside the WATCHed
// transaction, so that of many concurrent creators of one flag exactly one
// succeeds; the others get an error wrapping [ErrExists]. (HTTP's
// "If-None-Match: *".)
func IfAbsent() WriteOption {
	return func(c *writeConfig) { c.ifAbsent = true }
}

// IfExists makes the write happen only when the flag is stored (its hash or
// environment set exists), checked inside the WATCHed transaction;
// otherwise the error wraps [ErrNotFound]. (HTTP's "If-Match: *".)
func IfExists() WriteOption {
	return func(c *writeConfig) { c.ifExists = true }
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

// check runs inside the WATCH, before MULTI: it checks the write's
// conditions against the flag's stored state.
// op is "write" or "delete", for the error.
func (c *writeConfig) check(op, key string, st writeState) error {
	switch {
	case c.checkVersion && st.version != c.version:
		return fmt.Errorf("%s flag %q: stored version is %d, not %d: %w", op, key, st.version, c.version, ErrVersionMismatch)
	case c.ifAbsent && st.exists:
		return fmt.Errorf("%s flag %q: %w", op, key, ErrExists)
	case c.ifExists && !st.exists:
		return fmt.Errorf("%s flag %q: %w", op, key, ErrNotFound)
	}
	return nil
}

// runGuard runs the release guard (see schedule.go) inside the WATCH.
func (c *writeConfig) runGuard(ctx context.Context, tx redis.Cmdable) error {
	if c.guard == nil {
		return nil
	}
	t, ok := tx.(*redis.Tx)
	if !ok {
		return errors.New("write flags: a guarded write needs a transaction")
	}
	return c.guard(ctx, t)
}

// before runs inside the WATCH, before MULTI: for an audited write, it
// reads the definitions the write replaces (nil where there is none), in
// one pipelined round trip for every key.
func (c *writeConfig) before(ctx context.Context, s *Store, tx redis.Cmdable, keys []string, states []writeState) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(keys))
	if !c.audited() {
		return out, nil
	}
	return s.readBefore(ctx, tx, keys, states)
}

// record queues the audit entry of an audited write into the transaction.
// after is nil for a delete. A definition larger than AuditMaxDefinition
// bytes is recorded as its summary (see auditSummary).
func (c *writeConfig) record(s *Store, p writer, op, key string, before json.RawMessage, after *evaluator.Flag) {
	if pw, ok := p.(pipeWriter); ok && c.also != nil {
		c.also(pw.ctx, pw.p, after)
	}
	s.queueFlagEventTo(p, op, key, c.actor, c.note, after)
	if !c.audited() {
		return
	}
	afterJSON := []byte("null")
	if after != nil {
		afterJSON = auditJSON(*after)
	}
	c.recordJSON(s, p, op, key, before, afterJSON)
}

// recordJSON is record with the after side already in its audit JSON form.
func (c *writeConfig) recordJSON(s *Store, p writer, op, key string, before, afterJSON json.RawMessage) {
	if !c.audited() {
		return
	}
	if before == nil {
		before = json.RawMessage("null")
	}
	fields := []string{
		"actor", c.actor,
		"time", timestamp(s.now()),
		"op", op,
		"flag", key,
		"before", string(auditSummary(key, before)),
		"after", string(auditSummary(key, afterJSON)),
	}
	if c.note != "" {
		fields = append(fields, "note", c.note)
	}
	size := 0
	for _, f := range fields {
		size += len(f)
	}
	p.audit(s.keys.audit(), s.keys.auditBytes(), size, fields...)
}

// AuditMaxDefinition is the largest definition (as JSON) an audit entry
// keeps whole, before or after; a larger one is recorded as
// {"flagKey": K, "truncated": true, "bytes": N, "sha256": "…"}, so that
// one entry stays below about 2 × AuditMaxDefinition bytes.
const AuditMaxDefinition = 64 << 10

// AuditMaxBytes bounds the audit stream in bytes (the sum of its entries'
// field and value lengths, which Redis' own overhead adds a little to):
// each audited write trims the oldest entries until the stream holds at
// most AuditMaxLen entries and AuditMaxBytes bytes. The byte count is kept
// in the key P:audit:bytes beside the stream.
const AuditMaxBytes = 64 << 20

func auditSummary(key string, def json.RawMessage) json.RawMessage {
	if len(def) <= AuditMaxDefinition {
		return def
	}
	sum := sha256.Sum256(def)
	b, _ := json.Marshal(map[string]any{"flagKey": key, "truncated": true, "bytes": len(def), "sha256": hex.EncodeToString(sum[:])})
	return b
}

func (k keys) audit() string      { return k.prefix + ":audit" }
func (k keys) auditBytes() string { return k.prefix + ":audit:bytes" }

// AuditStream returns the key of the audit stream ("P:audit").
func (s *Store) AuditStream() string { return s.keys.audit() }

// AuditMaxMembers is the largest allowlist an audit entry lists member by
// member; a larger one is recorded as {"count": N}, so that one write of a
// flag with millions of allowlisted subjects does not copy them all into the
// stream (before and after).
const AuditMaxMembers = 10000

// readBefore reads everything stored for the flags on the transaction's
// connection (one pipelined round trip; an allowlist of more than
// AuditMaxMembers members only as its count) and returns each as the JSON of
// its definition, or nil when the flag is not stored. Stored data that does
// not decode (or reads with WRONGTYPE) is kept as it is, under "stored",
// with the reason under "corrupt": the audit must show what a write replaced
// even when it was broken.
func (s *Store) readBefore(ctx context.Context, tx redis.Cmdable, keys []string, states []writeState) ([]json.RawMessage, error) {
	type envReads struct {
		hash           *redis.MapStringStringCmd
		users, regions setRead
	}
	type flagReads struct {
		hash *redis.MapStringStringCmd
		envs map[string]envReads
	}
	reads := make([]flagReads, len(keys))
	_, _ = tx.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			r := flagReads{hash: p.HGetAll(ctx, s.keys.flag(key)), envs: make(map[string]envReads, len(states[i].envs))}
			for _, e := range states[i].envs {
				r.envs[e] = envReads{
					hash:    p.HGetAll(ctx, s.keys.env(key, e)),
					users:   setRead{either: p.Eval(ctx, readSetScript, []string{s.keys.users(key, e)}, AuditMaxMembers)},
					regions: setRead{either: p.Eval(ctx, readSetScript, []string{s.keys.regions(key, e)}, AuditMaxMembers)},
				}
			}
			reads[i] = r
		}
		return nil
	})
	out := make([]json.RawMessage, len(keys))
	for i, key := range keys {
		var wrong []string
		note := func(err error) error {
			if err == nil || errors.Is(err, redis.Nil) {
				return nil
			}
			if isWrongType(err) {
				wrong = append(wrong, err.Error())
				return nil
			}
			return fmt.Errorf("read flag %q for its audit entry: %w", key, err)
		}
		r := reads[i]
		if err := note(r.hash.Err()); err != nil {
			return nil, err
		}
		raw := rawFlag{key: key, hash: r.hash.Val(), envs: make(map[string]rawEnv, len(r.envs))}
		for name, er := range r.envs {
			for _, err := range []error{er.hash.Err(), er.users.either.Err(), er.regions.either.Err()} {
				if err := note(err); err != nil {
					return nil, err
				}
			}
			e := rawEnv{hash: er.hash.Val()}
			e.users, e.largeUsers = er.users.val()
			e.regions, e.largeRegions = er.regions.val()
			raw.envs[name] = e
		}
		if len(raw.hash) == 0 && len(raw.envs) == 0 && len(wrong) == 0 && !states[i].exists {
			continue
		}
		f, derr := raw.decode()
		if derr == nil && len(wrong) == 0 {
			out[i] = auditJSON(f)
			continue
		}
		corrupt := strings.Join(wrong, "; ")
		if derr != nil {
			corrupt = strings.TrimPrefix(corrupt+"; "+derr.Error(), "; ")
		}
		stored := map[string]any{"flag": raw.hash}
		envData := map[string]any{}
		for name, e := range raw.envs {
			envData[name] = map[string]any{"hash": e.hash, "users": auditList(e.users, e.largeUsers), "regions": auditList(e.regions, e.largeRegions)}
		}
		stored["environments"] = envData
		b, err := json.Marshal(map[string]any{"flagKey": key, "corrupt": corrupt, "stored": stored})
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
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
