package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// Scheduled changes and progressive rollouts in Redis (docs/design.md §14):
//
//	P:flag:K:environment:E   hash field "rollout": the environment's Rollout as JSON
//	P:rollouts               set   flags with a rollout (kept by every write)
//	P:schedule               zset  pending scheduled changes, scored by when
//	                               they may next be claimed (Unix ms)
//	P:schedule:ID            hash  "state" and "data" (the ScheduledChange as JSON)
//
// Every key is under the prefix, so a hash-tagged prefix keeps them in the
// flags' slot and the apply transaction works on Redis Cluster.
//
// A scheduled change is applied exactly once however many replicas try:
// the flag write, the audit entry, the outbox event and the entry's move to
// "applied" are one MULTI/EXEC, under WATCH of the entry, which is applied
// only while its state is "pending". Claiming (ClaimDue) merely keeps
// replicas from all trying at once: it pushes the claimed entries' scores a
// lease ahead, so a replica killed mid-apply leaves them to be claimed
// again when the lease ends, and the WATCH makes a second apply a no-op.

func (k keys) rollouts() string           { return k.prefix + ":rollouts" }
func (k keys) schedule() string           { return k.prefix + ":schedule" }
func (k keys) scheduled(id string) string { return k.prefix + ":schedule:" + id }

// scheduleOf is the zset of one flag's pending changes, scored by due time:
// a change applies only when it is the first of its flag, so one flag's
// changes apply in due order whichever replica claims them.
func (k keys) scheduleOf(flag string) string { return k.prefix + ":schedule-of:" + flag }
func (k keys) requests() string              { return k.prefix + ":requests" }
func (k keys) request(id string) string      { return k.prefix + ":request:" + id }
func (k keys) policies() string              { return k.prefix + ":release:policies" }
func (k keys) expiredNotices() string        { return k.prefix + ":release:expired" }

// MaxPending bounds the pending scheduled changes and the pending change
// requests of one store (each), so that nothing public fills Redis.
const MaxPending = 10000

// finishedTTL is how long a finished (applied, cancelled, failed, decided)
// schedule or request entry is kept for reading back.
const finishedTTL = 30 * 24 * time.Hour

// Errors of scheduled changes and change requests.
var (
	// ErrNotPending: the schedule or request was already applied,
	// cancelled, rejected or failed.
	ErrNotPending = errors.New("no longer pending")
	// ErrTooMany: MaxPending entries are pending already.
	ErrTooMany = errors.New("too many pending entries")
	// ErrUnknown: no schedule or request of that ID.
	ErrUnknown = errors.New("no such entry")
)

// Note sets the note of a write's audit entry and event (how it came
// about: a schedule, an approved request, an emergency off).
func Note(s string) WriteOption { return func(c *writeConfig) { c.note = s } }

func rolloutField(r *evaluator.Rollout) []any {
	if r == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	return []any{"rollout", string(b)}
}

func decodeRollout(flag, field, v string, present bool) (*evaluator.Rollout, error) {
	if !present || v == "" || v == "null" {
		return nil, nil
	}
	r, err := evaluator.ParseRollout([]byte(v))
	if err != nil {
		return nil, decodeError(flag, field, v, err.Error())
	}
	return r, nil
}

func compileStoredRollout(flag, field, v string, present bool) (*evaluator.CompiledRollout, error) {
	r, err := decodeRollout(flag, field, v, present)
	if err != nil || r == nil {
		return nil, err
	}
	c, err := evaluator.CompileRollout(r)
	if err != nil {
		return nil, decodeError(flag, field, v, err.Error())
	}
	return c, nil
}

// RolloutFlags returns the keys of the flags that have a progressive
// rollout in some environment.
func (s *Store) RolloutFlags(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, s.keys.rollouts()).Result()
}

// newID returns prefix, the time and 8 random bytes in hex: unique and
// roughly ordered.
func newID(prefix string, now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Patch is an edit of one flag, applied to the flag as it is when the edit
// happens (not as it was when it was scheduled): nil fields are left alone.
type Patch struct {
	// DefaultEnabled sets the flag's switch.
	DefaultEnabled *bool `json:"defaultEnabled,omitempty"`
	// Environment names the environment the fields below change; required
	// with any of them.
	Environment string `json:"environment,omitempty"`
	// Enabled sets the environment's switch.
	Enabled *bool `json:"enabled,omitempty"`
	// RolloutPercent sets the environment's rolloutPercent.
	RolloutPercent *int `json:"rolloutPercent,omitempty"`
	// Value sets the environment's payload (JSON; "null" removes it).
	Value json.RawMessage `json:"value,omitempty"`
	// Rollout sets the environment's progressive rollout.
	Rollout *evaluator.Rollout `json:"rollout,omitempty"`
	// ClearRollout removes the environment's progressive rollout.
	ClearRollout bool `json:"clearRollout,omitempty"`
}

// Apply returns f with the patch applied, validated.
func (p Patch) Apply(f evaluator.Flag) (evaluator.Flag, error) {
	f = f.Clone()
	if p.DefaultEnabled != nil {
		f.DefaultEnabled = *p.DefaultEnabled
	}
	envEdit := p.Enabled != nil || p.RolloutPercent != nil || p.Value != nil || p.Rollout != nil || p.ClearRollout
	if envEdit {
		env, ok := f.Environments[p.Environment]
		if !ok {
			v := &evaluator.ValidationError{Flag: f.Key, Problems: []evaluator.FieldError{{Field: "environments." + p.Environment, Message: "the flag has no such environment"}}}
			return evaluator.Flag{}, v
		}
		if p.Enabled != nil {
			env.Enabled = *p.Enabled
		}
		if p.RolloutPercent != nil {
			env.RolloutPercent = *p.RolloutPercent
		}
		if p.Value != nil {
			env.Value = append(json.RawMessage(nil), p.Value...)
			if string(env.Value) == "null" {
				env.Value = nil
			}
		}
		if p.ClearRollout {
			env.Rollout = nil
		}
		if p.Rollout != nil {
			env.Rollout = p.Rollout.Clone()
		}
		f.Environments[p.Environment] = env
	}
	if err := evaluator.Validate(f); err != nil {
		return evaluator.Flag{}, err
	}
	return f, nil
}

// Schedule states.
const (
	StatePending   = "pending"
	StateApplied   = "applied"
	StateCancelled = "cancelled"
	StateFailed    = "failed"
	StateRejected  = "rejected"
	StateStale     = "stale"
)

// Operations of a scheduled change or change request.
const (
	OpUpsert = "upsert" // write Definition as the whole flag
	OpDelete = "delete" // delete the flag
	OpPatch  = "patch"  // apply Patch to the flag as it then is
)

// ScheduledChange is one flag edit to be made at a time.
type ScheduledChange struct {
	// ID identifies the change ("s-…"); set by [Store.Schedule].
	ID string `json:"id"`
	// Flag is the flag key.
	Flag string `json:"flag"`
	// At is when the change is due (RFC 3339).
	At string `json:"at"`
	// Op is OpUpsert, OpDelete or OpPatch.
	Op string `json:"op"`
	// Definition is the flag to write (OpUpsert).
	Definition *evaluator.Flag `json:"definition,omitempty"`
	// Patch is the edit to make (OpPatch).
	Patch *Patch `json:"patch,omitempty"`
	// ScheduledBy is who scheduled it; the applied write is audited under
	// this actor, with a note saying it was scheduled and when it applied.
	ScheduledBy string `json:"scheduledBy"`
	// CreatedAt is when it was scheduled.
	CreatedAt string `json:"createdAt"`
	// State is StatePending, then StateApplied, StateCancelled or
	// StateFailed.
	State string `json:"state"`
	// AppliedAt and AppliedVersion say when it applied and the version it
	// wrote; Error why it failed; CancelledBy who cancelled it.
	AppliedAt      string `json:"appliedAt,omitempty"`
	AppliedVersion int64  `json:"appliedVersion,omitempty"`
	Error          string `json:"error,omitempty"`
	CancelledBy    string `json:"cancelledBy,omitempty"`
}

func (c *ScheduledChange) check() error {
	v := &evaluator.ValidationError{Flag: c.Flag}
	if !evaluator.ValidName(c.Flag) {
		v.Problems = append(v.Problems, evaluator.FieldError{Field: "flag", Message: "is not a valid flag key"})
	}
	if _, err := time.Parse(time.RFC3339Nano, c.At); err != nil {
		v.Problems = append(v.Problems, evaluator.FieldError{Field: "at", Message: fmt.Sprintf("must be an RFC 3339 date-time, got %q", c.At)})
	}
	switch c.Op {
	case OpUpsert:
		if c.Definition == nil {
			v.Problems = append(v.Problems, evaluator.FieldError{Field: "definition", Message: "is required with op upsert"})
		} else if c.Definition.Key != c.Flag {
			v.Problems = append(v.Problems, evaluator.FieldError{Field: "definition.flagKey", Message: fmt.Sprintf("is %q, not %q", c.Definition.Key, c.Flag)})
		} else if err := evaluator.Validate(*c.Definition); err != nil {
			return err
		}
	case OpPatch:
		if c.Patch == nil {
			v.Problems = append(v.Problems, evaluator.FieldError{Field: "patch", Message: "is required with op patch"})
		} else if err := c.Patch.check(c.Flag); err != nil {
			return err
		}
	case OpDelete:
	default:
		v.Problems = append(v.Problems, evaluator.FieldError{Field: "op", Message: fmt.Sprintf("must be upsert, delete or patch, got %q", c.Op)})
	}
	if len(v.Problems) > 0 {
		return v
	}
	return nil
}

func (p *Patch) check(flag string) error {
	v := &evaluator.ValidationError{Flag: flag}
	add := func(field, msg string) {
		v.Problems = append(v.Problems, evaluator.FieldError{Field: field, Message: msg})
	}
	envEdit := p.Enabled != nil || p.RolloutPercent != nil || p.Value != nil || p.Rollout != nil || p.ClearRollout
	switch {
	case envEdit && !evaluator.ValidName(p.Environment):
		add("patch.environment", "must name the environment the patch changes")
	case !envEdit && p.DefaultEnabled == nil:
		add("patch", "changes nothing")
	}
	if p.RolloutPercent != nil && (*p.RolloutPercent < 0 || *p.RolloutPercent > 100) {
		add("patch.rolloutPercent", fmt.Sprintf("must be an integer from 0 to 100, got %d", *p.RolloutPercent))
	}
	if p.Value != nil && !json.Valid(p.Value) {
		add("patch.value", "is not valid JSON")
	}
	if p.Rollout != nil {
		if _, err := evaluator.CompileRollout(p.Rollout); err != nil {
			add("patch.rollout", err.Error())
		}
	}
	if len(v.Problems) > 0 {
		return v
	}
	return nil
}

// Schedule stores a pending change (validated first; nothing is stored
// when it is invalid) and returns it with its ID, state and creation time.
// The entry, its place in P:schedule and its outbox event are one
// transaction.
func (s *Store) Schedule(ctx context.Context, c ScheduledChange) (ScheduledChange, error) {
	c.ScheduledBy = strings.TrimSpace(c.ScheduledBy)
	if c.ScheduledBy == "" {
		c.ScheduledBy = "unknown"
	}
	if err := c.check(); err != nil {
		return ScheduledChange{}, err
	}
	at, _ := time.Parse(time.RFC3339Nano, c.At)
	now := s.now()
	c.ID, c.State, c.CreatedAt = newID("s-", now), StatePending, timestamp(now)
	c.AppliedAt, c.AppliedVersion, c.Error, c.CancelledBy = "", 0, "", ""
	n, err := s.rdb.ZCard(ctx, s.keys.schedule()).Result()
	if err != nil {
		return ScheduledChange{}, fmt.Errorf("schedule a change of %q: %w", c.Flag, err)
	}
	if n >= MaxPending {
		return ScheduledChange{}, fmt.Errorf("schedule a change of %q: %d changes are pending: %w", c.Flag, n, ErrTooMany)
	}
	data, _ := json.Marshal(c)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.scheduled(c.ID), "state", c.State, "data", string(data))
		p.ZAdd(ctx, s.keys.schedule(), redis.Z{Score: float64(at.UnixMilli()), Member: c.ID})
		p.ZAdd(ctx, s.keys.scheduleOf(c.Flag), redis.Z{Score: float64(at.UnixMilli()), Member: c.ID})
		s.queueEvent(ctx, p, Event{Type: EventScheduleCreated, Flag: c.Flag, Actor: c.ScheduledBy, Data: data})
		return nil
	})
	if err != nil {
		return ScheduledChange{}, fmt.Errorf("schedule a change of %q: %w", c.Flag, err)
	}
	return c, nil
}

// GetScheduled returns one scheduled change, pending or finished (finished
// ones are kept for a while).
func (s *Store) GetScheduled(ctx context.Context, id string) (ScheduledChange, error) {
	data, err := s.rdb.HGet(ctx, s.keys.scheduled(id), "data").Result()
	if errors.Is(err, redis.Nil) {
		return ScheduledChange{}, fmt.Errorf("scheduled change %q: %w", id, ErrUnknown)
	}
	if err != nil {
		return ScheduledChange{}, fmt.Errorf("scheduled change %q: %w", id, err)
	}
	var c ScheduledChange
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return ScheduledChange{}, decodeError(c.Flag, "schedule:"+id, data, err.Error())
	}
	return c, nil
}

// ListScheduled returns the pending changes (of one flag, or all when flag
// is ""), sorted by due time.
func (s *Store) ListScheduled(ctx context.Context, flag string) ([]ScheduledChange, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.schedule(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list scheduled changes: %w", err)
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, s.keys.scheduled(id), "data")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("list scheduled changes: %w", err)
	}
	out := []ScheduledChange{}
	for _, cmd := range cmds {
		var c ScheduledChange
		if cmd.Err() != nil || json.Unmarshal([]byte(cmd.Val()), &c) != nil {
			continue
		}
		if c.State == StatePending && (flag == "" || c.Flag == flag) {
			out = append(out, c)
		}
	}
	sortByAt(out)
	return out, nil
}

func sortByAt(cs []ScheduledChange) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].At < cs[j-1].At; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// finish moves a pending entry to a final state in one transaction under
// WATCH of the entry: the hash gets its new state and data, leaves the
// pending set, expires later, and the event is queued. It returns
// ErrNotPending when the entry was not pending.
func (s *Store) finish(ctx context.Context, key, set, id string, update func(data string) (string, Event, error)) error {
	return s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		vals, err := tx.HMGet(ctx, key, "state", "data").Result()
		if err != nil {
			return err
		}
		state, _ := vals[0].(string)
		data, _ := vals[1].(string)
		if vals[0] == nil {
			return fmt.Errorf("%s: %w", id, ErrUnknown)
		}
		if state != StatePending {
			return fmt.Errorf("%s is %s: %w", id, state, ErrNotPending)
		}
		newData, ev, err := update(data)
		if err != nil {
			return err
		}
		var newState struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal([]byte(newData), &newState)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "state", newState.State, "data", newData)
			p.PExpire(ctx, key, finishedTTL)
			p.ZRem(ctx, set, id)
			if set == s.keys.schedule() && ev.Flag != "" {
				p.ZRem(ctx, s.keys.scheduleOf(ev.Flag), id)
			}
			s.queueEvent(ctx, p, ev)
			return nil
		})
		return err
	}, key)
}

// CancelScheduled cancels a pending change. It returns ErrNotPending when
// the change was applied (or cancelled) already: cancel and apply race
// under one WATCH, so exactly one of them happens.
func (s *Store) CancelScheduled(ctx context.Context, id, actor string) error {
	err := s.finish(ctx, s.keys.scheduled(id), s.keys.schedule(), id, func(data string) (string, Event, error) {
		var c ScheduledChange
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return "", Event{}, err
		}
		c.State, c.CancelledBy = StateCancelled, actor
		b, _ := json.Marshal(c)
		return string(b), Event{Type: EventScheduleCancelled, Flag: c.Flag, Actor: actor, Data: b}, nil
	})
	if err != nil {
		return fmt.Errorf("cancel scheduled change: %w", err)
	}
	return nil
}

var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return ids`)

// ClaimDue claims up to n changes due at now: it returns their IDs and, in
// the same script, moves their claim score lease ahead, so that other
// replicas pass them by until then. Apply each with [Store.ApplyScheduled];
// a claim that is never applied (its replica died) is claimed again after
// lease.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, n int) ([]string, error) {
	ids, err := claimScript.Run(ctx, s.rdb, []string{s.keys.schedule()}, now.UnixMilli(), now.Add(lease).UnixMilli(), n).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("claim scheduled changes: %w", err)
	}
	return ids, nil
}

// errApplied stops an apply whose entry another replica finished first.
var errApplied = errors.New("already applied")

// ErrNotFirst is returned (wrapped) by ApplyScheduled when an earlier
// change of the same flag is still pending: it must apply first. The
// change is left due, to be claimed again at once.
var ErrNotFirst = errors.New("an earlier change of the flag is pending")

// ApplyScheduled applies one scheduled change now, exactly once: the flag
// write, its audit entry (actor: who scheduled it; note: "scheduled by A at
// T0, applied at T (ID)"), its outbox event and the entry's move to
// "applied" are one transaction, made only while the entry is pending. It
// returns ErrNotPending (wrapped) when the change is not pending any more.
// A change that cannot apply (a patch of a flag deleted since, a delete of
// a missing flag) is marked failed, with the reason, and its error
// returned.
func (s *Store) ApplyScheduled(ctx context.Context, id string) (ScheduledChange, error) {
	c, err := s.GetScheduled(ctx, id)
	if err != nil {
		return ScheduledChange{}, err
	}
	if c.State != StatePending {
		s.rdb.ZRem(ctx, s.keys.schedule(), id)
		return c, fmt.Errorf("apply scheduled change %s: it is %s: %w", id, c.State, ErrNotPending)
	}
	key, perFlag := s.keys.scheduled(id), s.keys.scheduleOf(c.Flag)
	var applied ScheduledChange
	opts := func(extra ...WriteOption) []WriteOption {
		now := s.now()
		note := fmt.Sprintf("scheduled by %s at %s, applied at %s (%s)", c.ScheduledBy, c.CreatedAt, timestamp(now), id)
		return append([]WriteOption{Actor(c.ScheduledBy), Note(note), func(w *writeConfig) {
			w.watch = append(w.watch, key, perFlag)
			w.guard = func(ctx context.Context, tx *redis.Tx) error {
				st, err := tx.HGet(ctx, key, "state").Result()
				if err != nil {
					return err
				}
				if st != StatePending {
					return errApplied
				}
				first, err := tx.ZRange(ctx, perFlag, 0, 0).Result()
				if err != nil {
					return err
				}
				if len(first) == 1 && first[0] != id {
					return ErrNotFirst
				}
				return nil
			}
			w.also = func(ctx context.Context, p redis.Pipeliner, after *evaluator.Flag) {
				applied = c
				applied.State, applied.AppliedAt = StateApplied, timestamp(now)
				if after != nil {
					applied.AppliedVersion = after.Version
				}
				b, _ := json.Marshal(applied)
				p.HSet(ctx, key, "state", StateApplied, "data", string(b))
				p.PExpire(ctx, key, finishedTTL)
				p.ZRem(ctx, s.keys.schedule(), id)
				p.ZRem(ctx, perFlag, id)
			}
		}}, extra...)
	}
	for range 5 {
		switch c.Op {
		case OpUpsert:
			_, err = s.Upsert(ctx, *c.Definition, opts()...)
		case OpDelete:
			err = s.Delete(ctx, c.Flag, opts()...)
		case OpPatch:
			var cur, next evaluator.Flag
			if cur, err = s.Get(ctx, c.Flag); err == nil {
				if next, err = c.Patch.Apply(cur); err == nil {
					_, err = s.Upsert(ctx, next, opts(IfVersion(cur.Version))...)
				}
			}
		}
		if !errors.Is(err, ErrVersionMismatch) {
			break
		}
	}
	switch {
	case err == nil:
		return applied, nil
	case errors.Is(err, errApplied):
		return c, fmt.Errorf("apply scheduled change %s: %w", id, ErrNotPending)
	case errors.Is(err, ErrNotFirst):
		// Back to its due time: claimed again at the next poll, after the
		// earlier change (whose claimer applies it now, or whose lease
		// returns it if that claimer died).
		at, _ := time.Parse(time.RFC3339Nano, c.At)
		s.rdb.ZAddXX(ctx, s.keys.schedule(), redis.Z{Score: float64(at.UnixMilli()), Member: id})
		return c, fmt.Errorf("apply scheduled change %s: %w", id, ErrNotFirst)
	case errors.Is(err, ErrNotFound), errors.Is(err, evaluator.ErrInvalid), errors.Is(err, ErrCorrupt):
		reason := err.Error()
		ferr := s.finish(ctx, key, s.keys.schedule(), id, func(data string) (string, Event, error) {
			var f ScheduledChange
			if err := json.Unmarshal([]byte(data), &f); err != nil {
				return "", Event{}, err
			}
			f.State, f.Error = StateFailed, reason
			b, _ := json.Marshal(f)
			return string(b), Event{Type: EventScheduleFailed, Flag: f.Flag, Actor: f.ScheduledBy, Note: reason, Data: b}, nil
		})
		if ferr != nil && !errors.Is(ferr, ErrNotPending) {
			return c, fmt.Errorf("apply scheduled change %s: %w (and marking it failed: %v)", id, err, ferr)
		}
		return c, fmt.Errorf("apply scheduled change %s: %w", id, err)
	}
	return c, fmt.Errorf("apply scheduled change %s: %w", id, err)
}
