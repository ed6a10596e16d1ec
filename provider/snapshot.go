package provider

import (
	"errors"
	"runtime"
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
// Unchanged (store.LoadChanged) keeps old's entry too. old may be nil.
func fullSnapshot(recs []store.Record, old *snapshot) *snapshot {
	ed := fresh()
	k := evaluator.NewCompiler()
	for _, r := range recs {
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

// change is what a reloaded record does to a snapshot: the flag's new
// entry, or its removal (e nil). err is the record's own error, for the log.
type change struct {
	key string
	e   *entry
	err error
}

// prepare turns reloaded records into the changes they make to base
// (nil: an empty snapshot), compiling the new entries. It reads base only,
// so the session runs it off its loop for bulk reads (the resync, a
// reconnection's reload): the loop then applies the result in O(changes).
// An Unchanged record, and one whose fingerprint base already has, makes
// no change. With all set, recs is every stored flag, and a flag of base
// that recs does not name is gone.
func prepare(recs []store.Record, base *snapshot, all bool) []change {
	var out []change
	k := evaluator.NewCompiler()
	for i, r := range recs {
		if r.Unchanged {
			continue
		}
		var o *entry
		had := false
		if base != nil {
			o, had = base.flags.get(r.Key)
		}
		gone := errors.Is(r.Err, store.ErrNotFound)
		if (gone && !had) || (had && !gone && o.fingerprint == r.Fingerprint) {
			continue
		}
		c := change{key: r.Key, err: r.Err}
		if !gone {
			c.e = newEntry(r, k)
		}
		out = append(out, c)
		if i%512 == 511 {
			// A bulk read compiles for a while: let the loop's own
			// reloads and the evaluations have the processor in between.
			runtime.Gosched()
		}
	}
	if all && base != nil {
		stored := make(map[string]struct{}, len(recs))
		for _, r := range recs {
			stored[r.Key] = struct{}{}
		}
		for key := range base.flags.all {
			if _, ok := stored[key]; !ok {
				out = append(out, change{key: key})
			}
		}
	}
	return out
}

// apply returns a new snapshot with the changes made (see prepare) and the
// keys that changed, sorted. Keys in skip are left as old has them; a
// change old already holds (the same fingerprint, or the removal of a flag
// it does not have) changes nothing. When nothing changed it returns old
// itself. It costs O(changes), not O(flags): only the shards the changes
// touch are copied.
func (old *snapshot) apply(chs []change, skip map[string]struct{}) (*snapshot, []string) {
	var changed []string
	var ed *flagEdit
	for _, c := range chs {
		if _, ok := skip[c.key]; ok {
			continue
		}
		o, had := old.flags.get(c.key)
		if (c.e == nil && !had) || (had && c.e != nil && o.fingerprint == c.e.fingerprint) {
			continue
		}
		if ed == nil {
			ed = edit(old.flags)
		}
		if c.e == nil {
			ed.remove(c.key)
		} else {
			ed.set(c.key, c.e)
		}
		changed = append(changed, c.key)
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
