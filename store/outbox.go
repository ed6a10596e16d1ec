package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// The webhook outbox (docs/design.md §14): with [WithOutbox], every write of
// this package appends an [Event] to the stream P:outbox inside the write's
// own MULTI/EXEC, so that an event exists exactly when its change happened
// and no write ever waits for a webhook. A dispatcher (package release)
// drains the stream, one cursor per webhook (P:webhook:NAME:cursor), the
// stream ID being the event's id.

// OutboxMaxLen is the approximate number of events P:outbox keeps (XADD …
// MAXLEN ~): a webhook down for longer than it takes to write that many
// events loses the oldest.
const OutboxMaxLen = 100000

// Event types.
const (
	EventFlagUpdated       = "flag.updated"
	EventFlagDeleted       = "flag.deleted"
	EventFlagExpired       = "flag.expired"
	EventScheduleCreated   = "schedule.created"
	EventScheduleCancelled = "schedule.cancelled"
	EventScheduleFailed    = "schedule.failed"
	EventRequestCreated    = "request.created"
	EventRequestRejected   = "request.rejected"
	EventRequestStale      = "request.stale"
	EventRequestCancelled  = "request.cancelled"
)

// WithOutbox makes every write also append an [Event] to P:outbox in its
// transaction. Default: off (a store that nobody dispatches from writes no
// events). `redisflags serve` turns it on.
func WithOutbox() Option { return func(c *config) { c.outbox = true } }

// Event is one outbox entry: what happened, to which flag, by whom.
type Event struct {
	// ID is the stream entry ID: unique, increasing; webhook receivers
	// use it to drop a repeated delivery.
	ID string `json:"id"`
	// Type is one of the Event… constants.
	Type string `json:"type"`
	// Flag is the flag key concerned.
	Flag string `json:"flag"`
	// Version is the flag's version after the write, 0 when none.
	Version int64 `json:"version,omitempty"`
	// Actor is who made the change.
	Actor string `json:"actor"`
	// Time is when it was made (RFC 3339, UTC, milliseconds).
	Time string `json:"time"`
	// Note is the write's note (see [Note]), if any.
	Note string `json:"note,omitempty"`
	// Data is the event's detail as JSON: the flag as stored for
	// flag.updated, the schedule or request for theirs; may be null.
	Data json.RawMessage `json:"data,omitempty"`
}

func (k keys) outbox() string                { return k.prefix + ":outbox" }
func (k keys) webhookCursor(n string) string { return k.prefix + ":webhook:" + n + ":cursor" }
func (k keys) lease(n string) string         { return k.prefix + ":lease:" + n }

// OutboxStream returns the key of the outbox stream ("P:outbox").
func (s *Store) OutboxStream() string { return s.keys.outbox() }

// queueEvent queues ev (ID assigned by Redis, time now) when the outbox is
// on.
func (s *Store) queueEvent(ctx context.Context, p redis.Pipeliner, ev Event) {
	s.queueEventTo(pipeWriter{ctx, p}, ev)
}

// queueFlagEventTo queues the event of a flag write, when the outbox is on,
// into a writer (a pipeline or the bulk script's command list).
func (s *Store) queueFlagEventTo(p writer, op, key, actor, note string, after *evaluator.Flag) {
	if !s.outbox {
		return
	}
	ev := Event{Type: EventFlagDeleted, Flag: key, Actor: actor, Note: note}
	if after != nil {
		ev.Type, ev.Version, ev.Data = EventFlagUpdated, after.Version, auditJSON(*after)
	}
	s.queueEventTo(p, ev)
}

// queueEventTo is queueEvent into a writer.
func (s *Store) queueEventTo(p writer, ev Event) {
	if !s.outbox {
		return
	}
	if ev.Time == "" {
		ev.Time = timestamp(s.now())
	}
	data := "null"
	if len(ev.Data) > 0 {
		data = string(ev.Data)
	}
	p.xadd(s.keys.outbox(), OutboxMaxLen,
		"type", ev.Type, "flag", ev.Flag, "version", strconv.FormatInt(ev.Version, 10),
		"actor", ev.Actor, "time", ev.Time, "note", ev.Note, "data", data)
}

// ReadOutbox returns up to n events after the event ID after ("" or "0"
// for the oldest kept), oldest first.
func (s *Store) ReadOutbox(ctx context.Context, after string, n int64) ([]Event, error) {
	start := "-"
	if after != "" && after != "0" {
		start = "(" + after
	}
	msgs, err := s.rdb.XRangeN(ctx, s.keys.outbox(), start, "+", n).Result()
	if err != nil {
		return nil, fmt.Errorf("read outbox %s: %w", s.keys.outbox(), err)
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		v, _ := strconv.ParseInt(str("version"), 10, 64)
		data := json.RawMessage(str("data"))
		if !json.Valid(data) {
			data = json.RawMessage("null")
		}
		out = append(out, Event{ID: m.ID, Type: str("type"), Flag: str("flag"), Version: v,
			Actor: str("actor"), Time: str("time"), Note: str("note"), Data: data})
	}
	return out, nil
}

// OutboxCursor returns the ID of the last event delivered to the named
// webhook, "" when none was.
func (s *Store) OutboxCursor(ctx context.Context, webhook string) (string, error) {
	v, err := s.rdb.Get(ctx, s.keys.webhookCursor(webhook)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// ErrLeaseLost is returned when a lease is held by someone else.
var ErrLeaseLost = errors.New("lease held by another owner")

var advanceScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`)

// AdvanceOutboxCursor records id as delivered to the named webhook, only
// while owner holds the webhook's lease (see [Store.Lease]), so that a
// dispatcher that lost its lease cannot move the cursor under the new one.
func (s *Store) AdvanceOutboxCursor(ctx context.Context, webhook, owner, id string) error {
	n, err := advanceScript.Run(ctx, s.rdb, []string{s.keys.lease("webhook:" + webhook), s.keys.webhookCursor(webhook)}, owner, id).Int()
	if err != nil {
		return fmt.Errorf("advance cursor of webhook %q: %w", webhook, err)
	}
	if n == 0 {
		return fmt.Errorf("advance cursor of webhook %q: %w", webhook, ErrLeaseLost)
	}
	return nil
}

var leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// Lease takes or renews the named lease (P:lease:NAME) for owner for ttl,
// and reports whether owner holds it. Leases elect one worker among
// replicas (one webhook dispatcher per webhook); a holder that dies loses
// it after ttl.
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	n, err := leaseScript.Run(ctx, s.rdb, []string{s.keys.lease(name)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %q: %w", name, err)
	}
	return n == 1, nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// ReleaseLease gives the named lease up if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	return releaseScript.Run(ctx, s.rdb, []string{s.keys.lease(name)}, owner).Err()
}

var expiredScript = redis.NewScript(`
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == '1' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', ARGV[4], 'flag', ARGV[5],
    'version', '0', 'actor', 'redisflags', 'time', ARGV[6], 'note', ARGV[7], 'data', 'null')
end
return 1`)

// NoticeExpired records, once per flag and kill date across every replica,
// that the flag is past its kill date, and queues a flag.expired event. It
// reports whether this call was the first.
func (s *Store) NoticeExpired(ctx context.Context, flag, expiresAt string) (bool, error) {
	on := "0"
	if s.outbox {
		on = "1"
	}
	n, err := expiredScript.Run(ctx, s.rdb, []string{s.keys.expiredNotices(), s.keys.outbox()},
		flag+"@"+expiresAt, on, OutboxMaxLen, EventFlagExpired, flag, timestamp(s.now()), "past its kill date "+expiresAt).Int()
	if err != nil {
		return false, fmt.Errorf("notice kill date of %q: %w", flag, err)
	}
	return n == 1, nil
}
