package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// SchedulerActor is the actor of the writes the scheduler makes on its own
// (rolloutPercent following a rollout).
const SchedulerActor = "redisflags-scheduler"

// Scheduler applies due scheduled changes, keeps each tutorial flag's
// rolloutPercent at its progressive rollout's current percent, and notices
// flags past their kill date. Run one per replica: claims and the store's
// WATCHed transactions make every change apply exactly once. Safe for
// concurrent use; Close stops its goroutine.
type Scheduler struct {
	st  *store.Store
	cfg schedConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

type schedConfig struct {
	now          func() time.Time
	interval     time.Duration
	lease        time.Duration
	batch        int
	syncInterval time.Duration
	killInterval time.Duration
	logger       *slog.Logger
	id           string
}

// SchedulerOption configures a Scheduler.
type SchedulerOption func(*schedConfig)

// WithSchedulerClock sets the scheduler's clock. Default: time.Now.
func WithSchedulerClock(now func() time.Time) SchedulerOption {
	return func(c *schedConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithPollInterval sets how often the scheduler looks for due changes.
// Default: 250 ms (a change applies within about that of its time).
func WithPollInterval(d time.Duration) SchedulerOption {
	return func(c *schedConfig) {
		if d > 0 {
			c.interval = d
		}
	}
}

// WithClaimLease sets how long a claimed change is left to its claimer
// before another replica may claim it. Default: 10 s.
func WithClaimLease(d time.Duration) SchedulerOption {
	return func(c *schedConfig) {
		if d > 0 {
			c.lease = d
		}
	}
}

// WithSchedulerLogger sets the logger. Default: discard.
func WithSchedulerLogger(l *slog.Logger) SchedulerOption {
	return func(c *schedConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// NewScheduler returns a stopped Scheduler over st.
func NewScheduler(st *store.Store, opts ...SchedulerOption) *Scheduler {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := schedConfig{now: time.Now, interval: 250 * time.Millisecond, lease: 10 * time.Second, batch: 64,
		syncInterval: time.Second, killInterval: time.Minute, logger: slog.New(slog.DiscardHandler), id: hex.EncodeToString(b[:])}
	for _, o := range opts {
		o(&c)
	}
	return &Scheduler{st: st, cfg: c}
}

// Start starts the scheduler's goroutine; a second Start does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx)
}

// Close stops the scheduler and waits for it; it may be called twice.
func (s *Scheduler) Close() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *Scheduler) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.interval)
	defer t.Stop()
	var lastSync, lastKill time.Time
	for {
		now := s.cfg.now()
		if _, err := s.ApplyDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.logger.Warn("redisflags scheduler: applying due changes", "err", err)
		}
		if now.Sub(lastSync) >= s.cfg.syncInterval || now.Before(lastSync) {
			lastSync = now
			if err := s.SyncRollouts(ctx); err != nil && ctx.Err() == nil {
				s.cfg.logger.Warn("redisflags scheduler: syncing rollouts", "err", err)
			}
		}
		if now.Sub(lastKill) >= s.cfg.killInterval || now.Before(lastKill) {
			lastKill = now
			if _, err := s.NoticeKillDates(ctx); err != nil && ctx.Err() == nil {
				s.cfg.logger.Warn("redisflags scheduler: kill dates", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ApplyDue claims the changes due now and applies each; it returns how
// many this call applied. Changes another replica applied first are
// skipped, and a change that cannot apply is marked failed.
func (s *Scheduler) ApplyDue(ctx context.Context) (int, error) {
	applied := 0
	for {
		ids, err := s.st.ClaimDue(ctx, s.cfg.now(), s.cfg.lease, s.cfg.batch)
		if err != nil {
			return applied, err
		}
		var errs []error
		waiting := false
		for _, id := range ids {
			c, err := s.st.ApplyScheduled(ctx, id)
			switch {
			case err == nil:
				applied++
				s.cfg.logger.Info("redisflags scheduler: applied", "id", id, "flag", c.Flag, "op", c.Op, "scheduledBy", c.ScheduledBy, "replica", s.cfg.id)
			case errors.Is(err, store.ErrNotPending):
			case errors.Is(err, store.ErrNotFirst):
				waiting = true // an earlier change of its flag goes first; next poll
			case errors.Is(err, evaluator.ErrInvalid), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
				s.cfg.logger.Warn("redisflags scheduler: change failed", "id", id, "err", err)
			default:
				errs = append(errs, err)
			}
		}
		if len(ids) < s.cfg.batch || len(errs) > 0 || waiting || ctx.Err() != nil {
			return applied, errors.Join(errs...)
		}
	}
}

// SyncRollouts writes, for every tutorial flag with a progressive
// rollout, the rollout's current percent into rolloutPercent where it
// differs, so that the tutorial's own application (which reads only
// rolloutPercent) serves what the provider serves, give or take one poll.
// Each write is conditional on the version read, so replicas racing write
// once.
func (s *Scheduler) SyncRollouts(ctx context.Context) error {
	keys, err := s.st.RolloutFlags(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.now()
	var errs []error
	for _, key := range keys {
		f, err := s.st.Get(ctx, key)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		if f.IsVariantFlag() {
			continue
		}
		changed := false
		for name, env := range f.Environments {
			if env.Rollout == nil {
				continue
			}
			c, err := evaluator.CompileRollout(env.Rollout)
			if err != nil {
				continue
			}
			if p := c.PercentAt(now); p != env.RolloutPercent {
				env.RolloutPercent, changed = p, true
				f.Environments[name] = env
			}
		}
		if !changed {
			continue
		}
		_, err = s.st.Upsert(ctx, f, store.IfVersion(f.Version), store.Actor(SchedulerActor), store.Note("rolloutPercent follows the progressive rollout"))
		if err != nil && !errors.Is(err, store.ErrVersionMismatch) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Expired is a flag past its kill date.
type Expired struct {
	Flag      string `json:"flag"`
	ExpiresAt string `json:"expiresAt"`
}

// ExpiredFlags lists the flags whose kill date is before now.
func ExpiredFlags(ctx context.Context, st *store.Store, now time.Time) ([]Expired, error) {
	flags, err := st.List(ctx)
	if err != nil && len(flags) == 0 {
		return nil, err
	}
	out := []Expired{}
	for _, f := range flags {
		if f.ExpiresAt == "" {
			continue
		}
		if t, err := evaluator.ParseExpiry(f.ExpiresAt); err == nil && now.After(t) {
			out = append(out, Expired{Flag: f.Key, ExpiresAt: f.ExpiresAt})
		}
	}
	return out, nil
}

// NoticeKillDates queues one flag.expired event per flag and kill date,
// across replicas, for flags past their kill date; it returns how many this
// call queued.
func (s *Scheduler) NoticeKillDates(ctx context.Context) (int, error) {
	expired, err := ExpiredFlags(ctx, s.st, s.cfg.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range expired {
		first, err := s.st.NoticeExpired(ctx, e.Flag, e.ExpiresAt)
		if err != nil {
			return n, err
		}
		if first {
			n++
		}
	}
	return n, nil
}
