package provider

import (
	"context"
	"slices"
	"time"

	"github.com/redisflags/redisflags/store"
)

// The resync is a sweep: the session reads every flag again, a few at a
// time, paced so that its reads stay within a budget of Redis commands per
// second (WithResyncBudget), and takes in what differs. It runs beside the
// change notices, never in front of them: each read happens off the
// session's loop, which keeps applying notices meanwhile, and a flag that
// a notice reloaded while a read was out keeps the notice's version
// (docs/design.md §11).

// bulkBatch is how many flags one script call (or transaction) of a read
// off the loop covers: ~70 commands with 3 environments, which Redis runs
// in about a tenth of a millisecond, so that a change notice's reload (and
// every other client of the server) waits behind it that little
// (store.WithLoadBatch). Measured with BenchmarkPropagation during
// resyncs at 10,000 flags: 24 flags a call gave a p99 of 7–10 ms, 8 flags
// 5 ms, 4 flags 2 ms.
const bulkBatch = 4

// bgJob is a read the session runs off its loop; one at a time.
type bgJob struct {
	kind jobKind
	keys []string // jobChunk: the flags read
}

type jobKind int

const (
	jobFull  jobKind = iota // every flag: a reconnection's reload, or an unbudgeted resync
	jobIndex                // the list of flag keys that starts a sweep cycle
	jobChunk                // some flags of the cycle
)

// bgResult is what a bgJob read.
type bgResult struct {
	job bgJob
	// changes are what the read changes in the snapshot the job started
	// from, compiled off the loop (prepare).
	changes []change
	keys    []string // jobIndex: every flag key stored, sorted
	err     error
}

// sweeper paces the sweep. It is owned by the session's loop.
type sweeper struct {
	budget   float64       // commands per second; 0: unbudgeted (a full load per interval)
	interval time.Duration // a cycle starts at most this often
	// cost is what reading a flag of so many environments costs Redis, in
	// commands (store.LoadCost).
	cost func(envs int) float64

	cycle      []string  // the keys of this cycle, sorted; nil: the cycle starts with jobIndex
	pos        int       // the next key of cycle to read
	cycleStart time.Time // when this cycle's jobIndex was started
	next       time.Time // when the next job may start
}

// envCount is how many environments the snapshot holds for a flag (3 for
// a flag it does not know).
func envCount(s *snapshot, key string) int {
	if s != nil {
		if e, ok := s.flags.get(key); ok && e.compiled != nil {
			return e.compiled.EnvironmentCount()
		}
	}
	return 3
}

// due reports when the sweep's next job may start.
func (w *sweeper) due() time.Time { return w.next }

// job returns the sweep's next job and schedules the one after it by its
// cost.
func (w *sweeper) job(now time.Time, s *snapshot) bgJob {
	if w.budget <= 0 {
		w.next = now.Add(w.interval)
		return bgJob{kind: jobFull}
	}
	if w.cycle == nil {
		w.cycleStart = now
		w.next = now.Add(time.Duration(float64(time.Second) / w.budget)) // one SMEMBERS
		return bgJob{kind: jobIndex}
	}
	// About one second of budget per chunk, at least one flag.
	var cost float64
	start := w.pos
	for w.pos < len(w.cycle) {
		c := w.cost(envCount(s, w.cycle[w.pos]))
		if w.pos > start && cost+c > w.budget {
			break
		}
		cost += c
		w.pos++
	}
	keys := w.cycle[start:w.pos]
	w.next = now.Add(time.Duration(cost / w.budget * float64(time.Second)))
	if w.pos >= len(w.cycle) {
		// The cycle is done: the next one starts no sooner than an interval
		// after this one did.
		w.cycle, w.pos = nil, 0
		w.next = later(w.next, w.cycleStart.Add(w.interval))
	}
	return bgJob{kind: jobChunk, keys: keys}
}

// started begins a cycle over keys (the result of its jobIndex).
func (w *sweeper) started(keys []string) {
	if len(keys) == 0 {
		w.cycle, w.pos = nil, 0
		w.next = later(w.next, w.cycleStart.Add(w.interval))
		return
	}
	w.cycle, w.pos = keys, 0
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// runJob performs a job against base, the snapshot when it started; it
// runs on its own goroutine, and so does the compiling of what it read.
func (p *Provider) runJob(ctx context.Context, job bgJob, base *snapshot) bgResult {
	res := bgResult{job: job}
	known := knownOf(base)
	var recs []store.Record
	switch job.kind {
	case jobFull:
		recs, res.err = p.bulk.LoadAllChanged(ctx, known)
	case jobIndex:
		res.keys, res.err = p.store.FlagKeys(ctx)
		recs = goneFrom(base, res.keys)
	case jobChunk:
		recs, res.err = p.bulk.LoadChanged(ctx, known, job.keys...)
	}
	if res.err == nil {
		res.changes = prepare(recs, base, job.kind == jobFull)
	}
	return res
}

// knownOf answers store.Known from a snapshot.
func knownOf(s *snapshot) store.Known {
	return func(key string) (uint64, bool) {
		if s == nil {
			return 0, false
		}
		e, ok := s.flags.get(key)
		if !ok || e.fingerprint == 0 {
			return 0, false
		}
		return e.fingerprint, true
	}
}

// goneFrom returns the snapshot's keys that are not in stored (sorted):
// flags the index no longer lists.
func goneFrom(s *snapshot, stored []string) []store.Record {
	if s == nil {
		return nil
	}
	var gone []store.Record
	for k := range s.flags.all {
		if _, found := slices.BinarySearch(stored, k); !found {
			gone = append(gone, store.Record{Key: k, Err: store.ErrNotFound})
		}
	}
	return gone
}
