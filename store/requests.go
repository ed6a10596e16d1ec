package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// Change requests (four-eyes) in Redis (docs/design.md §14):
//
//	P:requests            zset  pending requests, scored by creation time
//	P:request:ID          hash  "state" and "data" (the Request as JSON)
//	P:release:policies    hash  environment → Policy as JSON
//
// A request holds the whole definition it proposes and the version it was
// proposed against. Approving writes exactly that definition with
// IfVersion(base): if the flag changed since, nothing is written and the
// request becomes stale. The write, its audit entry, its event and the
// request's move to "applied" are one transaction under WATCH of the
// request, so a request applies at most once.

// Errors of change requests.
var (
	// ErrSelfApproval: the author of a request may not approve it.
	ErrSelfApproval = errors.New("the author of a change request cannot approve it")
	// ErrStale: the flag changed since the request was made; it was
	// marked stale and nothing was written.
	ErrStale = errors.New("the flag changed since the request was made")
	// ErrDigestMismatch: the reviewer approved another version of the
	// request than the one stored.
	ErrDigestMismatch = errors.New("the request is not the one reviewed")
)

// Policy is an environment's release policy.
type Policy struct {
	// RequireApproval makes every edit touching the environment a change
	// request that another person must approve.
	RequireApproval bool `json:"requireApproval"`
	// EmergencyOff exempts edits that only turn things off (the flag's or
	// an environment's switch) from approval; they are applied at once
	// and audited as "emergency off".
	EmergencyOff bool `json:"emergencyOff"`
}

// SetPolicy stores an environment's policy.
func (s *Store) SetPolicy(ctx context.Context, environment string, p Policy) error {
	if !evaluator.ValidName(environment) {
		return fmt.Errorf("policy: environment %q is not a valid name", environment)
	}
	b, _ := json.Marshal(p)
	return s.rdb.HSet(ctx, s.keys.policies(), environment, string(b)).Err()
}

// Policies returns every environment's stored policy.
func (s *Store) Policies(ctx context.Context) (map[string]Policy, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.policies()).Result()
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	out := make(map[string]Policy, len(m))
	for env, v := range m {
		var p Policy
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			return nil, decodeError("", "release:policies."+env, v, err.Error())
		}
		out[env] = p
	}
	return out, nil
}

// Request is a proposed edit awaiting another person's approval.
type Request struct {
	// ID identifies the request ("r-…"); set by [Store.CreateRequest].
	ID string `json:"id"`
	// Flag is the flag key.
	Flag string `json:"flag"`
	// Op is OpUpsert or OpDelete.
	Op string `json:"op"`
	// After is the proposed definition (OpUpsert); nil for OpDelete.
	After *evaluator.Flag `json:"after,omitempty"`
	// Before is the flag as it was when the request was made (its JSON,
	// null when it did not exist): with After, the diff under review.
	Before json.RawMessage `json:"before"`
	// BaseVersion is the flag's version then; approval applies only while
	// the flag is still at it.
	BaseVersion int64 `json:"baseVersion"`
	// Digest identifies exactly what is under review (op, flag, base
	// version and proposed definition); an approval may name it.
	Digest string `json:"digest"`
	// Author is who proposed it; Comment their words.
	Author  string `json:"author"`
	Comment string `json:"comment,omitempty"`
	// CreatedAt is when it was proposed.
	CreatedAt string `json:"createdAt"`
	// State is StatePending, then StateApplied, StateRejected, StateStale
	// or StateCancelled.
	State string `json:"state"`
	// Reviewer, ReviewComment and DecidedAt record the decision;
	// AppliedVersion the version an approval wrote.
	Reviewer       string `json:"reviewer,omitempty"`
	ReviewComment  string `json:"reviewComment,omitempty"`
	DecidedAt      string `json:"decidedAt,omitempty"`
	AppliedVersion int64  `json:"appliedVersion,omitempty"`
}

func requestDigest(r *Request) string {
	b, _ := json.Marshal(struct {
		Op          string          `json:"op"`
		Flag        string          `json:"flag"`
		BaseVersion int64           `json:"baseVersion"`
		After       *evaluator.Flag `json:"after"`
	}{r.Op, r.Flag, r.BaseVersion, r.After})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// queueAudit queues an audit entry of a release event (op such as
// "request.created"): before and after are JSON (nil for null).
func (s *Store) queueAudit(ctx context.Context, p redis.Pipeliner, actor, op, flag string, before, after json.RawMessage, note string) {
	if before == nil {
		before = json.RawMessage("null")
	}
	if after == nil {
		after = json.RawMessage("null")
	}
	values := []any{"actor", actor, "time", timestamp(s.now()), "op", op, "flag", flag,
		"before", string(before), "after", string(after)}
	if note != "" {
		values = append(values, "note", note)
	}
	p.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.audit(), MaxLen: AuditMaxLen, Approx: true, Values: values})
}

// CreateRequest stores a pending request for r.Op on r.Flag by r.Author
// (r.After validated first; nothing is stored when it is invalid),
// recording the flag as it is now and its version. The request, its audit
// entry (op "request.created", before → after) and its event are one
// transaction.
func (s *Store) CreateRequest(ctx context.Context, r Request) (Request, error) {
	r.Author = strings.TrimSpace(r.Author)
	if r.Author == "" {
		r.Author = "unknown"
	}
	switch r.Op {
	case OpUpsert:
		if r.After == nil {
			return Request{}, fmt.Errorf("change request of %q: op upsert needs the proposed definition", r.Flag)
		}
		r.After = ptr(r.After.Clone())
		if r.Flag == "" {
			r.Flag = r.After.Key
		}
		if r.After.Key != r.Flag {
			return Request{}, fmt.Errorf("change request of %q: the definition is of %q", r.Flag, r.After.Key)
		}
		if err := evaluator.Validate(*r.After); err != nil {
			return Request{}, err
		}
		r.After.Version, r.After.UpdatedAt = 0, ""
	case OpDelete:
		r.After = nil
	default:
		return Request{}, fmt.Errorf("change request of %q: op must be upsert or delete, got %q", r.Flag, r.Op)
	}
	if !evaluator.ValidName(r.Flag) {
		return Request{}, fmt.Errorf("change request: %q is not a valid flag key", r.Flag)
	}
	n, err := s.rdb.ZCard(ctx, s.keys.requests()).Result()
	if err != nil {
		return Request{}, fmt.Errorf("change request of %q: %w", r.Flag, err)
	}
	if n >= MaxPending {
		return Request{}, fmt.Errorf("change request of %q: %d requests are pending: %w", r.Flag, n, ErrTooMany)
	}
	cur, err := s.Get(ctx, r.Flag)
	switch {
	case errors.Is(err, ErrNotFound):
		if r.Op == OpDelete {
			return Request{}, err
		}
		r.Before, r.BaseVersion = json.RawMessage("null"), 0
	case err != nil:
		return Request{}, err
	default:
		r.Before, r.BaseVersion = auditJSON(cur), cur.Version
	}
	now := s.now()
	r.ID, r.State, r.CreatedAt = newID("r-", now), StatePending, timestamp(now)
	r.Reviewer, r.ReviewComment, r.DecidedAt, r.AppliedVersion = "", "", "", 0
	r.Digest = requestDigest(&r)
	data, _ := json.Marshal(r)
	var after json.RawMessage
	if r.After != nil {
		after = auditJSON(*r.After)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.request(r.ID), "state", r.State, "data", string(data))
		p.ZAdd(ctx, s.keys.requests(), redis.Z{Score: float64(now.UnixMilli()), Member: r.ID})
		s.queueAudit(ctx, p, r.Author, "request.created", r.Flag, r.Before, after, "request "+r.ID+" ("+r.Op+")")
		s.queueEvent(ctx, p, Event{Type: EventRequestCreated, Flag: r.Flag, Actor: r.Author, Data: data})
		return nil
	})
	if err != nil {
		return Request{}, fmt.Errorf("change request of %q: %w", r.Flag, err)
	}
	return r, nil
}

func ptr[T any](v T) *T { return &v }

// GetRequest returns one request, pending or decided (decided ones are
// kept for a while).
func (s *Store) GetRequest(ctx context.Context, id string) (Request, error) {
	data, err := s.rdb.HGet(ctx, s.keys.request(id), "data").Result()
	if errors.Is(err, redis.Nil) {
		return Request{}, fmt.Errorf("change request %q: %w", id, ErrUnknown)
	}
	if err != nil {
		return Request{}, fmt.Errorf("change request %q: %w", id, err)
	}
	var r Request
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return Request{}, decodeError("", "request:"+id, data, err.Error())
	}
	return r, nil
}

// ListRequests returns the pending requests (of one flag, or all when flag
// is ""), oldest first.
func (s *Store) ListRequests(ctx context.Context, flag string) ([]Request, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.requests(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list change requests: %w", err)
	}
	out := []Request{}
	for _, id := range ids {
		r, err := s.GetRequest(ctx, id)
		if err != nil || r.State != StatePending || (flag != "" && r.Flag != flag) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// ApproveRequest applies a pending request on behalf of reviewer, who must
// not be its author. digest, when not empty, must be the request's Digest
// (what the reviewer saw). The flag is written exactly as proposed, only
// while it is still at the request's base version; otherwise the request
// is marked stale and ErrStale returned. The applied write is audited under
// the reviewer, noted "request ID by A, approved by B".
func (s *Store) ApproveRequest(ctx context.Context, id, reviewer, digest string) (Request, error) {
	reviewer = strings.TrimSpace(reviewer)
	r, err := s.GetRequest(ctx, id)
	if err != nil {
		return Request{}, err
	}
	switch {
	case r.State != StatePending:
		return r, fmt.Errorf("approve %s: it is %s: %w", id, r.State, ErrNotPending)
	case reviewer == "" || strings.EqualFold(reviewer, r.Author):
		return r, fmt.Errorf("approve %s by %q: %w", id, reviewer, ErrSelfApproval)
	case digest != "" && digest != r.Digest:
		return r, fmt.Errorf("approve %s: digest %s, stored %s: %w", id, digest, r.Digest, ErrDigestMismatch)
	}
	key := s.keys.request(id)
	now := s.now()
	var applied Request
	opts := []WriteOption{IfVersion(r.BaseVersion), Actor(reviewer),
		Note(fmt.Sprintf("request %s by %s, approved by %s", id, r.Author, reviewer)),
		func(w *writeConfig) {
			w.watch = append(w.watch, key)
			w.guard = func(ctx context.Context, tx *redis.Tx) error {
				st, err := tx.HGet(ctx, key, "state").Result()
				if err != nil {
					return err
				}
				if st != StatePending {
					return fmt.Errorf("approve %s: it is %s: %w", id, st, ErrNotPending)
				}
				return nil
			}
			w.also = func(ctx context.Context, p redis.Pipeliner, after *evaluator.Flag) {
				applied = r
				applied.State, applied.Reviewer, applied.DecidedAt = StateApplied, reviewer, timestamp(now)
				if after != nil {
					applied.AppliedVersion = after.Version
				}
				b, _ := json.Marshal(applied)
				p.HSet(ctx, key, "state", StateApplied, "data", string(b))
				p.PExpire(ctx, key, finishedTTL)
				p.ZRem(ctx, s.keys.requests(), id)
			}
		}}
	if r.Op == OpDelete {
		err = s.Delete(ctx, r.Flag, opts...)
	} else {
		_, err = s.Upsert(ctx, *r.After, opts...)
	}
	if errors.Is(err, ErrVersionMismatch) || (r.Op == OpDelete && errors.Is(err, ErrNotFound)) {
		cause := err.Error()
		ferr := s.decide(ctx, id, StateStale, reviewer, cause, EventRequestStale)
		if ferr != nil && !errors.Is(ferr, ErrNotPending) {
			return r, fmt.Errorf("approve %s: %w (and marking it stale: %v)", id, err, ferr)
		}
		return r, fmt.Errorf("approve %s: %s: %w", id, cause, ErrStale)
	}
	if err != nil {
		return r, err
	}
	return applied, nil
}

// RejectRequest rejects a pending request with a comment; reviewer must
// not be its author (an author withdraws with [Store.CancelRequest]).
func (s *Store) RejectRequest(ctx context.Context, id, reviewer, comment string) error {
	r, err := s.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(reviewer) == "" || strings.EqualFold(strings.TrimSpace(reviewer), r.Author) {
		return fmt.Errorf("reject %s by %q: %w", id, reviewer, ErrSelfApproval)
	}
	return s.decide(ctx, id, StateRejected, reviewer, comment, EventRequestRejected)
}

// CancelRequest withdraws a pending request (its author, or anyone with
// the right to; the server decides).
func (s *Store) CancelRequest(ctx context.Context, id, actor string) error {
	return s.decide(ctx, id, StateCancelled, actor, "", EventRequestCancelled)
}

// decide moves a pending request to state, audited and announced.
func (s *Store) decide(ctx context.Context, id, state, actor, comment, event string) error {
	key := s.keys.request(id)
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		vals, err := tx.HMGet(ctx, key, "state", "data").Result()
		if err != nil {
			return err
		}
		if vals[0] == nil {
			return fmt.Errorf("%s: %w", id, ErrUnknown)
		}
		if st, _ := vals[0].(string); st != StatePending {
			return fmt.Errorf("%s is %s: %w", id, st, ErrNotPending)
		}
		data, _ := vals[1].(string)
		var r Request
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return decodeError(r.Flag, "request:"+id, data, err.Error())
		}
		r.State, r.Reviewer, r.ReviewComment, r.DecidedAt = state, actor, comment, timestamp(s.now())
		b, _ := json.Marshal(r)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "state", state, "data", string(b))
			p.PExpire(ctx, key, finishedTTL)
			p.ZRem(ctx, s.keys.requests(), id)
			s.queueAudit(ctx, p, actor, "request."+state, r.Flag, nil, nil, strings.TrimSpace("request "+id+" by "+r.Author+" "+state+": "+comment))
			s.queueEvent(ctx, p, Event{Type: event, Flag: r.Flag, Actor: actor, Note: comment, Data: b})
			return nil
		})
		return err
	}, key)
	if err != nil {
		return fmt.Errorf("%s request: %w", state, err)
	}
	return nil
}
