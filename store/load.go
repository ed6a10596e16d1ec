package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// loadBatch is how many flags one read transaction covers. A batch is one
// round trip for the environment sets and one for everything else, so
// loading N flags costs 1 + 2·⌈N/loadBatch⌉ round trips, whatever the number
// of environments.
const loadBatch = 256

// maxLoadRetries bounds re-reads of a flag whose environments changed
// between the two round trips of its batch.
const maxLoadRetries = 5

// Record is one flag as loaded: either Flag or Err is set. Err wraps
// ErrCorrupt (a *DecodeError) when stored data does not parse, or ErrNotFound
// when the flag is not stored. Fingerprint changes whenever anything stored
// for the flag changes; equal fingerprints mean equal stored data.
type Record struct {
	Key         string
	Flag        evaluator.Flag
	Err         error
	Fingerprint uint64
	// Partial, set only with Err, is the flag without the environments
	// whose fields do not parse, when those are all that fail; EnvErrs
	// then names each one's error. A snapshot serves the others (a field
	// fails only the environment it lives in, docs/design.md §8); nothing
	// may write Partial back, which would drop those environments.
	Partial *evaluator.Flag
	EnvErrs map[string]error
	// Unchanged is set, with Flag and Err left empty, when the caller of
	// [Store.LoadChanged] already holds a flag of this Fingerprint: its
	// data was read and fingerprinted but not decoded again.
	Unchanged bool
}

// Known tells [Store.LoadChanged] the fingerprint the caller holds for a
// flag, if any.
type Known func(key string) (fingerprint uint64, ok bool)

// Get loads one flag. It returns an error wrapping ErrNotFound when the flag
// is not stored and a *DecodeError when its data does not parse.
func (s *Store) Get(ctx context.Context, key string) (evaluator.Flag, error) {
	if !evaluator.ValidName(key) {
		return evaluator.Flag{}, fmt.Errorf("flag %q: %w", key, ErrNotFound)
	}
	recs, err := s.Load(ctx, key)
	if err != nil {
		return evaluator.Flag{}, err
	}
	return recs[0].Flag, recs[0].Err
}

// List loads every flag in the index, sorted by key. Flags whose data does
// not parse are left out and reported together in the returned error (a
// join of *DecodeError), next to the flags that did load.
func (s *Store) List(ctx context.Context) ([]evaluator.Flag, error) {
	recs, err := s.LoadAll(ctx)
	if err != nil {
		return nil, err
	}
	var flags []evaluator.Flag
	var errs []error
	for _, r := range recs {
		switch {
		case r.Err == nil:
			flags = append(flags, r.Flag)
		case errors.Is(r.Err, ErrNotFound):
			// In the index but gone: deleted while we read, or a stale index
			// entry. Not a flag.
		default:
			errs = append(errs, r.Err)
		}
	}
	return flags, errors.Join(errs...)
}

// LoadAll loads every flag in the index, sorted by key, in a bounded number
// of round trips (see [Store.Load]). Index entries without a flag hash come
// back with ErrNotFound.
func (s *Store) LoadAll(ctx context.Context) ([]Record, error) {
	return s.LoadAllChanged(ctx, nil)
}

// LoadAllChanged is [Store.LoadAll] with LoadChanged's known fingerprints.
func (s *Store) LoadAllChanged(ctx context.Context, known Known) ([]Record, error) {
	members, err := s.rdb.SMembers(ctx, s.keys.index()).Result()
	if err != nil {
		return nil, fmt.Errorf("read flag index %s: %w", s.keys.index(), err)
	}
	recs, err := s.LoadChanged(ctx, known, members...)
	if err != nil || s.simple == "" {
		return recs, err
	}
	names, err := s.scanSimple(ctx)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(recs))
	for _, r := range recs {
		have[r.Key] = true
	}
	var extra []string
	for _, n := range names {
		if !have[n] {
			extra = append(extra, n)
		}
	}
	more, err := s.loadSimple(ctx, extra)
	if err != nil {
		return nil, err
	}
	recs = append(recs, more...)
	slices.SortFunc(recs, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	return recs, nil
}

// Load reads the named flags, one Record per key in sorted order, in
// batches: per batch one pipelined round trip for the environment sets and
// one MULTI/EXEC for the flag hashes, environment hashes and allowlists, so
// each flag is read from one consistent moment.
func (s *Store) Load(ctx context.Context, flagKeys ...string) ([]Record, error) {
	return s.LoadChanged(ctx, nil, flagKeys...)
}

// LoadChanged is [Store.Load] for a caller that holds flags already: a flag
// whose fingerprint known reports comes back Unchanged, without being decoded
// and validated again (a flag with a large regex or many rules costs its
// read only). A nil known is Load.
func (s *Store) LoadChanged(ctx context.Context, known Known, flagKeys ...string) ([]Record, error) {
	flagKeys = slices.Clone(flagKeys)
	slices.Sort(flagKeys)
	flagKeys = slices.Compact(flagKeys)
	out, err := s.loadBatches(ctx, known, flagKeys)
	if err != nil {
		return nil, err
	}
	if s.simple != "" {
		// Flags not in the tutorial's layout may be simple flags.
		var missing []int
		var names []string
		for i, r := range out {
			if errors.Is(r.Err, ErrNotFound) {
				missing = append(missing, i)
				names = append(names, r.Key)
			}
		}
		simple, err := s.loadSimple(ctx, names)
		if err != nil {
			return nil, err
		}
		for j, i := range missing {
			out[i] = simple[j]
		}
	}
	return out, nil
}

// loadWorkers is how many batches a load reads at once, each on its own
// connection: Redis runs one batch's script while this process decodes
// another's reply.
const loadWorkers = 2

// loadBatches reads flagKeys (sorted) in batches, loadWorkers at a time,
// and returns their records in order.
func (s *Store) loadBatches(ctx context.Context, known Known, flagKeys []string) ([]Record, error) {
	out := make([]Record, len(flagKeys))
	size, workers := loadBatch, loadWorkers
	if s.batch > 0 {
		// A reader in no hurry (WithLoadBatch): small batches, one at a time.
		size, workers = s.batch, 1
	}
	batches := (len(flagKeys) + size - 1) / size
	workers = min(workers, batches)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			l := newLoader(s, known)
			for {
				b := int(next.Add(1) - 1)
				if b >= batches {
					return
				}
				if err := ctx.Err(); err != nil {
					// Another worker failed, or the caller gave up: the
					// records are not all read.
					errs[w] = err
					return
				}
				start := b * size
				end := min(start+size, len(flagKeys))
				recs, err := s.loadBatch(ctx, l, flagKeys[start:end])
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				copy(out[start:end], recs)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// loadBatchPipelined reads one batch with two pipelined round trips: the
// environment sets, then a MULTI/EXEC of everything else and the
// environment sets again (a flag whose set changed in between is read
// again). It is the load for clients and servers load.lua cannot serve.
func (s *Store) loadBatchPipelined(ctx context.Context, flagKeys []string, known Known) ([]Record, error) {
	recs := make([]Record, len(flagKeys))
	pending := make([]int, len(flagKeys))
	for i, k := range flagKeys {
		recs[i].Key = k
		pending[i] = i
	}
	// fail records a flag whose key holds the wrong type of value: that
	// flag fails to parse, alone.
	fail := func(i int, err error) {
		recs[i].Err = err
		recs[i].Flag = evaluator.Flag{}
		recs[i].Fingerprint = errorFingerprint(err)
		recs[i].Unchanged = false
		if known != nil {
			if fp, ok := known(recs[i].Key); ok && fp == recs[i].Fingerprint {
				recs[i].Err, recs[i].Unchanged = nil, true
			}
		}
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxLoadRetries {
			return nil, fmt.Errorf("load flags: environments kept changing while reading %q", flagKeys[pending[0]])
		}
		// Round trip 1: environment names.
		envCmds := make([]*redis.StringSliceCmd, len(pending))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range pending {
				envCmds[j] = p.SMembers(ctx, s.keys.envs(recs[i].Key))
			}
			return nil
		})
		if err != nil && !isWrongType(err) {
			return nil, fmt.Errorf("load flags: %w", err)
		}
		live := pending[:0:0]
		liveCmds := envCmds[:0:0]
		for j, i := range pending {
			if e := envCmds[j].Err(); e != nil {
				werr := wrongTypeError(recs[i].Key, "environments", s.keys.envs(recs[i].Key), "set", e)
				if werr == nil {
					return nil, fmt.Errorf("load flags: %w", e)
				}
				fail(i, werr)
				continue
			}
			live = append(live, i)
			liveCmds = append(liveCmds, envCmds[j])
		}
		pending, envCmds = live, liveCmds
		if len(pending) == 0 {
			break
		}
		// Round trip 2: everything else, and the environment sets again to
		// see that they did not change in between.
		type envReads struct {
			name           string
			hash           *redis.MapStringStringCmd
			users, regions setRead
		}
		type flagReads struct {
			hash  *redis.MapStringStringCmd
			names *redis.StringSliceCmd
			envs  []envReads
		}
		reads := make([]flagReads, len(pending))
		_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range pending {
				key := recs[i].Key
				r := &reads[j]
				r.hash = p.HGetAll(ctx, s.keys.flag(key))
				r.names = p.SMembers(ctx, s.keys.envs(key))
				for _, name := range envCmds[j].Val() {
					r.envs = append(r.envs, envReads{
						name:    name,
						hash:    p.HGetAll(ctx, s.keys.env(key, name)),
						users:   s.readSet(ctx, p, s.keys.users(key, name)),
						regions: s.readSet(ctx, p, s.keys.regions(key, name)),
					})
				}
			}
			return nil
		})
		if err != nil && !isWrongType(err) {
			// Not a reply about one key (the connection, the server): the
			// whole load failed.
			return nil, fmt.Errorf("load flags: %w", err)
		}
		var again []int
	flags:
		for j, i := range pending {
			r := reads[j]
			key := recs[i].Key
			if err != nil {
				// Some command of the transaction was refused: find this
				// flag's, if any.
				checks := []keyRead{
					{r.hash.Err(), "definition", s.keys.flag(key), "hash"},
					{r.names.Err(), "environments", s.keys.envs(key), "set"},
				}
				for _, e := range r.envs {
					path := "environments." + e.name
					checks = append(checks,
						keyRead{e.hash.Err(), path, s.keys.env(key, e.name), "hash"},
						keyRead{e.users.err(), path + ".allowlistUsers", s.keys.users(key, e.name), "set"},
						keyRead{e.regions.err(), path + ".allowlistRegions", s.keys.regions(key, e.name), "set"})
				}
				for _, c := range checks {
					if c.err == nil || errors.Is(c.err, redis.Nil) {
						continue
					}
					werr := wrongTypeError(key, c.field, c.key, c.want, c.err)
					if werr == nil {
						return nil, fmt.Errorf("load flags: %w", c.err)
					}
					fail(i, werr)
					continue flags
				}
			}
			if !sameMembers(envCmds[j].Val(), r.names.Val()) {
				again = append(again, i)
				continue
			}
			raw := rawFlag{key: key, hash: r.hash.Val(), envs: make(map[string]rawEnv, len(r.envs))}
			if len(raw.hash) == 0 {
				recs[i].Err = fmt.Errorf("flag %q: %w", raw.key, ErrNotFound)
				continue
			}
			for _, e := range r.envs {
				re := rawEnv{hash: e.hash.Val()}
				re.users, re.largeUsers = e.users.val()
				re.regions, re.largeRegions = e.regions.val()
				raw.envs[e.name] = re
			}
			recs[i].Fingerprint = raw.fingerprint()
			if known != nil {
				if fp, ok := known(key); ok && fp == recs[i].Fingerprint {
					// The caller holds this very data: skip decoding and
					// validating it again.
					recs[i].Unchanged = true
					continue
				}
			}
			recs[i].Flag, recs[i].Err = raw.decode()
			if recs[i].Err != nil {
				recs[i].Partial, recs[i].EnvErrs = raw.partial()
			}
		}
		pending = again
	}
	return recs, nil
}

// keyRead is one command's outcome in a load: the error, the field of the
// flag it read, its key and the type of value the layout keeps there.
type keyRead struct {
	err              error
	field, key, want string
}

func sameMembers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if slices.Equal(a, b) {
		return true // the usual case: the same set replies in the same order
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
