package provider_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

var rampT0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() time.Time  { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *fakeClock) set(t time.Time) { c.ms.Store(t.UnixMilli()) }

func rampFlags() []evaluator.Flag {
	ramp := &evaluator.Rollout{From: 2, To: 97, Start: rampT0.Format(time.RFC3339), End: rampT0.Add(19 * time.Hour).Format(time.RFC3339)}
	tut := evaluator.Flag{Key: "ramped", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, RolloutPercent: 2, Value: json.RawMessage(`{"v":1}`), Rollout: ramp},
		"staging":    {Enabled: true, RolloutPercent: 10},
	}}
	vr := ramp.Clone()
	vr.Variant = "treatment"
	variant := evaluator.Flag{Key: "ramped-variant", DefaultEnabled: true,
		Variants:       map[string]json.RawMessage{"control": json.RawMessage(`"old"`), "treatment": json.RawMessage(`"new"`)},
		DefaultVariant: "control",
		Environments:   map[string]evaluator.Environment{"production": {Enabled: true, Rollout: vr}},
	}
	return []evaluator.Flag{tut, variant}
}

// TestRolloutSameInBothModesAt20Instants: a ramp is served identically by
// snapshot mode and direct mode at 20 instants of an injected clock, and
// as the reference percent says, with no write in between.
func TestRolloutSameInBothModesAt20Instants(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		s := store.New(rdb)
		for _, f := range rampFlags() {
			_, err := s.Upsert(ctx, f)
			require.NoError(t, err)
		}
		clock := &fakeClock{}
		snap := bind(t, provider.New(rdb, provider.WithClock(clock.now)))
		direct := bind(t, provider.New(rdb, provider.WithDirectReads(), provider.WithClock(clock.now)))
		for i := range 20 {
			at := rampT0.Add(time.Duration(i) * time.Hour).Add(-30 * time.Minute)
			clock.set(at)
			want := 2
			if i > 0 {
				want = 2 + int(int64(95)*(at.Sub(rampT0).Milliseconds())/(19*time.Hour).Milliseconds())
			}
			on := 0
			for j := range 200 {
				ec := of.NewEvaluationContext(fmt.Sprintf("user-%d", j), nil)
				a, err := snap.BooleanValueDetails(ctx, "ramped", false, ec)
				require.NoError(t, err)
				b, err := direct.BooleanValueDetails(ctx, "ramped", false, ec)
				require.NoError(t, err)
				assert.Equal(t, a.Value, b.Value)
				assert.Equal(t, a.Reason, b.Reason)
				assert.Equal(t, a.Variant, b.Variant)
				assert.Equal(t, referenceBucket("ramped", "production", fmt.Sprintf("user-%d", j)) < want, a.Value, "instant %d user-%d", i, j)
				if a.Value {
					on++
				}
				va, err := snap.StringValueDetails(ctx, "ramped-variant", "", ec)
				require.NoError(t, err)
				vb, err := direct.StringValueDetails(ctx, "ramped-variant", "", ec)
				require.NoError(t, err)
				assert.Equal(t, va.Value, vb.Value)
				assert.Equal(t, va.Variant, vb.Variant)
				assert.Equal(t, va.Reason, vb.Reason)
				assert.Equal(t, referenceBucket("ramped-variant", "production", fmt.Sprintf("user-%d", j)) < want, va.Value == "new")
			}
			// Staging has no rollout: its fixed 10 % is unmoved by the clock.
			st, err := snap.BooleanValueDetails(ctx, "ramped", false, of.NewEvaluationContext("user-1", map[string]any{"environment": "staging"}))
			require.NoError(t, err)
			assert.Equal(t, referenceBucket("ramped", "staging", "user-1") < 10, st.Value)
		}
	})
}

// TestRolloutStepSeenWithoutReload: a running snapshot provider serves a
// step within 1 s of its time (the bound) without a reload: no
// write, no configuration-change event.
func TestRolloutStepSeenWithoutReload(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	step := time.Now().Add(1500 * time.Millisecond).UTC()
	f := evaluator.Flag{Key: "stepped", DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		"production": {Enabled: true, Rollout: &evaluator.Rollout{From: 0, Steps: []evaluator.RolloutStep{{At: step.Format(time.RFC3339Nano), Percent: 100}}}},
	}}
	_, err := store.New(rdb).Upsert(ctx, f)
	require.NoError(t, err)
	c := bind(t, provider.New(rdb))
	events := watchEvents(c)
	ec := of.NewEvaluationContext("user-1", nil)
	require.False(t, c.Boolean(ctx, "stepped", true, ec), "0 %% before the step")
	var seen time.Time
	for deadline := step.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c.Boolean(ctx, "stepped", false, ec) {
			seen = time.Now()
			break
		}
	}
	require.False(t, seen.IsZero(), "the step was never served")
	assert.False(t, seen.Before(step), "not before its time")
	assert.Less(t, seen.Sub(step), time.Second, "within 1 s of the step")
	assert.Zero(t, events.count(of.ProviderConfigChange), "no reload")
}
