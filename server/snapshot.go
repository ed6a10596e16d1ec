package server

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// flagSet is every flag of the key prefix, compiled. It is immutable once
// published: liveFlags builds a new one for every change and readers keep
// whichever they loaded, without locks.
//
// The OFREP endpoints evaluate from it rather than through the OpenFeature
// provider because OFREP requests carry no type: the server must answer
// with the payload's own JSON type, list every flag for bulk evaluation and
// derive an ETag from the stored data, none of which the provider's typed
// API exposes. The mapping onto OpenFeature reasons follows docs/design.md §4, as
// provider/resolve.go does.
type flagSet struct {
	keys  []string // sorted
	flags map[string]*flagEntry
	// tag changes whenever anything stored for any flag changes: a hash of
	// every key and its store fingerprint.
	tag uint64
}

// flagEntry is one flag: compiled, or the error that keeps it from
// compiling (served as PARSE_ERROR for this flag only).
type flagEntry struct {
	compiled    *evaluator.Compiled
	expiresAt   string
	err         error
	fingerprint uint64
}

func buildFlagSet(entries map[string]*flagEntry) *flagSet {
	s := &flagSet{flags: entries, keys: make([]string, 0, len(entries))}
	for k := range entries {
		s.keys = append(s.keys, k)
	}
	slices.Sort(s.keys)
	h := fnv.New64a()
	var b [8]byte
	for _, k := range s.keys {
		h.Write([]byte(k))
		binary.LittleEndian.PutUint64(b[:], entries[k].fingerprint)
		h.Write(b[:])
	}
	s.tag = h.Sum64()
	return s
}

func newFlagEntry(r store.Record, k *evaluator.Compiler) *flagEntry {
	if r.Err != nil {
		return &flagEntry{err: r.Err, fingerprint: r.Fingerprint}
	}
	c, err := k.Compile(r.Flag)
	if err != nil {
		return &flagEntry{err: err, fingerprint: r.Fingerprint}
	}
	return &flagEntry{compiled: c, expiresAt: r.Flag.ExpiresAt, fingerprint: r.Fingerprint}
}

// liveFlags keeps a flagSet fresh: it subscribes to the store's change
// notices (and to keyspace notifications, where the server sends them),
// loads everything, reloads the flags a notice names within milliseconds,
// reloads everything every resync interval (the safety net for writers that
// publish nothing, such as the tutorial's application, and for notices lost
// while disconnected), and reconnects with backoff when Redis goes away,
// serving the last flags meanwhile.
type liveFlags struct {
	store  *store.Store
	rdb    redis.UniversalClient
	resync time.Duration
	log    *slog.Logger

	cur atomic.Pointer[flagSet] // nil until the first load
	mu  sync.Mutex              // serializes building the next set
}

func newLiveFlags(rdb redis.UniversalClient, s *store.Store, resync time.Duration, log *slog.Logger) *liveFlags {
	if resync <= 0 {
		resync = 30 * time.Second
	}
	return &liveFlags{store: s, rdb: rdb, resync: resync, log: log}
}

func (l *liveFlags) get() *flagSet { return l.cur.Load() }

func (l *liveFlags) loaded() bool { return l.cur.Load() != nil }

// load replaces the set with a full load.
func (l *liveFlags) load(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs, err := l.store.LoadAll(ctx)
	if err != nil {
		return err
	}
	k := evaluator.NewCompiler()
	entries := make(map[string]*flagEntry, len(recs))
	for _, r := range recs {
		if !errors.Is(r.Err, store.ErrNotFound) {
			entries[r.Key] = newFlagEntry(r, k)
		}
	}
	l.cur.Store(buildFlagSet(entries))
	return nil
}

// refresh reloads the named flags (a missing one is removed). Before the
// first load it does nothing: the load will see them.
func (l *liveFlags) refresh(ctx context.Context, keys ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	if old == nil || len(keys) == 0 {
		return nil
	}
	recs, err := l.store.Load(ctx, keys...)
	if err != nil {
		return err
	}
	entries := make(map[string]*flagEntry, len(old.flags)+len(recs))
	for k, e := range old.flags {
		entries[k] = e
	}
	k := evaluator.NewCompiler()
	changed := false
	for _, r := range recs {
		o, had := entries[r.Key]
		switch {
		case errors.Is(r.Err, store.ErrNotFound):
			if had {
				delete(entries, r.Key)
				changed = true
			}
		case !had || o.fingerprint != r.Fingerprint:
			entries[r.Key] = newFlagEntry(r, k)
			changed = true
		}
	}
	if changed {
		l.cur.Store(buildFlagSet(entries))
	}
	return nil
}

// refreshAfterWrite applies a write this server just made, so that the next
// OFREP request sees it without waiting for the change notice. A failure is
// only logged: the notice and the resync will catch up.
func (l *liveFlags) refreshAfterWrite(ctx context.Context, key string) {
	if err := l.refresh(ctx, key); err != nil {
		l.log.Warn("reloading a flag after writing it failed; the next notice or resync reloads it", "flag", key, "err", err)
	}
}

// run keeps the set fresh until ctx ends, one session at a time with
// backoff in between. It returns when ctx ends, with every goroutine it
// started stopped.
func (l *liveFlags) run(ctx context.Context) {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = minBackoff
		}
		l.log.Warn("flag snapshot: lost Redis; serving the last flags and reconnecting", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// session subscribes first and loads second, so that no change made after
// the load goes unnoticed; then it applies notices until an error.
func (l *liveFlags) session(ctx context.Context) error {
	ps := l.rdb.Subscribe(ctx, l.store.ChangesChannel())
	defer ps.Close()
	if err := ps.PSubscribe(ctx, l.store.KeyspacePattern()); err != nil {
		return err
	}
	for range 2 {
		msg, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			return err
		}
		if _, ok := msg.(*redis.Subscription); !ok {
			return errors.New("unexpected message while subscribing")
		}
	}
	if err := l.load(ctx); err != nil {
		return err
	}
	// Channel reconnects by itself; notices lost meanwhile are the resync's.
	ch := ps.Channel()
	tick := time.NewTicker(l.resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := l.load(ctx); err != nil {
				return err
			}
		case m, ok := <-ch:
			if !ok {
				return errors.New("change subscription closed")
			}
			keys := map[string]struct{}{}
			l.collect(m, keys)
			// Take what else has arrived: a burst costs one reload.
			for more := true; more; {
				select {
				case m, ok := <-ch:
					if !ok {
						return errors.New("change subscription closed")
					}
					l.collect(m, keys)
				default:
					more = false
				}
			}
			list := make([]string, 0, len(keys))
			for k := range keys {
				list = append(list, k)
			}
			if err := l.refresh(ctx, list...); err != nil {
				return err
			}
		}
	}
}

func (l *liveFlags) collect(m *redis.Message, keys map[string]struct{}) {
	if m.Channel == l.store.ChangesChannel() {
		c, err := store.ParseChange(m.Payload)
		if err != nil {
			l.log.Warn("ignoring a malformed change notice", "err", err)
			return
		}
		keys[c.FlagKey] = struct{}{}
		return
	}
	if k, ok := l.store.FlagKeyOfNotification(m.Channel); ok {
		keys[k] = struct{}{}
	}
}
