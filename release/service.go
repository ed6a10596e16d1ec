package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// Service is the release workflow over one store: edits that honour each
// environment's approval policy, scheduled changes, change requests and
// rollouts. Safe for concurrent use.
type Service struct {
	st  *store.Store
	now func() time.Time
}

// NewService returns a Service over st. now may be nil (time.Now).
func NewService(st *store.Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: now}
}

// Store returns the service's store.
func (s *Service) Store() *store.Store { return s.st }

// WriteResult is what an edit became: applied at once (Applied set), or a
// pending change request (Request set). Emergency is true for a turn-off
// applied without approval under an EmergencyOff policy.
type WriteResult struct {
	Applied   *evaluator.Flag `json:"applied,omitempty"`
	Deleted   bool            `json:"deleted,omitempty"`
	Request   *store.Request  `json:"request,omitempty"`
	Emergency bool            `json:"emergency,omitempty"`
}

// NoteEmergencyOff is the audit note of a turn-off that skipped approval.
const NoteEmergencyOff = "emergency off"

// Write upserts f as actor unless an environment it changes requires
// approval, in which case it creates a change request instead. A turn-off
// (only switches going from on to off) in environments whose policy has
// EmergencyOff is applied at once and audited as "emergency off". The
// write is conditional on the version Write read, so an edit racing
// another is refused rather than lost.
func (s *Service) Write(ctx context.Context, actor string, f evaluator.Flag) (WriteResult, error) {
	if err := evaluator.Validate(f); err != nil {
		return WriteResult{}, err
	}
	cur, err := s.st.Get(ctx, f.Key)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return WriteResult{}, err
	}
	need, emergencyOK, err := s.needsApproval(ctx, cur, exists, &f)
	if err != nil {
		return WriteResult{}, err
	}
	opts := []store.WriteOption{store.IfVersion(cur.Version), store.Actor(actor)}
	if need && emergencyOK && exists && isTurnOff(cur, f) {
		stored, err := s.st.Upsert(ctx, f, append(opts, store.Note(NoteEmergencyOff))...)
		if err != nil {
			return WriteResult{}, err
		}
		return WriteResult{Applied: &stored, Emergency: true}, nil
	}
	if need {
		r, err := s.st.CreateRequest(ctx, store.Request{Op: store.OpUpsert, Flag: f.Key, After: &f, Author: actor})
		if err != nil {
			return WriteResult{}, err
		}
		return WriteResult{Request: &r}, nil
	}
	stored, err := s.st.Upsert(ctx, f, opts...)
	if err != nil {
		return WriteResult{}, err
	}
	return WriteResult{Applied: &stored}, nil
}

// Delete deletes the flag as actor, or creates a change request when one
// of its environments requires approval.
func (s *Service) Delete(ctx context.Context, actor, key string) (WriteResult, error) {
	cur, err := s.st.Get(ctx, key)
	if err != nil {
		return WriteResult{}, err
	}
	need, _, err := s.needsApproval(ctx, cur, true, nil)
	if err != nil {
		return WriteResult{}, err
	}
	if need {
		r, err := s.st.CreateRequest(ctx, store.Request{Op: store.OpDelete, Flag: key, Author: actor})
		if err != nil {
			return WriteResult{}, err
		}
		return WriteResult{Request: &r}, nil
	}
	if err := s.st.Delete(ctx, key, store.IfVersion(cur.Version), store.Actor(actor)); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{Deleted: true}, nil
}

// needsApproval reports whether the edit from cur to next (nil: a delete)
// touches an environment that requires approval, and whether every such
// environment allows an emergency off. A change of the flag-level fields
// touches every environment of either side.
func (s *Service) needsApproval(ctx context.Context, cur evaluator.Flag, exists bool, next *evaluator.Flag) (need, emergency bool, err error) {
	policies, err := s.st.Policies(ctx)
	if err != nil {
		return false, false, err
	}
	if len(policies) == 0 {
		return false, false, nil
	}
	emergency = true
	for _, env := range touched(cur, exists, next) {
		if p := policies[env]; p.RequireApproval {
			need = true
			emergency = emergency && p.EmergencyOff
		}
	}
	return need, need && emergency, nil
}

func envJSON(f evaluator.Flag, name string) []byte {
	e, ok := f.Environments[name]
	if !ok {
		return nil
	}
	e.UpdatedAt = ""
	b, _ := json.Marshal(e)
	return b
}

func flagLevelJSON(f evaluator.Flag) []byte {
	f = f.Clone()
	f.Environments, f.UpdatedAt, f.Version = nil, "", 0
	b, _ := json.Marshal(f)
	return b
}

// touched lists the environments an edit changes.
func touched(cur evaluator.Flag, exists bool, next *evaluator.Flag) []string {
	names := map[string]bool{}
	for n := range cur.Environments {
		names[n] = true
	}
	if next != nil {
		for n := range next.Environments {
			names[n] = true
		}
	}
	all := next == nil || !exists || !bytes.Equal(flagLevelJSON(cur), flagLevelJSON(*next))
	var out []string
	for n := range names {
		if all || !bytes.Equal(envJSON(cur, n), envJSON(*next, n)) {
			out = append(out, n)
		}
	}
	return out
}

// isTurnOff reports whether next differs from cur only by switches turned
// off (defaultEnabled or an environment's enabled, true → false), and by at
// least one.
func isTurnOff(cur, next evaluator.Flag) bool {
	n := next.Clone()
	changed := false
	if cur.DefaultEnabled && !n.DefaultEnabled {
		n.DefaultEnabled, changed = true, true
	}
	for name, e := range n.Environments {
		c, ok := cur.Environments[name]
		if ok && c.Enabled && !e.Enabled {
			e.Enabled, changed = true, true
			n.Environments[name] = e
		}
	}
	if !changed {
		return false
	}
	if !bytes.Equal(flagLevelJSON(cur), flagLevelJSON(n)) || len(cur.Environments) != len(n.Environments) {
		return false
	}
	for name := range cur.Environments {
		if !bytes.Equal(envJSON(cur, name), envJSON(n, name)) {
			return false
		}
	}
	return true
}

// Schedule stores a scheduled change by actor.
func (s *Service) Schedule(ctx context.Context, actor string, c store.ScheduledChange) (store.ScheduledChange, error) {
	c.ScheduledBy = actor
	return s.st.Schedule(ctx, c)
}

// Approve approves a change request as reviewer (see store.ApproveRequest).
func (s *Service) Approve(ctx context.Context, reviewer, id, digest string) (store.Request, error) {
	return s.st.ApproveRequest(ctx, id, reviewer, digest)
}

// Expired lists the flags past their kill date now.
func (s *Service) Expired(ctx context.Context) ([]Expired, error) {
	return ExpiredFlags(ctx, s.st, s.now())
}

// NeedsRequest reports whether writing next (nil: deleting the flag key)
// must go through a change request under the environments' policies: true
// when it changes a guarded environment and is not an emergency off those
// environments allow. Writers that bypass Service (an admin route) call it
// to refuse such an edit rather than apply it unreviewed.
func (s *Service) NeedsRequest(ctx context.Context, key string, next *evaluator.Flag) (bool, error) {
	if policies, err := s.st.Policies(ctx); err != nil || len(policies) == 0 {
		return false, err // no policy: nothing more to read
	}
	cur, err := s.st.Get(ctx, key)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if next == nil && !exists {
		return false, nil
	}
	need, emergencyOK, err := s.needsApproval(ctx, cur, exists, next)
	if err != nil || !need {
		return false, err
	}
	return !(emergencyOK && exists && next != nil && isTurnOff(cur, *next)), nil
}
