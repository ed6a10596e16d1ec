package provider

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/store"
)

// runner is one run of the background loop, from Init to Shutdown.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has returned
	loaded chan struct{} // closed at the first successful load
	once   sync.Once
}

func (r *runner) markLoaded() { r.once.Do(func() { close(r.loaded) }) }

// Init starts the provider (see InitWithContext).
func (p *Provider) Init(of.EvaluationContext) error {
	return p.InitWithContext(context.Background(), of.EvaluationContext{})
}

// InitWithContext loads every flag and starts keeping them fresh. It
// returns when the first load is done; when Redis does not answer within the
// init timeout (or ctx ends first) it returns an error, or nil when a
// fallback file could be served instead, and keeps trying in the background:
// the provider emits PROVIDER_READY when Redis answers.
//
// It may be called more than once (go-sdk calls it for every domain the
// provider is bound to); later calls wait for the same first load. Init after
// Shutdown starts again.
func (p *Provider) InitWithContext(ctx context.Context, _ of.EvaluationContext) error {
	p.mu.Lock()
	r := p.run
	if r == nil {
		lctx, cancel := context.WithCancel(context.Background())
		r = &runner{cancel: cancel, done: make(chan struct{}), loaded: make(chan struct{})}
		p.run = r
		go p.loop(lctx, r)
		p.startSidecars()
	}
	p.mu.Unlock()

	timer := time.NewTimer(p.cfg.initTimeout)
	defer timer.Stop()
	var cause error
	select {
	case <-r.loaded:
		return nil
	case <-timer.C:
		cause = fmt.Errorf("redisflags: Redis did not answer within %v", p.cfg.initTimeout)
	case <-ctx.Done():
		cause = fmt.Errorf("redisflags: init: %w", ctx.Err())
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == statusReady || p.status == statusStale || p.status == statusFallback {
		return nil // loaded just now, or an earlier Init already succeeded
	}
	if p.cfg.fallbackFile != "" && !p.cfg.direct && p.snap.Load() == nil {
		snap, err := readFallback(p.cfg.fallbackFile)
		if err == nil {
			p.snap.Store(snap)
			p.status = statusFallback
			// The SDK marks the provider READY when Init returns nil; tell
			// it right after that the flags are stale.
			go func() {
				select {
				case <-time.After(100 * time.Millisecond):
					p.mu.Lock()
					if p.status == statusFallback {
						p.status = statusStale
						p.emit(of.ProviderStale, "serving flags from the fallback file "+p.cfg.fallbackFile+"; Redis does not answer", nil)
					}
					p.mu.Unlock()
				case <-r.done:
				}
			}()
			p.cfg.logger.Warn("redisflags: Redis does not answer; serving the fallback file", "file", p.cfg.fallbackFile)
			return nil
		}
		cause = fmt.Errorf("%w (fallback file: %v)", cause, err)
	}
	p.status = statusError
	return cause
}

// Shutdown stops the background loop and waits for it. It may be called
// more than once.
func (p *Provider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

// ShutdownWithContext is Shutdown, returning early with ctx's error when ctx
// ends first (the loop still stops).
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	p.mu.Lock()
	r, side := p.run, p.side
	p.run, p.side = nil, nil
	p.status = statusNotReady
	p.mu.Unlock()
	if r == nil {
		return nil
	}
	defer p.stopSidecars(ctx, side)
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.snap.Store(nil)
	return nil
}

// loop keeps the provider connected: a session at a time, with backoff
// between them, until ctx ends.
func (p *Provider) loop(ctx context.Context, r *runner) {
	defer close(r.done)
	backoff := minBackoff
	for ctx.Err() == nil {
		var err error
		if p.cfg.direct {
			err = p.directSession(ctx, r)
		} else {
			err = p.snapshotSession(ctx, r)
		}
		if ctx.Err() != nil {
			return
		}
		p.stats.lost(err)
		if p.markLost(err) {
			backoff = minBackoff // it was up: retry soon
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, maxBackoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// markReady records a successful (re)load and tells the SDK when it does
// not know yet: Init returning nil tells it READY for the first load.
func (p *Provider) markReady(r *runner, changed []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run != r {
		return // shut down meanwhile
	}
	select {
	case <-r.loaded:
		if p.status != statusReady {
			p.emit(of.ProviderReady, "redisflags: connected to Redis and flags reloaded", nil)
		}
		if len(changed) > 0 {
			p.emit(of.ProviderConfigChange, "redisflags: flags changed while disconnected", changed)
		}
	default:
		switch p.status {
		case statusStale, statusError:
			// Init gave up (fallback or error) before this first load.
			p.emit(of.ProviderReady, "redisflags: connected to Redis and flags loaded", nil)
			if len(changed) > 0 {
				p.emit(of.ProviderConfigChange, "redisflags: flags loaded", changed)
			}
		case statusFallback:
			// Redis answered before STALE was told: the SDK already
			// reports READY, so only the changes need telling.
			if len(changed) > 0 {
				p.emit(of.ProviderConfigChange, "redisflags: flags loaded", changed)
			}
		}
	}
	p.status = statusReady
	p.stats.stale(false)
	r.markLoaded()
}

// markLost records a lost connection and reports it when it matters: it
// returns whether the provider had been ready.
func (p *Provider) markLost(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status != statusReady {
		return false
	}
	serving := p.servingWhileLost()
	p.cfg.logger.Warn("redisflags: lost Redis; "+serving, "err", err)
	p.status = statusStale
	p.stats.stale(true)
	p.emit(of.ProviderStale, fmt.Sprintf("redisflags: lost Redis (%v); %s", err, serving), nil)
	return true
}

// servingWhileLost says what evaluations answer while Redis is away: the
// last snapshot's flags, or — in direct mode, or when Redis held no flag —
// the callers' defaults (no "last flags" to speak of).
func (p *Provider) servingWhileLost() string {
	if p.cfg.direct {
		return "evaluations answer the callers' defaults until it is back (direct mode keeps no snapshot)"
	}
	s := p.snap.Load()
	if s == nil || s.flags.len() == 0 {
		return "it held no flags, so evaluations answer the callers' defaults"
	}
	return fmt.Sprintf("serving the last snapshot (%d flags)", s.flags.len())
}

// directSession checks that Redis answers, then checks again every health
// interval.
func (p *Provider) directSession(ctx context.Context, r *runner) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.initTimeout)
		err := p.client.Ping(pctx).Err()
		cancel()
		if err != nil {
			return err
		}
		p.markReady(r, nil)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.cfg.healthInterval):
		}
	}
}

// snapshotSession subscribes to change notices, client-tracking
// invalidations and keyspace notifications, loads every flag, and then
// applies changes until the connection fails or ctx ends. Subscribing
// before loading means no change made after the load goes unnoticed.
//
// The loop applies changes as they are told and never waits behind a bulk
// read: the paced resync (sweep.go), and a reconnection's reload of every
// flag, read off the loop, and their results are merged in, keeping what
// the loop reloaded meanwhile (docs/design.md §11).
func (p *Provider) snapshotSession(ctx context.Context, r *runner) error {
	sub := p.subscribe(ctx)
	ps := sub.ps
	defer sub.close()
	defer ps.Close()
	// One subscription at a time, each confirmed before the next: the
	// connection (and with it tracking, in OnConnect) exists once the first
	// is answered, and an ACL that refuses an optional one (NOPERM) is told
	// apart from a failure.
	if err := p.subscribeConfirmed(ctx, ps, false, p.store.ChangesChannel()); err != nil {
		return err
	}
	if sub.tracking.Load() {
		if err := p.subscribeConfirmed(ctx, ps, false, invalidateChannel); err != nil {
			if !isNoPerm(err) {
				return err
			}
			// Tracking was turned on but its channel is outside the ACL's
			// channels: without it the invalidations reach no one.
			_ = ps.Unsubscribe(ctx, invalidateChannel)
			sub.tracking.Store(false)
			sub.trackingErr.Store(err)
		}
	}
	if !p.keyspaceRefused.Load() {
		patterns := []string{p.store.KeyspacePattern()}
		if sp := p.store.SimpleKeyspacePattern(); sp != "" {
			patterns = append(patterns, sp)
		}
		if err := p.subscribeConfirmed(ctx, ps, true, patterns...); err != nil {
			if !isNoPerm(err) {
				return err
			}
			// Keyspace notifications are optional: a Redis ACL that
			// allows only the prefix's channels (&feature-flags:*) refuses
			// the PSUBSCRIBE, which must not end the session. Forget the
			// patterns (so go-redis does not subscribe them again on a
			// reconnect) and rely on change notices and the resync.
			p.keyspaceRefused.Store(true)
			p.cfg.logger.Warn("redisflags: Redis refused the keyspace-notification subscription (ACL); following change notices, client tracking when on, and the periodic resync",
				"patterns", patterns, "err", err)
			_ = ps.PUnsubscribe(ctx, patterns...)
		}
	}
	p.noteTracking(sub)

	items := make(chan any, 1024)
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		_ = ps.Close() // unblocks the receiver
		wg.Wait()
	}()

	sw := &sweeper{budget: p.cfg.resyncBudget, interval: p.cfg.resyncInterval, cost: p.bulk.LoadCost}
	var (
		jobs    = make(chan bgResult, 1) // the one job out; never blocks its sender
		running bool
		touched map[string]struct{} // keys the loop reloaded while the job was out
		// wantFull asks for a reload of every flag when the job out ends.
		wantFull bool
	)
	start := func(job bgJob) {
		running, touched = true, map[string]struct{}{}
		p.stats.bulkRunning.Store(true)
		base := p.snap.Load()
		wg.Go(func() { jobs <- p.runJob(rctx, job, base) })
	}
	timer := time.NewTimer(p.cfg.resyncInterval)
	defer timer.Stop()
	reconnect := p.snap.Load() != nil
	if reconnect {
		// Serve the last snapshot, and apply changes to it, while every
		// flag is read again.
		timer.Stop()
		start(bgJob{kind: jobFull})
	} else {
		changed, err := p.fullLoad(ctx)
		if err != nil {
			return err
		}
		p.markReady(r, changed)
		sw.next = time.Now().Add(p.cfg.resyncInterval)
	}
	wg.Go(func() { p.receive(rctx, ps, items) })

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			if !running {
				start(sw.job(time.Now(), p.snap.Load()))
			}
		case res := <-jobs:
			running = false
			p.stats.bulkRunning.Store(false)
			if res.err != nil {
				return res.err
			}
			changed := p.merge(res, touched, sw)
			touched = nil
			if reconnect {
				reconnect = false
				p.markReady(r, changed)
			} else if len(changed) > 0 {
				p.cfg.logger.Info("redisflags: resync found changes", "flags", changed)
				p.emit(of.ProviderConfigChange, "redisflags: flags changed (found by resync)", changed)
			}
			if wantFull {
				wantFull = false
				start(bgJob{kind: jobFull})
				continue
			}
			timer.Reset(max(time.Until(sw.due()), 0))
		case it := <-items:
			keys := map[string]struct{}{}
			if err := p.collect(it, keys); err != nil {
				return err
			}
			// Take whatever else has arrived, so a burst costs one reload.
			for more := true; more; {
				select {
				case it := <-items:
					if err := p.collect(it, keys); err != nil {
						return err
					}
				default:
					more = false
				}
			}
			if _, all := keys[allKeys]; all {
				// Read every flag again, off the loop, as a reconnection
				// does (after the job out, if any).
				delete(keys, allKeys)
				if running {
					wantFull = true
				} else {
					timer.Stop()
					start(bgJob{kind: jobFull})
				}
			}
			if len(keys) == 0 {
				continue
			}
			if touched != nil {
				for k := range keys {
					touched[k] = struct{}{}
				}
			}
			if err := p.reload(ctx, keys); err != nil {
				return err
			}
		}
	}
}

// noteTracking logs, when it changes, whether raw writes are followed by
// client tracking or only by the resync.
func (p *Provider) noteTracking(sub *subscription) {
	on := sub.tracking.Load()
	if p.trackingLogged.Swap(true) && p.trackingOn.Load() == on {
		return
	}
	p.trackingOn.Store(on)
	if on {
		p.cfg.logger.Info("redisflags: following raw writes with Redis client tracking", "prefixes", p.store.TrackingPrefixes())
		return
	}
	p.cfg.logger.Info("redisflags: Redis client tracking is off; raw writes that publish no change notice are found by keyspace notifications when the server sends them, else by the paced resync",
		"reason", sub.why(), "resyncBudget", p.cfg.resyncBudget)
}

// merge takes in what a job off the loop read, leaving alone the keys in
// touched (reloaded by the loop since the job started: what the loop read
// is at least as new), and returns the keys that changed.
func (p *Provider) merge(res bgResult, touched map[string]struct{}, sw *sweeper) []string {
	switch res.job.kind {
	case jobFull:
		sw.cycle, sw.pos, sw.next = nil, 0, time.Now().Add(sw.interval)
		p.stats.fullLoads.Add(1)
	case jobIndex:
		sw.started(res.keys)
	}
	next, changed := p.snap.Load().apply(res.changes, touched)
	p.stats.loaded(len(changed))
	if len(changed) == 0 {
		return nil
	}
	p.members.forget(changed)
	p.snap.Store(next)
	p.logCorrupt(res.changes, touched)
	p.saveFallback(next)
	return changed
}

// allKeys, among the keys collected, asks for every flag (no flag key
// contains a space).
const allKeys = " all"

// flushed is the item of an invalidation of every key.
type flushed struct{}

// isFlushInvalidation reports whether a receive error is go-redis refusing
// the null payload of a tracking invalidation (a flush).
func isFlushInvalidation(err error) bool {
	return strings.Contains(err.Error(), "unsupported pubsub message payload: <nil>")
}

// collect adds the flag key a notification is about; an error item ends
// the session. A flush adds allKeys.
func (p *Provider) collect(it any, keys map[string]struct{}) error {
	switch m := it.(type) {
	case flushed:
		keys[allKeys] = struct{}{}
	case error:
		return m
	case *redis.Message:
		if m.Channel == p.store.ChangesChannel() {
			c, err := store.ParseChange(m.Payload)
			if err != nil {
				p.cfg.logger.Warn("redisflags: ignoring a malformed change notice", "err", err)
				return nil
			}
			keys[c.FlagKey] = struct{}{}
		} else if m.Channel == invalidateChannel {
			for _, rk := range m.PayloadSlice {
				if k, ok := p.store.FlagKeyOf(rk); ok {
					keys[k] = struct{}{}
				}
			}
		} else if k, ok := p.store.FlagKeyOfNotification(m.Channel); ok {
			keys[k] = struct{}{}
		}
	}
	return nil
}

// receive forwards messages and the first error from the subscription,
// PINGing over it when it has been silent for a health interval: a PING left
// unanswered for another interval is an error.
func (p *Provider) receive(ctx context.Context, ps *redis.PubSub, items chan<- any) {
	send := func(it any) bool {
		select {
		case items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	pinged := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, p.cfg.healthInterval)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isFlushInvalidation(err) {
				// FLUSHDB or FLUSHALL: client tracking invalidates
				// everything, with a null payload that go-redis refuses
				// to parse (after reading it whole: the connection is
				// fine). Every flag must be read again.
				if !send(flushed{}) {
					return
				}
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				if err := ps.Ping(ctx); err == nil {
					continue
				}
			}
			send(fmt.Errorf("redisflags: change subscription: %w", err))
			return
		}
		pinged = false
		switch msg.(type) {
		case *redis.Message:
			if !send(msg) {
				return
			}
		}
	}
}

// fullLoad loads every flag, swaps in the new snapshot and returns the keys
// that differ from the previous one (none on the first load).
func (p *Provider) fullLoad(ctx context.Context) ([]string, error) {
	recs, err := p.store.LoadAll(ctx)
	if err != nil {
		return nil, err
	}
	old := p.snap.Load()
	next := fullSnapshot(recs, old)
	var changed []string
	if old != nil {
		changed = diff(old, next)
	}
	p.snap.Store(next)
	p.stats.loaded(len(changed))
	for _, r := range recs {
		p.logCorruptFlag(r.Key, r.Err)
	}
	p.saveFallback(next)
	return changed, nil
}

// reload reloads the named flags and emits the change.
func (p *Provider) reload(ctx context.Context, keys map[string]struct{}) error {
	list := make([]string, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	p.members.forget(list)
	recs, err := p.store.Load(ctx, list...)
	if err != nil {
		return err
	}
	old := p.snap.Load()
	if old == nil {
		return nil
	}
	chs := prepare(recs, old, false)
	next, changed := old.apply(chs, nil)
	p.stats.loaded(len(changed))
	if len(changed) == 0 {
		return nil
	}
	p.snap.Store(next)
	p.logCorrupt(chs, nil)
	p.saveFallback(next)
	p.emit(of.ProviderConfigChange, "redisflags: flags changed", changed)
	return nil
}

// logCorrupt logs the changes whose flag does not parse, but for skip's.
func (p *Provider) logCorrupt(chs []change, skip map[string]struct{}) {
	for _, c := range chs {
		if _, ok := skip[c.key]; !ok {
			p.logCorruptFlag(c.key, c.err)
		}
	}
}

func (p *Provider) logCorruptFlag(key string, err error) {
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.cfg.logger.Warn("redisflags: flag does not parse; it resolves with PARSE_ERROR", "flag", key, "err", err)
	}
}

// subscribeConfirmed subscribes ps to channels (patterns when pattern is
// set) and waits for Redis to confirm each. A refusal comes back as the
// one error in place of every confirmation.
func (p *Provider) subscribeConfirmed(ctx context.Context, ps *redis.PubSub, pattern bool, channels ...string) error {
	var err error
	if pattern {
		err = ps.PSubscribe(ctx, channels...)
	} else {
		err = ps.Subscribe(ctx, channels...)
	}
	if err != nil {
		return err
	}
	for range channels {
		msg, err := ps.ReceiveTimeout(ctx, p.cfg.initTimeout)
		if err != nil {
			return err
		}
		if _, ok := msg.(*redis.Subscription); !ok {
			return fmt.Errorf("redisflags: unexpected %T while subscribing", msg)
		}
	}
	return nil
}

// isNoPerm reports whether err is Redis refusing a command under its ACL.
func isNoPerm(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }
