package provider

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// stats are the provider's own counters, read by the metrics callback.
// Updated off the evaluation path only (loads, losses, reconnections).
type stats struct {
	reloads     atomic.Int64
	changes     atomic.Int64
	redisErrors atomic.Int64
	fullLoads   atomic.Int64 // reads of every flag merged off the loop (reconnections, unbudgeted resyncs)
	bulkRunning atomic.Bool  // a read off the loop is out
	lastLoad    atomic.Int64 // unix nanoseconds of the last successful (re)load; 0: none
	staleSince  atomic.Int64 // unix nanoseconds; 0: not stale
}

func (s *stats) loaded(changed int) {
	s.reloads.Add(1)
	s.changes.Add(int64(changed))
	s.lastLoad.Store(time.Now().UnixNano())
}

func (s *stats) lost(err error) {
	if err != nil {
		s.redisErrors.Add(1)
	}
}

func (s *stats) stale(on bool) {
	if !on {
		s.staleSince.Store(0)
		return
	}
	s.staleSince.CompareAndSwap(0, time.Now().UnixNano())
}

// The provider's metric names (docs/design.md §13).
const (
	MetricSnapshotAge    = "redisflags.snapshot.age"
	MetricReloads        = "redisflags.reloads"
	MetricChangesApplied = "redisflags.changes.applied"
	MetricStale          = "redisflags.stale.duration"
	MetricRedisErrors    = "redisflags.redis.errors"
	MetricTrackSent      = "redisflags.tracking.sent"
	MetricTrackDropped   = "redisflags.tracking.dropped"
	MetricTrackQueued    = "redisflags.tracking.queued"
	MetricUsageFailures  = "redisflags.usage.flush_failures"
)

// WithMeterProvider reports the provider's own metrics through mp (the
// OpenTelemetry metrics API; evaluations are counted by the otelhook
// package): seconds since the snapshot was last (re)loaded, reloads,
// changes applied, seconds stale (0 when not), Redis errors, and the
// tracking queue's sent, dropped and queued events and failed usage
// flushes. They are observed when mp's reader collects, so they cost the
// evaluation path nothing. Default: no metrics.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meters = mp }
}

// registerMetrics registers the observable instruments; their callback
// reads p's counters.
func (p *Provider) registerMetrics(mp metric.MeterProvider) error {
	m := mp.Meter("github.com/redisflags/redisflags/provider")
	var err error
	gauge := func(name, unit, desc string) metric.Float64ObservableGauge {
		g, e := m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = errors.Join(err, e)
		return g
	}
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, e := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = errors.Join(err, e)
		return c
	}
	age := gauge(MetricSnapshotAge, "s", "Seconds since the snapshot was last loaded or reloaded from Redis.")
	stale := gauge(MetricStale, "s", "Seconds the provider has been serving a stale snapshot (0 when connected).")
	reloads := counter(MetricReloads, "{reload}", "Successful loads and reloads of flags from Redis.")
	changes := counter(MetricChangesApplied, "{flag}", "Flag changes applied to the snapshot.")
	redisErrors := counter(MetricRedisErrors, "{error}", "Redis sessions ended by an error.")
	sent := counter(MetricTrackSent, "{event}", "Tracking events appended to the stream.")
	dropped := counter(MetricTrackDropped, "{event}", "Tracking events dropped because the queue was full.")
	failures := counter(MetricUsageFailures, "{flush}", "Evaluation-count flushes Redis refused (the counts were kept).")
	queued, e := m.Int64ObservableGauge(MetricTrackQueued, metric.WithUnit("{event}"), metric.WithDescription("Tracking events waiting in memory."))
	err = errors.Join(err, e)
	if err != nil {
		return fmt.Errorf("provider: metrics: %w", err)
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		now := time.Now().UnixNano()
		if t := p.stats.lastLoad.Load(); t != 0 {
			o.ObserveFloat64(age, float64(now-t)/1e9)
		}
		var staleFor float64
		if t := p.stats.staleSince.Load(); t != 0 {
			staleFor = float64(now-t) / 1e9
		}
		o.ObserveFloat64(stale, staleFor)
		o.ObserveInt64(reloads, p.stats.reloads.Load())
		o.ObserveInt64(changes, p.stats.changes.Load())
		o.ObserveInt64(redisErrors, p.stats.redisErrors.Load())
		ts := p.tracker.Stats()
		o.ObserveInt64(sent, ts.Sent)
		o.ObserveInt64(dropped, ts.Dropped)
		o.ObserveInt64(queued, int64(ts.Queued))
		var f int64
		if p.usage != nil {
			f = p.usage.failed.Load()
		}
		o.ObserveInt64(failures, f)
		return nil
	}, age, stale, reloads, changes, redisErrors, sent, dropped, queued, failures)
	if err != nil {
		return fmt.Errorf("provider: metrics: %w", err)
	}
	return nil
}
