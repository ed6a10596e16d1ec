package provider_test

import (
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// TestExposuresOncePerSubject: an experiment flag's evaluations record
// each subject's variant once per window; other flags record nothing.
func TestExposuresOncePerSubject(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	exp := evaluator.Flag{Key: "new-pricing", DefaultEnabled: true, Metadata: map[string]any{"experiment": true},
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 50}}}
	_, err := store.New(rdb).Upsert(t.Context(), exp)
	require.NoError(t, err)
	p := provider.New(rdb)
	c := bind(t, p)
	want := map[string]string{}
	for range 3 {
		for _, s := range []string{"alice", "bob", "carol", "dave"} {
			d, err := c.BooleanValueDetails(t.Context(), "new-pricing", false, of.NewEvaluationContext(s, nil))
			require.NoError(t, err)
			want[s] = d.Variant
			_, _ = c.BooleanValue(t.Context(), "banner", false, of.NewEvaluationContext(s, nil))
		}
	}
	_, _ = c.BooleanValue(t.Context(), "new-pricing", false, of.NewEvaluationContext("", nil)) // an error: no exposure
	eventually(t, 5*time.Second, "exposures sent", func() bool { return p.TrackStats().Sent >= 4 })
	time.Sleep(50 * time.Millisecond)
	got := map[string]string{}
	for _, e := range readAllEvents(t, rdb) {
		require.Equal(t, store.EventExposure, e.Kind)
		require.Equal(t, "new-pricing", e.Flag)
		require.Equal(t, "production", e.Environment)
		require.NotContains(t, got, e.Subject, "recorded twice in one window")
		got[e.Subject] = e.Variant
	}
	require.Equal(t, want, got)
}

// TestExposuresAgainInANewWindow: after the window, a subject is recorded
// again.
func TestExposuresAgainInANewWindow(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	exp := evaluator.Flag{Key: "new-pricing", DefaultEnabled: true, Metadata: map[string]any{"experiment": true},
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 50,
			AllowlistUsers: []string{"bob"}}}}
	_, err := store.New(rdb).Upsert(t.Context(), exp)
	require.NoError(t, err)
	p := provider.New(rdb, provider.WithExposures(100*time.Millisecond, 0))
	c := bind(t, p)
	// Targeted, not randomised: never an exposure.
	_, _ = c.BooleanValue(t.Context(), "new-pricing", false, of.NewEvaluationContext("bob", nil))
	_, _ = c.BooleanValue(t.Context(), "new-pricing", false, of.NewEvaluationContext("alice", nil))
	_, _ = c.BooleanValue(t.Context(), "new-pricing", false, of.NewEvaluationContext("alice", nil))
	time.Sleep(150 * time.Millisecond)
	_, _ = c.BooleanValue(t.Context(), "new-pricing", false, of.NewEvaluationContext("alice", nil))
	eventually(t, 5*time.Second, "two exposures", func() bool { return p.TrackStats().Sent == 2 })
}
