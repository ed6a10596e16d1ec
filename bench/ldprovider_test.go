package bench

import (
	"context"
	"strconv"

	ld "github.com/launchdarkly/go-server-sdk/v7"
	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/internal/ldcompat"
)

// ldShapedProvider is LaunchDarkly's Go SDK behind go-sdk, shaped as
// LaunchDarkly's OpenFeature provider (go-sdk-contrib's
// providers/launchdarkly) works: on every evaluation it builds an
// ldcontext.Context from the flattened OpenFeature context
// (ldcompat.ToContext), calls the SDK's …VariationDetail and maps the
// detail onto OpenFeature's (ldcompat.Reason). That provider's module is
// not served by the module proxy here, so this is a reconstruction of its
// boolean path only; BenchmarkClient uses it to
// compare the whole application path, go-sdk included, like for like.
type ldShapedProvider struct{ c *ld.LDClient }

var _ of.FeatureProvider = ldShapedProvider{}

func (ldShapedProvider) Metadata() of.Metadata { return of.Metadata{Name: "launchdarkly-shaped"} }
func (ldShapedProvider) Hooks() []of.Hook      { return nil }

func (p ldShapedProvider) BooleanEvaluation(_ context.Context, flag string, def bool, fc of.FlattenedContext) of.BoolResolutionDetail {
	lc, err := ldcompat.ToContext(fc)
	if err != nil {
		return of.BoolResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{
			Reason: of.ErrorReason, ResolutionError: of.NewTargetingKeyMissingResolutionError(err.Error())}}
	}
	v, d, err := p.c.BoolVariationDetail(flag, lc, def)
	detail := of.ProviderResolutionDetail{Reason: ldcompat.Reason(d.Reason.GetKind())}
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
