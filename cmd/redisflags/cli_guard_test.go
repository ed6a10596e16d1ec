package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// TestCLIRolloutGuardRollsBackARegression: "rollout guard" holds a stepped
// release rollout and, while the new variant fails 60 % of its subjects
// against control's 2 %, rolls it back at its first decision, saying why
// in the audit entry. Without --metric, or on a flag that records no
// exposures, it refuses.
func TestCLIRolloutGuardRollsBackARegression(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	st := store.New(rdb)
	_, err := st.Upsert(ctx, evaluator.Flag{Key: "plain", Environments: map[string]evaluator.Environment{"production": {Enabled: true}}})
	require.NoError(t, err)
	_, err = st.Upsert(ctx, evaluator.Flag{Key: "banner", DefaultEnabled: true, Metadata: map[string]any{"experiment": true},
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, Rollout: &evaluator.Rollout{From: 0, Steps: []evaluator.RolloutStep{
			{At: "2026-01-01T00:00:00Z", Percent: 10}, {At: "2099-01-01T00:00:00Z", Percent: 50}, {At: "2099-02-01T00:00:00Z", Percent: 100}}}}}})
	require.NoError(t, err)
	base := []string{"--redis-url", srv.URL()}

	_, _, err = runCLI(t, append([]string{"rollout", "guard", "banner", "production"}, base...)...)
	require.ErrorContains(t, err, "--metric is required")
	_, _, err = runCLI(t, append([]string{"rollout", "guard", "plain", "production", "--metric", "error"}, base...)...)
	require.ErrorContains(t, err, `no metadata "experiment": true`)

	// Traffic: exposures of both variants and errors, appended while the
	// guard runs (it reads only what comes after its start).
	feed, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; feed.Err() == nil; i++ {
			var evs []store.TrackedEvent
			for j := range 20 {
				subject := fmt.Sprintf("s-%d-%d", i, j)
				variant, errRate := "off", 2
				if j%2 == 0 {
					variant, errRate = "on", 60
				}
				evs = append(evs, store.TrackedEvent{Kind: store.EventExposure, Flag: "banner", Variant: variant, Environment: "production", Subject: subject, At: time.Now()})
				if (i*20+j)%100 < errRate {
					evs = append(evs, store.TrackedEvent{Kind: store.EventTrack, Name: "error", Subject: subject, At: time.Now()})
				}
			}
			if err := st.AppendEvents(feed, evs, 0); err != nil && feed.Err() == nil {
				t.Errorf("append: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	out, _, err := runCLI(t, append([]string{"rollout", "guard", "banner", "production", "--metric", "error", "--window", "300ms", "--min-exposed", "30", "--actor", "guard-bot"}, base...)...)
	stop()
	wg.Wait()
	require.NoError(t, err)
	assert.Contains(t, out, "guarding the rollout of banner in production")
	assert.Contains(t, out, "rolled back banner in production")
	f, err := st.Get(ctx, "banner")
	require.NoError(t, err)
	assert.Nil(t, f.Environments["production"].Rollout)
	assert.Zero(t, f.Environments["production"].RolloutPercent)
	entries, err := st.Audit(ctx, "banner", 1)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	assert.Equal(t, "guard-bot", entries[0].Actor)
	assert.Contains(t, entries[0].Note, "exceeds")
}
