package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

func celRuleFlag() evaluator.Flag {
	return evaluator.Flag{
		Key:            "cel-gate",
		DefaultEnabled: true,
		Variants:       map[string]json.RawMessage{"on": json.RawMessage(`true`), "off": json.RawMessage(`false`)},
		DefaultVariant: "off",
		Rules:          []evaluator.Rule{{Name: "all-positive", CEL: `xs.all(a, a >= 0)`, Variant: "on"}},
	}
}

// A CEL rule evaluated under an expired context is stopped, and the
// evaluation says so (GENERAL, the caller's default) instead of serving what
// the rule's not holding would serve. A flag without CEL is answered as
// always.
func TestSnapshotCELEvaluationHonoursTheCallersContext(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := t.Context()
	_, err := store.New(rdb).Upsert(ctx, celRuleFlag())
	require.NoError(t, err)
	_, err = store.New(rdb).Upsert(ctx, evaluator.Flag{Key: "plain", DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 100}}})
	require.NoError(t, err)
	p := provider.New(rdb)
	bind(t, p)
	fc := of.FlattenedContext{"targetingKey": "u1", "xs": []any{1.0, 2.0, 3.0}}

	d := p.BooleanEvaluation(ctx, "cel-gate", false, fc)
	require.NotEqual(t, of.ErrorReason, d.Reason, d.ResolutionError)
	assert.True(t, d.Value)

	expired, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-expired.Done()
	d = p.BooleanEvaluation(expired, "cel-gate", true, fc)
	assert.Equal(t, of.ErrorReason, d.Reason)
	assert.Contains(t, d.ResolutionError.Error(), "GENERAL")
	assert.Contains(t, d.ResolutionError.Error(), "deadline exceeded")
	assert.True(t, d.Value, "the caller's default")

	d = p.BooleanEvaluation(expired, "plain", false, fc)
	assert.True(t, d.Value, "no CEL: the snapshot answers as always")
}

// Direct mode under CLIENT PAUSE: with ContextTimeoutEnabled a 100 ms
// deadline ends the evaluation at the deadline with an error (before: 1.98 s
// and a success, because go-redis waited for its ReadTimeout). Without it,
// New warns.
func TestDirectModeHonoursA100msDeadlineUnderClientPause(t *testing.T) {
	srv := redistest.Start(t)
	opts := srv.Options()
	opts.ContextTimeoutEnabled = true
	opts.ReadTimeout = 5 * time.Second
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := t.Context()
	_, err := store.New(rdb).Upsert(ctx, evaluator.Flag{Key: "plain", DefaultEnabled: true,
		Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 100}}})
	require.NoError(t, err)
	p := provider.New(rdb, provider.WithDirectReads())
	bind(t, p)
	fc := of.FlattenedContext{"targetingKey": "u1"}
	require.True(t, p.BooleanEvaluation(ctx, "plain", false, fc).Value)

	admin := srv.Client(t)
	require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", "3000", "ALL").Err())
	t.Cleanup(func() { _ = admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err() })
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	d := p.BooleanEvaluation(dctx, "plain", false, fc)
	took := time.Since(start)
	t.Logf("direct evaluation with a 100 ms deadline under CLIENT PAUSE: %v, %v", took, d.ResolutionError)
	assert.Equal(t, of.ErrorReason, d.Reason)
	assert.False(t, d.Value, "the caller's default")
	assert.Less(t, took, 1500*time.Millisecond, "ended near the deadline, not after the 3 s pause or the 5 s ReadTimeout")

	var logs bytes.Buffer
	plain := redis.NewClient(srv.Options())
	t.Cleanup(func() { _ = plain.Close() })
	provider.New(plain, provider.WithDirectReads(), provider.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Contains(t, logs.String(), "ContextTimeoutEnabled")
	logs.Reset()
	provider.New(rdb, provider.WithDirectReads(), provider.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Empty(t, logs.String())
}
