package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tracking stream (docs/design.md §13): P:events, a Redis stream capped
// near a length (XADD MAXLEN ~), one entry per tracking event or exposure,
// with the fields kind, name, subject, value, attrs (a JSON object), flag,
// variant, environment and at (RFC 3339, ms, UTC: when the event happened,
// which is earlier than the entry ID after an outage).
func (k keys) events() string { return k.prefix + ":events" }

// The kinds of tracking-stream entries.
const (
	// EventTrack is an application's tracking event (OpenFeature Track).
	EventTrack = "track"
	// EventExposure is a subject's first evaluation of an experiment flag
	// in a window: which variant it was shown.
	EventExposure = "exposure"
)

// TrackedEvent is one entry of the tracking stream.
type TrackedEvent struct {
	// ID is the stream entry ID; set by ReadEvents, ignored by AppendEvents.
	ID   string
	Kind string
	// Name is the tracking event's name (empty for exposures).
	Name string
	// Subject is the targeting key of the context the event came with.
	Subject string
	Value   float64
	// Attributes are the tracking event's attributes; nil when none.
	Attributes map[string]any
	// Flag, Variant and Environment say what an exposure showed.
	Flag, Variant, Environment string
	At                         time.Time
}

// EventsKey returns the Redis key of the tracking stream.
func (s *Store) EventsKey() string { return s.keys.events() }

// AppendEvents appends evs to the tracking stream in one MULTI/EXEC (all or
// none, so that a caller may retry the batch after an error without
// duplicates), trimming the stream to about maxLen entries.
func (s *Store) AppendEvents(ctx context.Context, evs []TrackedEvent, maxLen int64) error {
	if len(evs) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range evs {
			vals := []any{"kind", e.Kind, "at", e.At.UTC().Format("2006-01-02T15:04:05.000Z")}
			if e.Name != "" {
				vals = append(vals, "name", e.Name)
			}
			if e.Subject != "" {
				vals = append(vals, "subject", e.Subject)
			}
			if e.Value != 0 {
				vals = append(vals, "value", strconv.FormatFloat(e.Value, 'g', -1, 64))
			}
			if len(e.Attributes) > 0 {
				b, err := json.Marshal(e.Attributes)
				if err != nil {
					b, _ = json.Marshal(map[string]string{"error": "attributes not JSON: " + err.Error()})
				}
				vals = append(vals, "attrs", string(b))
			}
			if e.Flag != "" {
				vals = append(vals, "flag", e.Flag, "variant", e.Variant, "environment", e.Environment)
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.events(), MaxLen: maxLen, Approx: true, Values: vals})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: append %d tracking events: %w", len(evs), err)
	}
	return nil
}

// ReadEvents reads up to count entries of the tracking stream after the
// entry ID after ("" or "0" for the start), oldest first. An entry that does
// not decode is returned with what could be read.
func (s *Store) ReadEvents(ctx context.Context, after string, count int64) ([]TrackedEvent, error) {
	start := "-"
	if after != "" && after != "0" {
		start = "(" + after
	}
	msgs, err := s.rdb.XRangeN(ctx, s.keys.events(), start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read tracking events: %w", err)
	}
	out := make([]TrackedEvent, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, decodeEvent(m))
	}
	return out, nil
}

func decodeEvent(m redis.XMessage) TrackedEvent {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := TrackedEvent{ID: m.ID, Kind: str("kind"), Name: str("name"), Subject: str("subject"),
		Flag: str("flag"), Variant: str("variant"), Environment: str("environment")}
	e.Value, _ = strconv.ParseFloat(str("value"), 64)
	e.At, _ = time.Parse(time.RFC3339Nano, str("at"))
	if a := str("attrs"); a != "" {
		_ = json.Unmarshal([]byte(a), &e.Attributes)
	}
	return e
}

// LastEventID returns the ID of the tracking stream's newest entry, or "0"
// when the stream is empty or absent.
func (s *Store) LastEventID(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.keys.events(), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("store: read the tracking stream's last entry: %w", err)
	}
	if len(msgs) == 0 {
		return "0", nil
	}
	return msgs[0].ID, nil
}
