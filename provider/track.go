package provider

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/store"
)

// Tracking (docs/design.md §13): Track puts the event on a bounded queue
// and returns; a goroutine the provider owns appends batches of them to the
// Redis stream P:events (store.AppendEvents), each batch in one MULTI/EXEC.
// The sender is not parked on the queue: it wakes every flush interval
// (100 ms), or at once when a whole batch waits, so that Track costs the
// caller a channel send and never the wake-up of another goroutine (which
// made a queued event cost ~1 µs, most of it the scheduler).
// While Redis is down the sender keeps its batch and retries with backoff,
// so the events survive an outage up to the queue's bound plus one batch;
// beyond that Track drops events and counts them (TrackStats). Track never
// blocks and never touches the network.

var _ of.Tracker = (*Provider)(nil)

type trackConfig struct {
	queue  int           // events held in memory at most (plus one batch)
	batch  int           // events per append
	flush  time.Duration // how long an event waits at most before its append starts
	maxLen int64         // approximate stream length
	retry  time.Duration // first retry delay after a failed append
}

func defaultTrackConfig() trackConfig {
	return trackConfig{queue: 10_000, batch: 256, flush: 100 * time.Millisecond, maxLen: 1_000_000, retry: 100 * time.Millisecond}
}

// WithTracking sets the tracking queue's bound (events held in memory while
// Redis is slow or down, default 10,000), the events appended per batch
// (default 256) and the approximate length the stream is trimmed to
// (default 1,000,000). Values of 0 or less keep the default.
func WithTracking(queue, batch int, streamMaxLen int64) Option {
	return func(c *config) {
		if queue > 0 {
			c.track.queue = queue
		}
		if batch > 0 {
			c.track.batch = batch
		}
		if streamMaxLen > 0 {
			c.track.maxLen = streamMaxLen
		}
	}
}

// WithUsageCounts turns on evaluation counts: every resolution of a stored
// flag is counted in memory per environment, variant and reason, without
// allocating, and the counts are added to Redis every interval (default 5s
// when interval is 0 or less) and on Shutdown, in one transaction, under
// per-day keys that expire after 40 days. `redisflags usage` and lint's
// stale-flag rule read them. Default: off.
func WithUsageCounts(interval time.Duration) Option {
	return func(c *config) {
		if interval <= 0 {
			interval = 5 * time.Second
		}
		c.usageEvery = interval
	}
}

// EventQueue is the bounded queue of tracking events and the sender that
// appends them to the stream P:events. Every Provider has one (Track feeds
// it); NewEventQueue makes one without a provider, for a process that only
// forwards events (the HTTP tracking route of `redisflags serve`). Safe for
// concurrent use.
type EventQueue struct {
	store  *store.Store
	cfg    trackConfig
	logger *slog.Logger
	// ch is the queue, a channel of values (no allocation per event), made
	// by the first event: its whole bound (10,000 events ≈ 1.5 MB) is
	// allocated at once, which a provider that never tracks must not pay.
	ch atomic.Pointer[chan store.TrackedEvent]
	// base is a recent reading of the clock, wall and monotonic, taken
	// again on every flush tick: now adds the monotonic time since, which
	// costs one clock read where time.Now costs two (~60 ns in our VMs).
	base atomic.Pointer[time.Time]
	// kick wakes the sender before its flush tick when a batch is full.
	kick    chan struct{}
	dropped atomic.Int64
	sent    atomic.Int64
	failed  atomic.Int64
	// pending is the batch the sender holds; only the sender touches it
	// (and Stop, after the sender has returned). held is its length, for
	// Stats.
	pending []store.TrackedEvent
	held    atomic.Int64

	mu     sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{}
}

func newEventQueue(st *store.Store, cfg trackConfig, logger *slog.Logger) *EventQueue {
	return &EventQueue{store: st, cfg: cfg, logger: logger, kick: make(chan struct{}, 1)}
}

// now is the time of an event: base plus the monotonic time since, so
// within one flush interval of base's wall-clock reading.
func (q *EventQueue) now() time.Time {
	b := q.base.Load()
	if b == nil {
		return time.Now()
	}
	return b.Add(time.Since(*b))
}

// rebase takes the clock's reading again.
func (q *EventQueue) rebase() {
	t := time.Now()
	q.base.Store(&t)
}

// queue returns the queue, making it on first use.
func (q *EventQueue) queue() chan store.TrackedEvent {
	if c := q.ch.Load(); c != nil {
		return *c
	}
	c := make(chan store.TrackedEvent, q.cfg.queue)
	if q.ch.CompareAndSwap(nil, &c) {
		return c
	}
	return *q.ch.Load()
}

// queued returns how many events wait in the queue.
func (q *EventQueue) queued() int {
	if c := q.ch.Load(); c != nil {
		return len(*c)
	}
	return 0
}

// NewEventQueue returns a queue over client's stream under the provider
// options' key prefix; of opts, WithKeyPrefix, WithTracking and WithLogger
// apply. Start it to send; Stop it to flush and stop.
func NewEventQueue(client redis.UniversalClient, opts ...Option) *EventQueue {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return newEventQueue(store.New(client, store.WithKeyPrefix(cfg.prefix)), cfg.track, cfg.logger)
}

// TrackStats are the tracking queue's counters since it was created.
type TrackStats struct {
	// Queued is how many events wait in memory now (in the queue or in the
	// batch being appended).
	Queued int
	// Sent is how many were appended to the stream.
	Sent int64
	// Dropped is how many Track refused because the queue was full.
	Dropped int64
	// FailedAppends is how many batch appends Redis refused (each was
	// retried).
	FailedAppends int64
}

// Stats returns the queue's counters.
func (q *EventQueue) Stats() TrackStats {
	return TrackStats{Queued: q.queued() + int(q.held.Load()), Sent: q.sent.Load(), Dropped: q.dropped.Load(), FailedAppends: q.failed.Load()}
}

// TrackStats returns the tracking counters. Safe for concurrent use.
func (p *Provider) TrackStats() TrackStats { return p.tracker.Stats() }

// Track queues a tracking event for the stream P:events: its name, the
// details' value and attributes (copied), and the context's targeting key
// (or its "key" attribute) as the subject. It never blocks: when the queue
// is full the event is dropped and counted (see [Provider.TrackStats]).
// Events are sent once the provider is initialised.
func (p *Provider) Track(_ context.Context, name string, ec of.EvaluationContext, details of.TrackingEventDetails) {
	q := p.tracker
	if q.queued() == q.cfg.queue {
		// Full (Redis slow or down): drop before copying anything.
		q.dropped.Add(1)
		return
	}
	subject := ec.TargetingKey()
	if subject == "" {
		subject, _ = ec.Attribute("key").(string)
	}
	q.enqueue(store.TrackedEvent{Kind: store.EventTrack, Name: name, Subject: subject,
		Value: details.Value(), Attributes: details.Attributes(), At: q.now()})
}

// Enqueue queues e without blocking and reports whether it was queued
// (false: the queue is full; the drop is counted). Kind, if empty, is
// store.EventTrack; a zero At is now. The queue owns e's attribute map
// from then on.
func (q *EventQueue) Enqueue(e store.TrackedEvent) bool {
	if e.Kind == "" {
		e.Kind = store.EventTrack
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return q.enqueue(e)
}

func (q *EventQueue) enqueue(e store.TrackedEvent) bool {
	c := q.queue()
	select {
	case c <- e:
	default:
		q.dropped.Add(1)
		return false
	}
	if len(c) >= q.cfg.batch {
		select {
		case q.kick <- struct{}{}:
		default: // already kicked
		}
	}
	return true
}

// Events returns the provider's tracking queue, for the HTTP tracking
// route of a process that already runs a provider.
func (p *Provider) Events() *EventQueue { return p.tracker }

// Start starts the sender; it returns at once. Starting a started queue
// does nothing.
func (q *EventQueue) Start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	q.cancel, q.done = cancel, done
	go func() { defer close(done); q.sendLoop(ctx) }()
}

// Stop stops the sender and, within ctx (at most 2 s), appends what is
// still queued; what it cannot append stays queued for a later Start. It
// may be called more than once, or without Start.
func (q *EventQueue) Stop(ctx context.Context) {
	q.mu.Lock()
	cancel, done := q.cancel, q.done
	q.cancel, q.done = nil, nil
	q.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	fctx, stop := context.WithTimeout(ctx, 2*time.Second)
	defer stop()
	for fctx.Err() == nil {
		if len(q.pending) == 0 && !q.fillBatch() {
			return
		}
		if q.appendPending(fctx) != nil {
			return
		}
	}
}

// sidecars are the goroutines beside the refresher: the usage flusher and
// the tracking sender. They start with Init and stop with Shutdown, which
// flushes what they hold.
type sidecars struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startSidecars starts them; the caller holds p.mu and has just started the
// refresher.
func (p *Provider) startSidecars() {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sidecars{cancel: cancel}
	p.tracker.Start()
	if p.usage != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); p.usageLoop(ctx) }()
	}
	p.side = s
}

// stopSidecars stops them and, within ctx (at most 2 s), writes the counts
// and events still in memory.
func (p *Provider) stopSidecars(ctx context.Context, s *sidecars) {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
	if p.usage != nil {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = p.flushUsage(fctx)
		cancel()
	}
	p.tracker.Stop(ctx)
}

// fillBatch moves queued events into the pending batch without waiting;
// false when there were none.
func (q *EventQueue) fillBatch() bool {
	c := q.ch.Load()
	if c == nil {
		return len(q.pending) > 0
	}
	for len(q.pending) < q.cfg.batch {
		select {
		case e := <-*c:
			q.pending = append(q.pending, e)
			q.held.Store(int64(len(q.pending)))
		default:
			return len(q.pending) > 0
		}
	}
	return true
}

func (q *EventQueue) appendPending(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := q.store.AppendEvents(actx, q.pending, q.cfg.maxLen); err != nil {
		q.failed.Add(1)
		return err
	}
	q.sent.Add(int64(len(q.pending)))
	q.held.Store(0)
	clear(q.pending)
	q.pending = q.pending[:0]
	return nil
}

// sendLoop appends batches until ctx ends: whatever is queued on every
// flush tick, and at once while whole batches wait. After a failed append
// it keeps the batch and retries with backoff (up to 5 s).
func (q *EventQueue) sendLoop(ctx context.Context) {
	tick := time.NewTicker(q.cfg.flush)
	defer tick.Stop()
	q.rebase()
	defer q.base.Store(nil) // stopped: nobody rebases
	backoff := q.cfg.retry
	for {
		if len(q.pending) == 0 && !q.fillBatch() {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				q.rebase()
			case <-q.kick:
			}
			continue
		}
		if err := q.appendPending(ctx); err != nil {
			q.logger.Warn("redisflags: tracking events not appended; retrying", "events", len(q.pending), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			q.rebase()
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = q.cfg.retry
	}
}
