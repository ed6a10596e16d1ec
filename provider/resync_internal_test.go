package provider

import (
	"context"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// TestResyncCompilesOnlyChangedFlags: a full reload that finds a flag's
// stored data unchanged keeps its compiled entry (nothing is compiled
// again), while a flag changed by a raw write (no notice) is compiled anew.
func TestResyncCompilesOnlyChangedFlags(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb)
	for _, k := range []string{"same", "changed"} {
		_, err := st.Upsert(t.Context(), evaluator.Flag{Key: k, DefaultEnabled: true,
			Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 10}}})
		require.NoError(t, err)
	}
	p := New(rdb, WithResyncInterval(time.Hour), WithClientTracking(false)) // fullLoad below must be what finds the raw write
	require.NoError(t, p.InitWithContext(t.Context(), of.EvaluationContext{}))
	t.Cleanup(p.Shutdown)
	before := p.snap.Load()
	require.NoError(t, rdb.HSet(t.Context(), "feature-flags:flag:changed:environment:production", "rolloutPercent", "90").Err())
	changed, err := p.fullLoad(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"changed"}, changed)
	after := p.snap.Load()
	get := func(s *snapshot, k string) *entry { e, _ := s.flags.get(k); return e }
	assert.Same(t, get(before, "same"), get(after, "same"), "the unchanged flag keeps its compiled entry")
	assert.NotSame(t, get(before, "changed"), get(after, "changed"), "the changed flag is compiled anew")
}
