package provider_test

import (
	"fmt"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

func putFlag(t *testing.T, rdb redis.UniversalClient, key, def string) {
	t.Helper()
	f, err := evaluator.ParseFlag([]byte(def), key)
	require.NoError(t, err)
	_, err = store.New(rdb).Upsert(t.Context(), f)
	require.NoError(t, err)
}

// started inits p (outside the SDK, as a server does) and shuts it down
// when the test ends.
func started(t *testing.T, p *provider.Provider) *provider.Provider {
	t.Helper()
	require.NoError(t, p.InitWithContext(t.Context(), of.EvaluationContext{}))
	t.Cleanup(p.Shutdown)
	return p
}

// TestResolveTutorialFlagIsASwitchAndPayloadIsItsCompanion: untyped, a
// tutorial flag with a payload serves its on/off boolean (so a boolean
// asked over OFREP is Go's answer); "K:payload" serves the payload when on
// and the caller's default otherwise, in both modes. The typed methods
// answer "K:payload" the same way.
func TestResolveTutorialFlagIsASwitchAndPayloadIsItsCompanion(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		require.NoError(t, tutorial.Write(ctx, rdb, "feature-flags", tutorial.CheckoutBanner()))
		putFlag(t, rdb, "bool-payload", `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":100,"value":false}}}`)
		putFlag(t, rdb, "plain", `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":100}}}`)
		p := started(t, provider.New(rdb, opts...))
		user123 := of.FlattenedContext{of.TargetingKey: "user-123"}
		qa := of.FlattenedContext{of.TargetingKey: "user-123", "environment": "qa"}

		r := p.Resolve(ctx, "checkout-banner", user123)
		assert.JSONEq(t, `true`, string(r.Value))
		assert.Equal(t, "on", r.Variant)
		assert.Equal(t, of.TargetingMatchReason, r.Reason)
		assert.Equal(t, "allowlist-user", r.Explanation.Outcome)
		assert.JSONEq(t, `{"title":"Fast checkout"}`, string(r.Explanation.Payload))

		r = p.Resolve(ctx, "checkout-banner:payload", user123)
		assert.JSONEq(t, `{"title":"Fast checkout"}`, string(r.Value))
		assert.Equal(t, of.TargetingMatchReason, r.Reason)

		r = p.Resolve(ctx, "checkout-banner", qa)
		assert.JSONEq(t, `false`, string(r.Value), "a missing environment: off")
		assert.Equal(t, of.DefaultReason, r.Reason)
		r = p.Resolve(ctx, "checkout-banner:payload", qa)
		assert.Nil(t, r.Value, "off: the caller's default")
		assert.Empty(t, r.ErrorCode)

		r = p.Resolve(ctx, "bool-payload", user123)
		assert.JSONEq(t, `true`, string(r.Value), "a false payload does not invert the switch")
		r = p.Resolve(ctx, "bool-payload:payload", user123)
		assert.JSONEq(t, `false`, string(r.Value))

		r = p.Resolve(ctx, "plain:payload", user123)
		assert.Nil(t, r.Value)
		assert.Equal(t, of.DefaultReason, r.Reason, "on without a payload: the default, reason DEFAULT")

		r = p.Resolve(ctx, "missing:payload", user123)
		assert.Equal(t, of.FlagNotFoundCode, r.ErrorCode)
		assert.Nil(t, r.Value)

		// The typed methods read K:payload the same way.
		b := p.BooleanEvaluation(ctx, "bool-payload:payload", true, user123)
		assert.False(t, b.Value)
		assert.NoError(t, b.Error())
		o := p.ObjectEvaluation(ctx, "checkout-banner:payload", "dflt", qa)
		assert.Equal(t, "dflt", o.Value)
		assert.NoError(t, o.Error())
		o = p.ObjectEvaluation(ctx, "checkout-banner:payload", "dflt", user123)
		assert.Equal(t, map[string]any{"title": "Fast checkout"}, o.Value)
	})
}

// TestResolveReportsTheFlagsOwnBucket: an md5-canary flag's explanation
// carries the md5 bucket, not a sha256 one, whichever step decided.
func TestResolveReportsTheFlagsOwnBucket(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		putFlag(t, rdb, "canary-md5", `{"defaultEnabled":true,"bucketing":"md5-canary","environments":{
			"staging":{"enabled":true,"rolloutPercent":30,"allowlistUsers":["user-7"]}}}`)
		p := started(t, provider.New(rdb, opts...))
		for i := range 50 {
			s := fmt.Sprintf("user-%d", i)
			r := p.Resolve(ctx, "canary-md5", of.FlattenedContext{of.TargetingKey: s, "environment": "staging"})
			require.Empty(t, r.ErrorCode)
			want := evaluator.BucketMD5("canary-md5", s)
			require.Equal(t, want, r.Explanation.Bucket, s)
			require.Equal(t, "md5-canary", r.Explanation.Scheme)
			if s != "user-7" {
				require.Equal(t, want < 30, r.Explanation.On, s)
			}
		}
	})
}

// TestRevisionWatchAndState: a change moves the revision and reaches a
// watcher with the changed key; Flags lists every flag with its parse
// error; State is READY once loaded and NOT_READY after Shutdown.
func TestRevisionWatchAndState(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		putFlag(t, rdb, "a", `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":100}}}`)
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:bad", "defaultEnabled", "maybe").Err())
		require.NoError(t, rdb.SAdd(ctx, "feature-flags:index", "bad").Err())
		p := provider.New(rdb)
		assert.Equal(t, of.NotReadyState, p.State())
		started(t, p)
		assert.Equal(t, of.ReadyState, p.State())
		rev := p.Revision()
		require.NotEmpty(t, rev)

		flags, err := p.Flags(ctx)
		require.NoError(t, err)
		require.Len(t, flags, 2)
		assert.Equal(t, "a", flags[0].Key)
		assert.Equal(t, provider.KindTutorial, flags[0].Kind)
		assert.NoError(t, flags[0].Err)
		assert.Equal(t, "bad", flags[1].Key)
		assert.Error(t, flags[1].Err)

		changes, stop := p.Watch()
		defer stop()
		putFlag(t, rdb, "a", `{"defaultEnabled":false,"environments":{}}`)
		select {
		case c := <-changes:
			assert.Equal(t, of.ProviderConfigChange, c.Type)
			assert.Equal(t, []string{"a"}, c.Flags)
			assert.NotEqual(t, rev, c.Revision)
			assert.Equal(t, p.Revision(), c.Revision)
		case <-time.After(5 * time.Second):
			t.Fatal("no change notice within 5 s")
		}
		stop()
		stop() // twice is fine
		p.Shutdown()
		assert.Equal(t, of.NotReadyState, p.State())
	})
}

// TestRevisionIsTheSameForTheSameData: two providers over the same data
// agree on the revision (ETags survive restarts and replicas).
func TestRevisionIsTheSameForTheSameData(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		require.NoError(t, rdb.FlushAll(t.Context()).Err())
		putFlag(t, rdb, "a", `{"defaultEnabled":true,"environments":{}}`)
		p1 := started(t, provider.New(rdb))
		p2 := started(t, provider.New(rdb))
		assert.Equal(t, p1.Revision(), p2.Revision())
	})
}

// TestAParseErrorFailsOnlyItsEnvironment: a field that does not parse in
// one environment fails that environment with PARSE_ERROR (naming the
// field) and the others keep answering, in both modes (docs/design.md §8).
func TestAParseErrorFailsOnlyItsEnvironment(t *testing.T) {
	eachModeAndServer(t, func(t *testing.T, rdb redis.UniversalClient, opts []provider.Option) {
		ctx := t.Context()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		putFlag(t, rdb, "split-env", `{"defaultEnabled":true,"environments":{
			"production":{"enabled":true,"rolloutPercent":100},"staging":{"enabled":true,"rolloutPercent":100}}}`)
		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:split-env:environment:staging", "rolloutPercent", "abc").Err())
		p := started(t, provider.New(rdb, opts...))

		prod := p.BooleanEvaluation(ctx, "split-env", false, of.FlattenedContext{of.TargetingKey: "u1"})
		require.NoError(t, prod.Error(), "production still answers")
		assert.True(t, prod.Value)
		st := p.BooleanEvaluation(ctx, "split-env", false, of.FlattenedContext{of.TargetingKey: "u1", "environment": "staging"})
		assert.Equal(t, of.ParseErrorCode, st.ResolutionDetail().ErrorCode)
		assert.Contains(t, st.ResolutionDetail().ErrorMessage, "environments.staging.rolloutPercent")
		r := p.Resolve(ctx, "split-env", of.FlattenedContext{of.TargetingKey: "u1", "environment": "staging"})
		assert.Equal(t, of.ParseErrorCode, r.ErrorCode)

		flags, err := p.Flags(ctx)
		require.NoError(t, err)
		require.Len(t, flags, 1)
		assert.NoError(t, flags[0].Err)
		assert.Contains(t, flags[0].EnvErrs, "staging")
		_, err = store.New(rdb).Get(ctx, "split-env")
		assert.ErrorIs(t, err, store.ErrCorrupt, "the store still refuses the flag as a whole: nothing writes the partial one back")
	})
}
