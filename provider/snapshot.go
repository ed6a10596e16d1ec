package provider

import (
	"errors"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// snapshot is every flag of one key prefix, compiled. It is immutable once
// published through Provider.snap: the refresher builds a new one for every
// change (copy on write) and evaluations read whichever one they loaded,
// without locks.
type snapshot struct {
	flags map[string]*entry
	// large is true when some flag keeps an allowlist in Redis, so that a
	// flag with prerequisites may need Redis to evaluate them.
	large bool
	// revision identifies the stored content and keys lists the flag keys,
	// sorted (see index).
	revision string
	keys     []Key
}

// setLarge computes s.large; it runs once per snapshot built.
func (s *snapshot) setLarge() {
	s.large = false
	for _, e := range s.flags {
		if e.compiled != nil && e.compiled.HasLargeAllowlist() {
			s.large = true
			return
		}
	}
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
// (a 700 KB regex once took ~1 s at every resync). old may be nil.
func fullSnapshot(recs []store.Record, old *snapshot) *snapshot {
	s := &snapshot{flags: make(map[string]*entry, len(recs))}
	k := evaluator.NewCompiler()
	for _, r := range recs {
		if errors.Is(r.Err, store.ErrNotFound) {
			continue
		}
		if old != nil {
			if o, ok := old.flags[r.Key]; ok && o.fingerprint == r.Fingerprint && r.Fingerprint != 0 {
				s.flags[r.Key] = o
				continue
			}
		}
		s.flags[r.Key] = newEntry(r, k)
	}
	s.setLarge()
	s.keys, s.revision = index(s.flags)
	return s
}

// diff returns the keys whose stored data differs between old and next.
func diff(old, next *snapshot) []string {
	var changed []string
	for k, e := range next.flags {
		if o, ok := old.flags[k]; !ok || o.fingerprint != e.fingerprint {
			changed = append(changed, k)
		}
	}
	for k := range old.flags {
		if _, ok := next.flags[k]; !ok {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

// apply returns a new snapshot with the reloaded records applied (ErrNotFound
// removes the flag) and the keys that changed. When nothing changed it
// returns old itself.
func (old *snapshot) apply(recs []store.Record) (*snapshot, []string) {
	var changed []string
	var next *snapshot
	k := evaluator.NewCompiler()
	for _, r := range recs {
		o, had := old.flags[r.Key]
		gone := errors.Is(r.Err, store.ErrNotFound)
		if (gone && !had) || (had && !gone && o.fingerprint == r.Fingerprint) {
			continue
		}
		if next == nil {
			next = &snapshot{flags: maps.Clone(old.flags)}
		}
		if gone {
			delete(next.flags, r.Key)
		} else {
			next.flags[r.Key] = newEntry(r, k)
		}
		changed = append(changed, r.Key)
	}
	if next == nil {
		return old, nil
	}
	next.setLarge()
	next.keys, next.revision = index(next.flags)
	return next, changed
}

// definitions returns the definitions of every flag that compiled, sorted
// by key (for the fallback file).
func (s *snapshot) definitions() []evaluator.Flag {
	out := make([]evaluator.Flag, 0, len(s.flags))
	for _, k := range slices.Sorted(maps.Keys(s.flags)) {
		if e := s.flags[k]; e.compiled != nil {
			out = append(out, e.compiled.Definition())
		}
	}
	return out
}
