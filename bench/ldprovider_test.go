package bench

import (
	"context"
	"strconv"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldreason"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	ld "github.com/launchdarkly/go-server-sdk/v7"
	of "github.com/open-feature/go-sdk/openfeature"
)

// ldShapedProvider is LaunchDarkly's Go SDK behind go-sdk, shaped as
// LaunchDarkly's OpenFeature provider (go-sdk-contrib's
// providers/launchdarkly) works: on every evaluation it builds an
// ldcontext.Context from the flattened OpenFeature context (targetingKey
// or key, kind, every other attribute), calls the SDK's …VariationDetail
// and maps the detail onto OpenFeature's. That provider's module is not
// served by the module proxy here, so this is a reconstruction from its
// documented behaviour, of the boolean path only; BenchmarkClient uses it to
// compare the whole application path, go-sdk included, like for like.
type ldShapedProvider struct{ c *ld.LDClient }

var _ of.FeatureProvider = ldShapedProvider{}

func (ldShapedProvider) Metadata() of.Metadata { return of.Metadata{Name: "launchdarkly-shaped"} }
func (ldShapedProvider) Hooks() []of.Hook      { return nil }

// ldContextOf converts as LaunchDarkly's OpenFeature provider does for a
// single-kind context (the benchmarks send no multi-contexts).
func ldContextOf(fc of.FlattenedContext) ldcontext.Context {
	key, _ := fc[of.TargetingKey].(string)
	if key == "" {
		key, _ = fc["key"].(string)
	}
	kind := ldcontext.DefaultKind
	if k, ok := fc["kind"].(string); ok && k != "" {
		kind = ldcontext.Kind(k)
	}
	b := ldcontext.NewBuilder(key).Kind(kind)
	for name, v := range fc {
		switch name {
		case of.TargetingKey, "key", "kind":
			continue
		}
		b.SetValue(name, ldvalue.CopyArbitraryValue(v))
	}
	return b.Build()
}

func ldReasonOf(r ldreason.EvaluationReason) of.Reason {
	switch r.GetKind() {
	case ldreason.EvalReasonOff:
		return of.DisabledReason
	case ldreason.EvalReasonTargetMatch:
		return of.TargetingMatchReason
	case ldreason.EvalReasonError:
		return of.ErrorReason
	}
	return of.Reason(r.GetKind())
}

func (p ldShapedProvider) BooleanEvaluation(_ context.Context, flag string, def bool, fc of.FlattenedContext) of.BoolResolutionDetail {
	v, d, err := p.c.BoolVariationDetail(flag, ldContextOf(fc), def)
	detail := of.ProviderResolutionDetail{Reason: ldReasonOf(d.Reason)}
	if err != nil {
		detail.ResolutionError = of.NewGeneralResolutionError(err.Error())
	}
	if i, ok := d.VariationIndex.Get(); ok {
		detail.Variant = strconv.Itoa(i)
	}
	return of.BoolResolutionDetail{Value: v, ProviderResolutionDetail: detail}
}

// The other types are not benchmarked: they answer the default.

func (ldShapedProvider) StringEvaluation(_ context.Context, _ string, def string, _ of.FlattenedContext) of.StringResolutionDetail {
	return of.StringResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}

func (ldShapedProvider) FloatEvaluation(_ context.Context, _ string, def float64, _ of.FlattenedContext) of.FloatResolutionDetail {
	return of.FloatResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}

func (ldShapedProvider) IntEvaluation(_ context.Context, _ string, def int64, _ of.FlattenedContext) of.IntResolutionDetail {
	return of.IntResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}

func (ldShapedProvider) ObjectEvaluation(_ context.Context, _ string, def any, _ of.FlattenedContext) of.InterfaceResolutionDetail {
	return of.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}
