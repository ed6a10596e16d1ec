package provider

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// Exposures (docs/design.md §13): for a flag whose metadata has
// "experiment": true, the first evaluation of each subject in a window that
// the split decided (reason SPLIT: the subject was randomised, not
// targeted by an allowlist or rule) is appended to the tracking stream as an exposure (flag, variant,
// environment, subject) for `redisflags experiment` to join with tracking
// events. Memory is bounded: a set of 64-bit subject hashes per flag,
// emptied when the window ends or when it reaches its bound (a subject may
// then be recorded twice in one window; the analysis counts subjects, not
// records, so that only costs a stream entry).

// ExperimentMetadataKey is the flag metadata key that marks a flag as an
// experiment: "experiment": true.
const ExperimentMetadataKey = "experiment"

func isExperiment(c *evaluator.Compiled) bool {
	v, _ := c.Definition().Metadata[ExperimentMetadataKey].(bool)
	return v
}

type exposureConfig struct {
	window time.Duration
	max    int
}

// WithExposures sets the window within which a subject's exposure to an
// experiment flag is recorded once (default 24h) and how many subjects per
// flag are remembered (default 100,000; about 2 MB). Values of 0 or less
// keep the default.
func WithExposures(window time.Duration, maxSubjects int) Option {
	return func(c *config) {
		if window > 0 {
			c.exposure.window = window
		}
		if maxSubjects > 0 {
			c.exposure.max = maxSubjects
		}
	}
}

// exposureTable holds the exposure sets of experiment flags.
type exposureTable struct {
	seed  maphash.Seed
	mu    sync.Mutex
	flags map[string]*exposureSet
}

func (t *exposureTable) of(flag string) *exposureSet {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flags == nil {
		t.flags = make(map[string]*exposureSet)
	}
	s := t.flags[flag]
	if s == nil {
		s = &exposureSet{flag: strings.Clone(flag), seen: make(map[uint64]struct{})}
		t.flags[s.flag] = s
	}
	return s
}

// exposureSet is the subjects of one experiment flag already recorded in
// the current window.
type exposureSet struct {
	flag  string
	mu    sync.Mutex
	start time.Time
	seen  map[uint64]struct{}
}

// first reports whether subject (hashed as h, with its variant) is new in
// the window at now, and remembers it.
func (s *exposureSet) first(h uint64, now time.Time, cfg exposureConfig) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.start) >= cfg.window || len(s.seen) >= cfg.max {
		clear(s.seen)
		s.start = now
	}
	if _, ok := s.seen[h]; ok {
		return false
	}
	s.seen[h] = struct{}{}
	return true
}

// expose records ev's subject as exposed to variant, once per window.
func (p *Provider) expose(s *exposureSet, ev *evaluation, variant string) {
	var h maphash.Hash
	h.SetSeed(p.exposures.seed)
	h.WriteString(ev.environment)
	h.WriteByte(0)
	h.WriteString(variant)
	h.WriteByte(0)
	h.WriteString(ev.subject)
	now := time.Now()
	if !s.first(h.Sum64(), now, p.cfg.exposure) {
		return
	}
	p.tracker.enqueue(store.TrackedEvent{Kind: store.EventExposure, Flag: s.flag, Variant: strings.Clone(variant),
		Environment: strings.Clone(ev.environment), Subject: strings.Clone(ev.subject), At: now})
}
