package provider

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// Evaluation counts (docs/design.md §13): every resolution of a known flag
// adds one to a counter of its (environment, variant, reason), in memory; a
// goroutine flushes the counters to Redis every few seconds in one
// transaction (store.AddUsage).
//
// The hot path finds its counter without a map lookup and without
// allocating: the snapshot entry caches its flag's *flagUsage (found once
// per entry, under a mutex), whose few combinations sit in a copy-on-write
// slice scanned linearly — a tutorial flag has at most a handful per
// environment. Counters belong to the usage table, not to the snapshot, so
// a reload loses no count.

const (
	// usageTTL is how long a day of counts stays in Redis after its last
	// write: long enough for a 30-day stale-flag report.
	usageTTL = 40 * 24 * time.Hour
	// maxCombos bounds the combinations counted per flag (environments come
	// from the evaluation context, which callers control): evaluations
	// beyond it are counted under environment "(other)".
	maxCombos = 64
	// otherEnvironment is where combinations beyond maxCombos, and
	// environment names that could never be stored, are counted.
	otherEnvironment = "(other)"
)

// comboKey is one counted combination.
type comboKey struct {
	env, variant string
	reason       of.Reason
}

type combo struct {
	key comboKey
	n   atomic.Int64
}

// flagUsage counts the evaluations of one flag. combos is copy on write:
// readers Load and scan it; adders hold mu.
type flagUsage struct {
	flag       string
	defaultEnv string // the provider's configured environment
	combos     atomic.Pointer[[]*combo]
	mu         sync.Mutex
}

// add counts n evaluations. It allocates only the first time a
// combination is seen.
func (u *flagUsage) add(env, variant string, reason of.Reason, n int64) {
	if cs := u.combos.Load(); cs != nil {
		for _, c := range *cs {
			if c.key.reason == reason && c.key.variant == variant && c.key.env == env {
				c.n.Add(n)
				return
			}
		}
	}
	u.addSlow(comboKey{env, variant, reason}, n)
}

func (u *flagUsage) addSlow(k comboKey, n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var cs []*combo
	if p := u.combos.Load(); p != nil {
		cs = *p
	}
	if !evaluator.ValidName(k.env) || len(cs) >= maxCombos {
		k.env = otherEnvironment
	}
	if len(k.variant) > evaluator.MaxNameLength {
		k.variant = k.variant[:evaluator.MaxNameLength]
	}
	for _, c := range cs {
		if c.key == k {
			c.n.Add(n)
			return
		}
	}
	// The strings may be the caller's (a context attribute): keep copies,
	// except of the strings the hot path passes again and again (the
	// configured environment, the tutorial's variants), whose own bytes
	// make later comparisons a pointer check.
	k.env, k.variant = u.intern(k.env), u.intern(k.variant)
	c := &combo{key: k}
	c.n.Store(n)
	next := append(cs[:len(cs):len(cs)], c)
	u.combos.Store(&next)
}

// intern returns s as one of the strings evaluations pass every time, or
// a copy.
func (u *flagUsage) intern(s string) string {
	switch s {
	case u.defaultEnv:
		return u.defaultEnv
	case VariantOn:
		return VariantOn
	case VariantOff:
		return VariantOff
	}
	return strings.Clone(s)
}

// usageTable holds the counters of every flag counted since the provider
// was created.
type usageTable struct {
	defaultEnv string
	mu         sync.Mutex
	flags      map[string]*flagUsage
	// flushing serialises flushes (the loop's and Shutdown's).
	flushing sync.Mutex
	// failed counts flushes that Redis refused; their counts were kept for
	// the next one.
	failed atomic.Int64
}

// of returns the counters of flag, creating them.
func (t *usageTable) of(flag string) *flagUsage {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.flags[flag]
	if u == nil {
		if t.flags == nil {
			t.flags = make(map[string]*flagUsage)
		}
		u = &flagUsage{flag: strings.Clone(flag), defaultEnv: t.defaultEnv}
		t.flags[u.flag] = u
	}
	return u
}

// take empties every counter and returns what it held.
func (t *usageTable) take() []store.UsageCount {
	t.mu.Lock()
	all := make([]*flagUsage, 0, len(t.flags))
	for _, u := range t.flags {
		all = append(all, u)
	}
	t.mu.Unlock()
	var out []store.UsageCount
	for _, u := range all {
		cs := u.combos.Load()
		if cs == nil {
			continue
		}
		for _, c := range *cs {
			if n := c.n.Swap(0); n != 0 {
				out = append(out, store.UsageCount{Flag: u.flag, Environment: c.key.env,
					Variant: c.key.variant, Reason: string(c.key.reason), Count: n})
			}
		}
	}
	return out
}

// giveBack returns counts that could not be written to their counters.
func (t *usageTable) giveBack(counts []store.UsageCount) {
	for _, c := range counts {
		t.of(c.Flag).add(c.Environment, c.Variant, of.Reason(c.Reason), c.Count)
	}
}

// flush writes the counts to Redis in one transaction; on failure they go
// back to the counters for the next flush.
func (p *Provider) flushUsage(ctx context.Context) error {
	t := p.usage
	t.flushing.Lock()
	defer t.flushing.Unlock()
	counts := t.take()
	if len(counts) == 0 {
		return nil
	}
	if err := p.store.AddUsage(ctx, time.Now(), counts, usageTTL); err != nil {
		t.failed.Add(1)
		t.giveBack(counts)
		return err
	}
	return nil
}

// usageLoop flushes every interval until ctx ends.
func (p *Provider) usageLoop(ctx context.Context) {
	tick := time.NewTicker(p.cfg.usageEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fctx, cancel := context.WithTimeout(ctx, p.cfg.usageEvery)
			if err := p.flushUsage(fctx); err != nil {
				p.cfg.logger.Warn("redisflags: evaluation counts not written; kept for the next flush", "err", err)
			}
			cancel()
		}
	}
}

// observed is what an entry's evaluations feed: its flag's counters (nil
// when counting is off) and, for an experiment, its exposure set (nil
// otherwise). Found once per entry; nil as a whole when neither applies.
type observed struct {
	usage     *flagUsage
	exposures *exposureSet
}

// notObserved is the cached answer for entries nothing observes.
var notObserved = &observed{}

// observe counts one resolution and records an experiment's exposure. Names
// nobody stored are never counted (evaluate sets obs only for stored
// flags), so callers cannot grow the table.
func (ev *evaluation) observe(p *Provider, d *of.ProviderResolutionDetail) {
	o := ev.obs
	if o == nil {
		return
	}
	if o.usage != nil {
		o.usage.add(ev.environment, d.Variant, d.Reason, 1)
	}
	if o.exposures != nil && d.Reason == of.SplitReason && ev.subject != "" {
		p.expose(o.exposures, ev, d.Variant)
	}
}

// observedOf returns what observes ent (cached in the entry), or nil.
func (p *Provider) observedOf(ent *entry, flag string) *observed {
	if o := ent.obs.Load(); o != nil {
		if o == notObserved {
			return nil
		}
		return o
	}
	o := &observed{}
	if p.usage != nil {
		o.usage = p.usage.of(flag)
	}
	if ent.compiled != nil && isExperiment(ent.compiled) {
		o.exposures = p.exposures.of(flag)
	}
	if o.usage == nil && o.exposures == nil {
		o = notObserved
	}
	ent.obs.Store(o)
	if o == notObserved {
		return nil
	}
	return o
}

// directObserved is observedOf for direct reads, which have no entry.
func (p *Provider) directObserved(flag string) *observed {
	if p.usage == nil {
		return nil
	}
	return &observed{usage: p.usage.of(flag)}
}

// FlushUsage writes the evaluation counts gathered so far to Redis now,
// rather than at the next interval; the provider also does so on Shutdown.
// It does nothing when counting is off (see [WithUsageCounts]). On error the
// counts are kept for the next flush.
func (p *Provider) FlushUsage(ctx context.Context) error {
	if p.usage == nil {
		return nil
	}
	return p.flushUsage(ctx)
}
