package bench

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	growthbook "github.com/growthbook/growthbook-golang"
	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldbuilders"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldmodel"
	ld "github.com/launchdarkly/go-server-sdk/v7"
	"github.com/launchdarkly/go-server-sdk/v7/ldcomponents"
	"github.com/launchdarkly/go-server-sdk/v7/testhelpers/ldtestdata"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// The equivalent flag that every latency and peer benchmark evaluates, in
// each system's own form: the tutorial's checkout-banner in production, on
// for the user user-123 and for the region us-west, otherwise on for 25 % of
// subjects by bucket.
//
// What is not alike: redisflags finds the environment inside the flag (one
// more map lookup), while LaunchDarkly and GrowthBook keep one environment
// per SDK key and have none in the flag; each system buckets with its own
// hash (sha256 of "flag:environment:subject"; LaunchDarkly sha1 of
// "flag.salt.key"; GrowthBook FNV-1a of "key" + "flag"), so the same
// subject may be in the 25 % in one system and not in another. The rollout
// shares, and the answers for the listed user and region, are the same
// (TestPeersAgreeOnTheEquivalentFlag).
const (
	eqFlag    = "checkout-banner"
	eqEnv     = "production"
	eqPercent = 25
	eqUser    = "user-123"
	eqRegion  = "us-west"
)

// benchSubjects is the number of subjects the benchmarks rotate through:
// user-0 … user-1023 (user-123 among them), each with a region. It is a
// power of two, so a loop indexes with i&(benchSubjects-1).
const benchSubjects = 1024

// subjectKey is subject i's key (targeting key, LaunchDarkly context key,
// GrowthBook id).
func subjectKey(i int) string { return "user-" + strconv.Itoa(i) }

// subjectRegion is subject i's region: the listed us-west for one subject in
// 64, eu-central for the others, so that most evaluations reach the rollout
// step and take both its hit and miss paths.
func subjectRegion(i int) string {
	if i%64 == 63 {
		return eqRegion
	}
	return "eu-central"
}

// equivalentFlag is the redisflags definition (docs/design.md §2, the tutorial's
// JSON): no payload, as the peers' flags are plain booleans.
func equivalentFlag() evaluator.Flag {
	return evaluator.Flag{Key: eqFlag, DefaultEnabled: true, Environments: map[string]evaluator.Environment{
		eqEnv: {Enabled: true, RolloutPercent: eqPercent, AllowlistUsers: []string{eqUser}, AllowlistRegions: []string{eqRegion}},
	}}
}

// The inputs of subjects 0 … n-1 in each system's form. Benchmarks build
// them before their timed loops, the same way for every system.

func evaluatorInputs(n int) []evaluator.Input {
	in := make([]evaluator.Input, n)
	for i := range in {
		in[i] = evaluator.Input{Environment: eqEnv, Subject: subjectKey(i), Region: subjectRegion(i)}
	}
	return in
}

// flatContexts are what an OpenFeature provider receives.
func flatContexts(n int) []of.FlattenedContext {
	fc := make([]of.FlattenedContext, n)
	for i := range fc {
		fc[i] = of.FlattenedContext{of.TargetingKey: subjectKey(i), "region": subjectRegion(i)}
	}
	return fc
}

// evaluationContexts are what an application passes to an OpenFeature
// client.
func evaluationContexts(n int) []of.EvaluationContext {
	ec := make([]of.EvaluationContext, n)
	for i := range ec {
		ec[i] = of.NewEvaluationContext(subjectKey(i), map[string]any{"region": subjectRegion(i)})
	}
	return ec
}

// ldContexts are LaunchDarkly user contexts with a "region" attribute.
func ldContexts(n int) []ldcontext.Context {
	c := make([]ldcontext.Context, n)
	for i := range c {
		c[i] = ldcontext.NewBuilder(subjectKey(i)).SetString("region", subjectRegion(i)).Build()
	}
	return c
}

// gbClients are GrowthBook child clients, one per subject, carrying its
// attributes: GrowthBook's way to evaluate for a user.
func gbClients(tb testing.TB, parent *growthbook.Client, n int) []*growthbook.Client {
	tb.Helper()
	c := make([]*growthbook.Client, n)
	for i := range c {
		var err error
		c[i], err = parent.WithAttributes(growthbook.Attributes{"id": subjectKey(i), "region": subjectRegion(i)})
		require.NoError(tb, err)
	}
	return c
}

// miniredisClient starts a miniredis holding the equivalent flag and
// returns a client for it; both are closed when tb ends.
func miniredisClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	m := miniredis.RunT(tb)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// storeFlag writes the equivalent flag through the store.
func storeFlag(tb testing.TB, rdb redis.UniversalClient) {
	tb.Helper()
	_, err := store.New(rdb).Upsert(context.Background(), equivalentFlag())
	require.NoError(tb, err)
}

// startedProvider stores the equivalent flag in rdb and returns a provider
// over it, initialised and shut down when tb ends.
func startedProvider(tb testing.TB, rdb redis.UniversalClient, opts ...provider.Option) *provider.Provider {
	tb.Helper()
	storeFlag(tb, rdb)
	p := provider.New(rdb, opts...)
	require.NoError(tb, p.Init(of.EvaluationContext{}))
	tb.Cleanup(p.Shutdown)
	return p
}

// equivalentLDFlag is LaunchDarkly's form: variations [false, true], the
// user target list user-123 → true, a rule "region is one of us-west" →
// true, and a fallthrough rollout of 25 % true / 75 % false bucketed by the
// context key. The builder preprocesses it (target and clause sets), as the
// SDK does with flags it receives.
func equivalentLDFlag() ldmodel.FeatureFlag {
	return ldbuilders.NewFlagBuilder(eqFlag).Version(1).On(true).Salt(eqFlag).
		Variations(ldvalue.Bool(false), ldvalue.Bool(true)).OffVariation(0).
		AddTarget(1, eqUser).
		AddRule(ldbuilders.NewRuleBuilder().ID("allowlist-region").Variation(1).
			Clauses(ldbuilders.Clause("region", ldmodel.OperatorIn, ldvalue.String(eqRegion)))).
		Fallthrough(ldbuilders.Rollout(ldbuilders.Bucket(1, eqPercent*1000), ldbuilders.Bucket(0, (100-eqPercent)*1000))).
		Build()
}

// ldClient is a LaunchDarkly server SDK client that never touches the
// network: flags from the ldtestdata source into the SDK's in-memory store,
// no streaming or polling, no analytics events, no diagnostics, no logging.
// It is closed when tb ends.
func ldClient(tb testing.TB) *ld.LDClient {
	tb.Helper()
	td := ldtestdata.DataSource()
	td.UsePreconfiguredFlag(equivalentLDFlag())
	c, err := ld.MakeCustomClient("sdk-offline-bench", ld.Config{
		DataSource:       td,
		DataStore:        ldcomponents.InMemoryDataStore(),
		Events:           ldcomponents.NoEvents(),
		DiagnosticOptOut: true,
		Logging:          ldcomponents.NoLogging(),
	}, 5*time.Second)
	require.NoError(tb, err)
	require.True(tb, c.Initialized())
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// ldFlagProvider serves the one flag to LaunchDarkly's evaluator alone
// (evaluation.DataProvider).
type ldFlagProvider struct{ flag *ldmodel.FeatureFlag }

func (p ldFlagProvider) GetFeatureFlag(key string) *ldmodel.FeatureFlag {
	if key == p.flag.Key {
		return p.flag
	}
	return nil
}

func (ldFlagProvider) GetSegment(string) *ldmodel.Segment { return nil }

// equivalentGBFeatures is GrowthBook's form: two force rules (id in
// [user-123], region in [us-west]) and a rollout rule (force true for a
// coverage of 0.25, hashed on id); false otherwise.
const equivalentGBFeatures = `{"checkout-banner":{"defaultValue":false,"rules":[
	{"id":"allowlist-user","condition":{"id":{"$in":["user-123"]}},"force":true},
	{"id":"allowlist-region","condition":{"region":{"$in":["us-west"]}},"force":true},
	{"id":"rollout","coverage":0.25,"hashAttribute":"id","force":true}]}}`

// gbClient is a GrowthBook client with the features given as JSON: no data
// source (so no network), no tracking, logging discarded.
func gbClient(tb testing.TB) *growthbook.Client {
	tb.Helper()
	c, err := growthbook.NewClient(context.Background(),
		growthbook.WithJsonFeatures(equivalentGBFeatures),
		growthbook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// memFlags are go-sdk's in-memory provider flags for the client path:
//
//   - "checkout-banner": the equivalent flag's shape, variants on/off and a
//     ContextEvaluator doing what redisflags does (user list, region list,
//     evaluator.Bucket below 25) and answering with the same reason, variant
//     and shared, prebuilt metadata;
//   - "static": a flag that is on for everyone, the SDK's floor.
func memFlags() map[string]memprovider.InMemoryFlag {
	meta := func(reason string) of.FlagMetadata {
		return of.FlagMetadata{"environment": eqEnv, "evaluationReason": reason}
	}
	userMeta, regionMeta := meta("allowlist-user"), meta("allowlist-region")
	hitMeta, missMeta := meta("rollout-hit"), meta("rollout-miss")
	eval := func(f memprovider.InMemoryFlag, fc of.FlattenedContext) (any, of.ProviderResolutionDetail) {
		subject, _ := fc[of.TargetingKey].(string)
		region, _ := fc["region"].(string)
		switch {
		case subject == eqUser:
			return f.Variants["on"], of.ProviderResolutionDetail{Reason: of.TargetingMatchReason, Variant: "on", FlagMetadata: userMeta}
		case region == eqRegion:
			return f.Variants["on"], of.ProviderResolutionDetail{Reason: of.TargetingMatchReason, Variant: "on", FlagMetadata: regionMeta}
		case subject == "":
			return false, of.ProviderResolutionDetail{Reason: of.ErrorReason, ResolutionError: of.NewTargetingKeyMissingResolutionError("no subject")}
		case evaluator.Bucket(eqFlag, eqEnv, subject) < eqPercent:
			return f.Variants["on"], of.ProviderResolutionDetail{Reason: of.SplitReason, Variant: "on", FlagMetadata: hitMeta}
		default:
			return f.Variants["off"], of.ProviderResolutionDetail{Reason: of.SplitReason, Variant: "off", FlagMetadata: missMeta}
		}
	}
	variants := func() map[string]any { return map[string]any{"on": true, "off": false} }
	return map[string]memprovider.InMemoryFlag{
		eqFlag:   {Key: eqFlag, State: memprovider.Enabled, DefaultVariant: "off", Variants: variants(), ContextEvaluator: &eval},
		"static": {Key: "static", State: memprovider.Enabled, DefaultVariant: "on", Variants: variants()},
	}
}
