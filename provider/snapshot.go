package provider

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// snapshot is every flag of one key prefix, compiled. It is immutable once
// published through Provider.snap: the refresher builds a new one for every
// change (copy on write, one shard of the flag set at a time) and
// evaluations read whichever one they loaded, without locks.
type snapshot struct {
	flags *flagSet
	// revision identifies the stored content (see Provider.Revision).
	revision string
	// keys lists the flag keys with their kinds, sorted; built on first
	// use (sortedKeys), not at every change.
	keysOnce sync.Once
	keys     []Key
}

// newSnapshot wraps a finished flag set.
func newSnapshot(fs *flagSet) *snapshot {
	return &snapshot{flags: fs, revision: strconv.FormatUint(fs.sum, 36)}
}

// large reports whether some flag keeps an allowlist in Redis, so that a
// flag with prerequisites may need Redis to evaluate them.
func (s *snapshot) large() bool { return s.flags.large > 0 }

// sortedKeys returns the flag keys with their kinds, sorted; the slice is
// shared and read-only.
func (s *snapshot) sortedKeys() []Key {
	s.keysOnce.Do(func() {
		names := s.flags.keys()
		slices.Sort(names)
		s.keys = make([]Key, len(names))
		for i, k := range names {
			s.keys[i].Name = k
			if e, _ := s.flags.get(k); e.compiled != nil {
				s.keys[i].Kind = kindOf(e.compiled)
			}
		}
	})
	return s.keys
}

// entry is one flag: compiled, or the error that stops it from compiling
// (served as PARSE_ERROR for this flag only).
type entry struct {
	compiled    *evaluator.Compiled
	err         error
	fingerprint uint64
	// envErrs are the environments whose stored fields do not parse: they
	// resolve with PARSE_ERROR, the others from compiled (docs/design.md §8).
	envErrs map[string]error
	// obs caches what observes the flag's evaluations (usage.go); set on
	// the first evaluation, the only mutable field.
	obs atomic.Pointer[observed]
}

func newEntry(r store.Record, k *evaluator.Compiler) *entry {
	if r.Err != nil && r.Partial != nil {
		if c, err := k.Compile(*r.Partial); err == nil {
			return &entry{compiled: c, envErrs: r.EnvErrs, fingerprint: r.Fingerprint}
		}
	}
	if r.Err != nil {
		return &entry{err: r.Err, fingerprint: r.Fingerprint}
	}
	c, err := k.Compile(r.Flag)
	if err != nil {
		return &entry{err: err, fingerprint: r.Fingerprint}
	}
	return &entry{compiled: c, fingerprint: r.Fingerprint}
}

// fullSnapshot builds a snapshot from a complete load. Index entries whose
// flag is gone are left out. A flag whose stored data has old's fingerprint
// keeps old's entry: a resync that finds nothing changed compiles nothing
// (a 700 KB regex once took ~1 s at every resync). A record that came back
// Unchanged (store.LoadChanged) keeps old's entry too. Keys in keep take
// old's entry (or absence) whatever the load read: they changed while the
// load ran and old holds what was read after the change. old may be nil.
func fullSnapshot(recs []store.Record, old *snapshot, keep map[string]struct{}) *snapshot {
	ed := fresh()
	k := evaluator.NewCompiler()
	for _, r := range recs {
		if _, ok := keep[r.Key]; ok {
			continue
		}
		if old != nil {
			if o, ok := old.flags.get(r.Key); ok && (r.Unchanged || o.fingerprint == r.Fingerprint && r.Fingerprint != 0) {
				ed.set(r.Key, o)
				continue
			}
		}
		if errors.Is(r.Err, store.ErrNotFound) || r.Unchanged {
			continue
		}
		ed.set(r.Key, newEntry(r, k))
	}
	if old != nil {
		for key := range keep {
			if o, ok := old.flags.get(key); ok {
				ed.set(key, o)
			}
		}
	}
	return newSnapshot(ed.done())
}

// diff returns the keys whose stored data differs between old and next.
func diff(old, next *snapshot) []string {
	var changed []string
	for k, e := range next.flags.all {
		if o, ok := old.flags.get(k); !ok || o.fingerprint != e.fingerprint {
			changed = append(changed, k)
		}
	}
	for k := range old.flags.all {
		if _, ok := next.flags.get(k); !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

// apply returns a new snapshot with the reloaded records applied (ErrNotFound
// removes the flag; an Unchanged record changes nothing) and the keys that
// changed. Keys in skip are left as old has them. When nothing changed it
// returns old itself. It costs O(records), not O(flags): only the shards the
// records touch are copied.
func (old *snapshot) apply(recs []store.Record, skip map[string]struct{}) (*snapshot, []string) {
	var changed []string
	var ed *flagEdit
	k := evaluator.NewCompiler()
	for _, r := range recs {
		if _, ok := skip[r.Key]; ok || r.Unchanged {
			continue
		}
		o, had := old.flags.get(r.Key)
		gone := errors.Is(r.Err, store.ErrNotFound)
		if (gone && !had) || (had && !gone && o.fingerprint == r.Fingerprint) {
			continue
		}
		if ed == nil {
			ed = edit(old.flags)
		}
		if gone {
			ed.remove(r.Key)
		} else {
			ed.set(r.Key, newEntry(r, k))
		}
		changed = append(changed, r.Key)
	}
	if ed == nil {
		return old, nil
	}
	slices.Sort(changed)
	return newSnapshot(ed.done()), changed
}

// definitions returns the definitions of every flag that compiled, sorted
// by key (for the fallback file).
func (s *snapshot) definitions() []evaluator.Flag {
	out := make([]evaluator.Flag, 0, s.flags.len())
	for _, key := range s.sortedKeys() {
		if e, _ := s.flags.get(key.Name); e.compiled != nil {
			out = append(out, e.compiled.Definition())
		}
	}
	return out
}
