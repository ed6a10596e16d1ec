package provider

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/store"
)

// Tracking (docs/design.md §13): Track puts the event on a bounded queue
// and returns; a goroutine the provider owns appends batches of them to the
// Redis stream P:events (store.AppendEvents), each batch in one MULTI/EXEC.
// While Redis is down the sender keeps its batch and retries with backoff,
// so the events survive an outage up to the queue's bound plus one batch;
// beyond that Track drops events and counts them (TrackStats). Track never
// blocks and never touches the network.

var _ of.Tracker = (*Provider)(nil)

type trackConfig struct {
	queue  int           // events held in memory at most (plus one batch)
	batch  int           // events per append
	maxLen int64         // approximate stream length
	retry  time.Duration // first retry delay after a failed append
}

func defaultTrackConfig() trackConfig {
	return trackConfig{queue: 10_000, batch: 256, maxLen: 1_000_000, retry: 100 * time.Millisecond}
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

// tracker is the queue and its sender's statistics.
type tracker struct {
	queue   chan store.TrackedEvent
	dropped atomic.Int64
	sent    atomic.Int64
	failed  atomic.Int64
	// pending is the batch the sender holds (guarded by the sender; read
	// by a final drain after it stopped).
	pending []store.TrackedEvent
}

// TrackStats are the tracking queue's counters since the provider was
// created.
type TrackStats struct {
	// Queued is how many events wait in memory now.
	Queued int
	// Sent is how many were appended to the stream.
	Sent int64
	// Dropped is how many Track refused because the queue was full.
	Dropped int64
	// FailedAppends is how many batch appends Redis refused (each was
	// retried).
	FailedAppends int64
}

// TrackStats returns the tracking counters. Safe for concurrent use.
func (p *Provider) TrackStats() TrackStats {
	t := p.tracker
	return TrackStats{Queued: len(t.queue), Sent: t.sent.Load(), Dropped: t.dropped.Load(), FailedAppends: t.failed.Load()}
}

// Track queues a tracking event for the stream P:events: its name, the
// details' value and attributes (copied), and the context's targeting key
// (or its "key" attribute) as the subject. It never blocks: when the queue
// is full the event is dropped and counted (see [Provider.TrackStats]).
// Events are sent once the provider is initialised.
func (p *Provider) Track(_ context.Context, name string, ec of.EvaluationContext, details of.TrackingEventDetails) {
	if q := p.tracker.queue; len(q) == cap(q) {
		// Full (Redis slow or down): drop before copying anything.
		p.tracker.dropped.Add(1)
		return
	}
	subject := ec.TargetingKey()
	if subject == "" {
		subject, _ = ec.Attribute("key").(string)
	}
	p.enqueue(store.TrackedEvent{Kind: store.EventTrack, Name: name, Subject: subject,
		Value: details.Value(), Attributes: details.Attributes(), At: time.Now()})
}

// TrackEvent queues an event the way Track does, for callers that hold its
// parts rather than an OpenFeature context (the HTTP tracking route).
// Kind, if empty, is store.EventTrack; a zero At is now.
func (p *Provider) TrackEvent(e store.TrackedEvent) {
	if e.Kind == "" {
		e.Kind = store.EventTrack
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	p.enqueue(e)
}

func (p *Provider) enqueue(e store.TrackedEvent) {
	select {
	case p.tracker.queue <- e:
	default:
		p.tracker.dropped.Add(1)
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
	s.wg.Add(1)
	go func() { defer s.wg.Done(); p.sendLoop(ctx) }()
	if p.usage != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); p.usageLoop(ctx) }()
	}
	p.side = s
}

// stopSidecars stops them and, within ctx (at most 2 s), writes the counts
// and events still in memory. Events it cannot write stay queued for a
// later Init.
func (p *Provider) stopSidecars(ctx context.Context, s *sidecars) {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if p.usage != nil {
		_ = p.flushUsage(fctx)
	}
	for fctx.Err() == nil {
		if len(p.tracker.pending) == 0 && !p.fillBatch() {
			return
		}
		if p.appendPending(fctx) != nil {
			return
		}
	}
}

// fillBatch moves queued events into the pending batch without waiting;
// false when there were none.
func (p *Provider) fillBatch() bool {
	t := p.tracker
	for len(t.pending) < p.cfg.track.batch {
		select {
		case e := <-t.queue:
			t.pending = append(t.pending, e)
		default:
			return len(t.pending) > 0
		}
	}
	return true
}

func (p *Provider) appendPending(ctx context.Context) error {
	t := p.tracker
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.store.AppendEvents(actx, t.pending, p.cfg.track.maxLen); err != nil {
		t.failed.Add(1)
		return err
	}
	t.sent.Add(int64(len(t.pending)))
	clear(t.pending)
	t.pending = t.pending[:0]
	return nil
}

// sendLoop appends batches until ctx ends; after a failed append it keeps
// the batch and retries with backoff (up to 5 s).
func (p *Provider) sendLoop(ctx context.Context) {
	t := p.tracker
	backoff := p.cfg.track.retry
	for {
		if len(t.pending) == 0 {
			select {
			case <-ctx.Done():
				return
			case e := <-t.queue:
				t.pending = append(t.pending, e)
			}
			p.fillBatch()
		}
		if err := p.appendPending(ctx); err != nil {
			p.cfg.logger.Warn("redisflags: tracking events not appended; retrying", "events", len(t.pending), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = p.cfg.track.retry
	}
}
