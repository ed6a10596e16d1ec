package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// The sweep reads about one second of its budget per chunk, starts with
// the index, and starts a new cycle no sooner than an interval after the
// last one started.
func TestSweepPacesChunksByTheBudget(t *testing.T) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("f%03d", i)
	}
	now := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		budget    float64
		large     bool
		perChunk  int
		chunkCost float64 // commands of a full chunk
	}{
		{budget: 40, large: true, perChunk: 1, chunkCost: 24},     // 3 + 7·3 = 24: one flag a chunk
		{budget: 1000, large: true, perChunk: 41, chunkCost: 984}, // 41·24 ≤ 1000 < 42·24
		{budget: 1000, large: false, perChunk: 83, chunkCost: 996},
	} {
		t.Run(fmt.Sprintf("budget=%v/large=%v", tc.budget, tc.large), func(t *testing.T) {
			perEnv := 3.0
			if tc.large {
				perEnv = 7
			}
			w := &sweeper{budget: tc.budget, interval: time.Hour, cost: func(envs int) float64 { return 3 + perEnv*float64(envs) }}
			j := w.job(now, nil)
			require.Equal(t, jobIndex, j.kind, "a cycle starts by reading the flag keys")
			w.started(keys)
			at := w.due()
			read := 0
			for read < len(keys) {
				j = w.job(at, nil)
				require.Equal(t, jobChunk, j.kind)
				if read+tc.perChunk <= len(keys) {
					require.Len(t, j.keys, tc.perChunk)
				}
				assert.Equal(t, keys[read:read+len(j.keys)], j.keys)
				read += len(j.keys)
				if read < len(keys) {
					wait := w.due().Sub(at)
					assert.InDelta(t, float64(len(j.keys))*(tc.chunkCost/float64(tc.perChunk))/tc.budget, wait.Seconds(), 1e-6,
						"the next chunk waits for the budget this one spent")
				}
				at = w.due()
			}
			assert.False(t, w.due().Before(now.Add(time.Hour)), "the next cycle starts an interval after this one")
			assert.Equal(t, jobIndex, w.job(w.due(), nil).kind)
		})
	}
	t.Run("unbudgeted", func(t *testing.T) {
		w := &sweeper{budget: 0, interval: time.Minute}
		j := w.job(now, nil)
		assert.Equal(t, jobFull, j.kind)
		assert.Equal(t, now.Add(time.Minute), w.due())
	})
}

func testEntry(t *testing.T, key string, pct int) store.Record {
	t.Helper()
	return store.Record{Key: key, Fingerprint: uint64(1000 + pct), Flag: evaluator.Flag{Key: key, DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: pct}}}}
}

// A bulk read's changes are worked out against the snapshot it started
// from and applied to the current one in O(changes): a flag the loop
// reloaded meanwhile keeps the loop's version, a flag the read does not
// name (a full read) is gone, and a flag whose fingerprint the snapshot
// holds keeps its compiled entry.
func TestBulkReadMergeKeepsTheLoopsReloads(t *testing.T) {
	base := fullSnapshot([]store.Record{testEntry(t, "a", 10), testEntry(t, "b", 10), testEntry(t, "c", 10)}, nil)
	// The job read every flag: a changed, b the same, c gone, d new.
	chs := prepare([]store.Record{testEntry(t, "a", 20), testEntry(t, "b", 10), testEntry(t, "d", 10)}, base, true)
	keys := map[string]bool{}
	for _, c := range chs {
		keys[c.key] = c.e != nil
	}
	assert.Equal(t, map[string]bool{"a": true, "c": false, "d": true}, keys, "b is unchanged; c is removed")

	// Meanwhile the loop reloaded a (to 30) from a notice.
	cur, changed := base.apply(prepare([]store.Record{testEntry(t, "a", 30)}, base, false), nil)
	require.Equal(t, []string{"a"}, changed)
	next, changed := cur.apply(chs, map[string]struct{}{"a": {}})
	assert.Equal(t, []string{"c", "d"}, changed)
	a, _ := next.flags.get("a")
	assert.Equal(t, uint64(1030), a.fingerprint, "the loop's later read of a stands")
	_, hasC := next.flags.get("c")
	assert.False(t, hasC)
	b0, _ := base.flags.get("b")
	b1, _ := next.flags.get("b")
	assert.Same(t, b0, b1, "b keeps its compiled entry")
	assert.Equal(t, 3, next.flags.len())
	assert.NotEqual(t, cur.revision, next.revision)

	// Applying what the snapshot already holds changes nothing.
	same, changed := next.apply(prepare([]store.Record{testEntry(t, "b", 10)}, base, false), nil)
	assert.Same(t, next, same)
	assert.Empty(t, changed)
}
