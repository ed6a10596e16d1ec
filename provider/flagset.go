package provider

import (
	"encoding/binary"
	"hash/fnv"
	"maps"
)

// flagSet is a snapshot's flags by key, split into shards so that a change
// copies only the shard it touches: taking in one flag's change at 100,000
// flags copies ~400 entries, not 100,000 (docs/design.md §11). It is
// immutable once its snapshot is published; a flagEdit derives the next one.
type flagSet struct {
	shards [flagShards]map[string]*entry // nil: empty shard
	n      int
	// sum is the sum of every entry's revisionTerm: equal sets of keys and
	// fingerprints give equal sums whatever the order they were added in,
	// and a change adjusts it in O(1).
	sum uint64
	// large counts the flags that keep an allowlist in Redis.
	large int
}

const flagShards = 256

// shardOf picks a key's shard from its length and last bytes, where flag
// keys differ most ("checkout-banner-17"): cheaper than hashing the whole
// key, as every evaluation does it.
func shardOf(key string) int {
	h := uint32(len(key)) * 0x9e3779b1
	for i := max(0, len(key)-4); i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 0x01000193
	}
	return int((h ^ h>>16) % flagShards)
}

// get returns the entry of a key. It does not allocate.
func (s *flagSet) get(key string) (*entry, bool) {
	m := s.shards[shardOf(key)]
	if m == nil {
		return nil, false
	}
	e, ok := m[key]
	return e, ok
}

// len returns the number of flags.
func (s *flagSet) len() int { return s.n }

// all calls yield for every flag, in no particular order.
func (s *flagSet) all(yield func(key string, e *entry) bool) {
	for _, m := range s.shards {
		for k, e := range m {
			if !yield(k, e) {
				return
			}
		}
	}
}

// keys returns every key, in no particular order.
func (s *flagSet) keys() []string {
	out := make([]string, 0, s.n)
	for k := range s.all {
		out = append(out, k)
	}
	return out
}

// revisionTerm is what one flag adds to flagSet.sum.
func revisionTerm(key string, fingerprint uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], fingerprint)
	h.Write(b[:])
	return h.Sum64()
}

func hasLarge(e *entry) bool { return e.compiled != nil && e.compiled.HasLargeAllowlist() }

// flagEdit derives a new flagSet from a base one, copying each shard the
// first time it is written.
type flagEdit struct {
	next   *flagSet
	copied [flagShards]bool
}

// edit starts a flagEdit over base (nil: an empty set). base is not changed.
func edit(base *flagSet) *flagEdit {
	next := &flagSet{}
	if base != nil {
		*next = *base
	}
	return &flagEdit{next: next}
}

// fresh starts a flagEdit of an empty set whose shards need no copying.
func fresh() *flagEdit {
	e := &flagEdit{next: &flagSet{}}
	for i := range e.copied {
		e.copied[i] = true
	}
	return e
}

func (e *flagEdit) shard(key string) map[string]*entry {
	i := shardOf(key)
	if !e.copied[i] {
		e.next.shards[i] = maps.Clone(e.next.shards[i])
		e.copied[i] = true
	}
	if e.next.shards[i] == nil {
		e.next.shards[i] = make(map[string]*entry)
	}
	return e.next.shards[i]
}

// set puts a flag's entry, replacing any.
func (e *flagEdit) set(key string, ent *entry) {
	m := e.shard(key)
	s := e.next
	if o, ok := m[key]; ok {
		s.sum -= revisionTerm(key, o.fingerprint)
		if hasLarge(o) {
			s.large--
		}
	} else {
		s.n++
	}
	m[key] = ent
	s.sum += revisionTerm(key, ent.fingerprint)
	if hasLarge(ent) {
		s.large++
	}
}

// remove deletes a flag, if present.
func (e *flagEdit) remove(key string) {
	if _, ok := e.next.get(key); !ok {
		return
	}
	m := e.shard(key)
	s := e.next
	o := m[key]
	delete(m, key)
	s.n--
	s.sum -= revisionTerm(key, o.fingerprint)
	if hasLarge(o) {
		s.large--
	}
}

// done returns the new set; the edit must not be used after it.
func (e *flagEdit) done() *flagSet { return e.next }
