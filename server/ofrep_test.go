package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
)

// ofrepProvider is a minimal OpenFeature provider that evaluates over OFREP
// (single-flag endpoint), following the OFREP provider spec: 200 carries
// the value, checked against the asked type (no value: the caller's
// default); 400 an errorCode; 404 FLAG_NOT_FOUND; anything else GENERAL.
//
// It is written here because the OpenFeature Go OFREP provider
// (github.com/open-feature/go-sdk-contrib/providers/ofrep) cannot be had
// from the module proxy this project builds with; the test still runs every
// evaluation through the OpenFeature SDK (go-sdk v1.20.0).
type ofrepProvider struct{ url string }

func (p *ofrepProvider) Metadata() of.Metadata { return of.Metadata{Name: "ofrep-test"} }
func (p *ofrepProvider) Hooks() []of.Hook      { return nil }

// resolve posts one evaluation; value is nil when the answer has none.
func (p *ofrepProvider) resolve(ctx context.Context, flag string, fc of.FlattenedContext) (any, of.ProviderResolutionDetail) {
	fail := func(e of.ResolutionError) (any, of.ProviderResolutionDetail) {
		return nil, of.ProviderResolutionDetail{ResolutionError: e, Reason: of.ErrorReason}
	}
	body, _ := json.Marshal(map[string]any{"context": map[string]any(fc)})
	req, err := http.NewRequestWithContext(ctx, "POST", p.url+"/ofrep/v1/evaluate/flags/"+flag, bytes.NewReader(body))
	if err != nil {
		return fail(of.NewGeneralResolutionError(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(of.NewGeneralResolutionError(err.Error()))
	}
	defer resp.Body.Close()
	var r struct {
		Value        json.RawMessage `json:"value"`
		Reason       string          `json:"reason"`
		Variant      string          `json:"variant"`
		Metadata     map[string]any  `json:"metadata"`
		ErrorCode    string          `json:"errorCode"`
		ErrorDetails string          `json:"errorDetails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fail(of.NewParseErrorResolutionError(err.Error()))
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return fail(of.NewFlagNotFoundResolutionError(r.ErrorDetails))
	case http.StatusBadRequest:
		switch r.ErrorCode {
		case string(of.ParseErrorCode):
			return fail(of.NewParseErrorResolutionError(r.ErrorDetails))
		case string(of.TargetingKeyMissingCode):
			return fail(of.NewTargetingKeyMissingResolutionError(r.ErrorDetails))
		case string(of.InvalidContextCode):
			return fail(of.NewInvalidContextResolutionError(r.ErrorDetails))
		}
		return fail(of.NewGeneralResolutionError(r.ErrorDetails))
	default:
		return fail(of.NewGeneralResolutionError(fmt.Sprintf("status %d: %s", resp.StatusCode, r.ErrorDetails)))
	}
	d := of.ProviderResolutionDetail{Reason: of.Reason(r.Reason), Variant: r.Variant, FlagMetadata: r.Metadata}
	if len(r.Value) == 0 {
		return nil, d
	}
	var v any
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return fail(of.NewParseErrorResolutionError(err.Error()))
	}
	return v, d
}

func typed[T any](p *ofrepProvider, ctx context.Context, flag string, def T, fc of.FlattenedContext, conv func(any) (T, bool)) (T, of.ProviderResolutionDetail) {
	v, d := p.resolve(ctx, flag, fc)
	if d.ResolutionError != (of.ResolutionError{}) || v == nil {
		return def, d
	}
	t, ok := conv(v)
	if !ok {
		return def, of.ProviderResolutionDetail{ResolutionError: of.NewTypeMismatchResolutionError(fmt.Sprintf("value %v is a %T", v, v)), Reason: of.ErrorReason}
	}
	return t, d
}

func (p *ofrepProvider) BooleanEvaluation(ctx context.Context, flag string, def bool, fc of.FlattenedContext) of.BoolResolutionDetail {
	v, d := typed(p, ctx, flag, def, fc, func(v any) (bool, bool) { b, ok := v.(bool); return b, ok })
	return of.BoolResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

func (p *ofrepProvider) StringEvaluation(ctx context.Context, flag string, def string, fc of.FlattenedContext) of.StringResolutionDetail {
	v, d := typed(p, ctx, flag, def, fc, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
	return of.StringResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

func (p *ofrepProvider) FloatEvaluation(ctx context.Context, flag string, def float64, fc of.FlattenedContext) of.FloatResolutionDetail {
	v, d := typed(p, ctx, flag, def, fc, func(v any) (float64, bool) { f, ok := v.(float64); return f, ok })
	return of.FloatResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

func (p *ofrepProvider) IntEvaluation(ctx context.Context, flag string, def int64, fc of.FlattenedContext) of.IntResolutionDetail {
	v, d := typed(p, ctx, flag, def, fc, func(v any) (int64, bool) {
		f, ok := v.(float64)
		return int64(f), ok && f == float64(int64(f))
	})
	return of.IntResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

func (p *ofrepProvider) ObjectEvaluation(ctx context.Context, flag string, def any, fc of.FlattenedContext) of.InterfaceResolutionDetail {
	v, d := typed(p, ctx, flag, def, fc, func(v any) (any, bool) {
		switch v.(type) {
		case map[string]any, []any:
			return v, true
		}
		return nil, false
	})
	return of.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: d}
}

var domainSeq atomic.Int64

// ofrepClient registers an ofrepProvider for url under a domain of its own
// and returns an OpenFeature client of that domain.
func ofrepClient(t *testing.T, url string) *of.Client {
	t.Helper()
	domain := fmt.Sprintf("ofrep-%d", domainSeq.Add(1))
	require.NoError(t, of.SetNamedProviderAndWait(domain, &ofrepProvider{url: url}))
	return of.NewClient(domain)
}

func env100(value string) evaluator.Environment {
	e := evaluator.Environment{Enabled: true, RolloutPercent: 100}
	if value != "" {
		e.Value = json.RawMessage(value)
	}
	return e
}

// seedTypedFlags writes one flag per OFREP value type, and a few more.
func seedTypedFlags(t *testing.T, ts *testServer) {
	t.Helper()
	flags := []evaluator.Flag{
		{Key: "dark-mode", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100("")}},
		{Key: "banner-text", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100(`"Hello"`)}},
		{Key: "max-items", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100(`25`)}},
		{Key: "discount", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100(`0.15`)}},
		{Key: "checkout-config", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100(`{"title":"Fast checkout","steps":3}`)}},
		{Key: "tags", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100(`["a","b"]`)}},
		{Key: "old-banner", DefaultEnabled: false, Environments: map[string]evaluator.Environment{"production": env100(`"Old"`)}},
		{Key: "half", DefaultEnabled: true, ExpiresAt: "2026-12-31", Environments: map[string]evaluator.Environment{
			"production": {Enabled: true, RolloutPercent: 50, AllowlistUsers: []string{"user-123"}, AllowlistRegions: []string{"us-west"}}}},
	}
	for _, f := range flags {
		_, err := ts.store.Upsert(t.Context(), f)
		require.NoError(t, err)
	}
	ts.settle(t)
}

func TestOFREPEveryTypeThroughOpenFeature(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		seedTypedFlags(t, ts)
		ctx := t.Context()
		c := ofrepClient(t, ts.url)
		user3 := of.NewEvaluationContext("user-3", map[string]any{"region": "eu-central"})

		b, err := c.BooleanValueDetails(ctx, "dark-mode", false, user3)
		require.NoError(t, err)
		assert.True(t, b.Value)
		assert.Equal(t, of.DefaultReason, b.Reason, "100% rollout")
		assert.Equal(t, "on", b.Variant)
		assert.Equal(t, of.FlagMetadata{"environment": "production", "evaluationReason": "rollout-hit", "version": float64(1)}, b.FlagMetadata)

		s, err := c.StringValueDetails(ctx, "banner-text:payload", "default", user3)
		require.NoError(t, err)
		assert.Equal(t, "Hello", s.Value)
		assert.Equal(t, "on", s.Variant)

		i, err := c.IntValueDetails(ctx, "max-items:payload", 0, user3)
		require.NoError(t, err)
		assert.Equal(t, int64(25), i.Value)

		f, err := c.FloatValueDetails(ctx, "discount:payload", 0, user3)
		require.NoError(t, err)
		assert.InDelta(t, 0.15, f.Value, 1e-12)

		o, err := c.ObjectValueDetails(ctx, "checkout-config:payload", nil, user3)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"title": "Fast checkout", "steps": float64(3)}, o.Value)

		a, err := c.ObjectValue(ctx, "tags:payload", nil, user3)
		require.NoError(t, err)
		assert.Equal(t, []any{"a", "b"}, a)

		// Over OFREP a tutorial flag is a switch, whatever its payload: Go's
		// BooleanValue (docs/design.md §8).
		sw, err := c.BooleanValueDetails(ctx, "banner-text", false, user3)
		require.NoError(t, err, "a flag with a payload is a switch")
		assert.True(t, sw.Value)
		assert.Equal(t, "on", sw.Variant)

		off, err := c.StringValueDetails(ctx, "old-banner:payload", "fallback", user3)
		require.NoError(t, err, "off with a payload: no value, the caller's default, not an error")
		assert.Equal(t, "fallback", off.Value)
		assert.Equal(t, of.DisabledReason, off.Reason)
		assert.Equal(t, "off", off.Variant)

		half, err := c.BooleanValueDetails(ctx, "half", false, user3)
		require.NoError(t, err)
		assert.Equal(t, evaluator.Bucket("half", "production", "user-3") < 50, half.Value)
		assert.Equal(t, of.SplitReason, half.Reason)
		assert.Equal(t, "2026-12-31", half.FlagMetadata["expiresAt"], "the kill date travels as metadata")

		ld := of.NewEvaluationContext("", map[string]any{"kind": "multi", "user": map[string]any{"key": "user-9", "region": "us-west"}})
		m, err := c.BooleanValueDetails(ctx, "half", false, ld)
		require.NoError(t, err)
		assert.True(t, m.Value)
		assert.Equal(t, of.TargetingMatchReason, m.Reason)
		assert.Equal(t, "allowlist-region", m.FlagMetadata["evaluationReason"])

		staging := of.NewEvaluationContext("user-3", map[string]any{"environment": "staging"})
		st, err := c.BooleanValueDetails(ctx, "dark-mode", true, staging)
		require.NoError(t, err)
		assert.False(t, st.Value)
		assert.Equal(t, of.DefaultReason, st.Reason)
		assert.Equal(t, "environment-missing", st.FlagMetadata["evaluationReason"])

		errorCases := []struct {
			name string
			eval func() (of.ResolutionDetail, error)
			code of.ErrorCode
		}{
			{"flag not found", func() (of.ResolutionDetail, error) {
				d, err := c.BooleanValueDetails(ctx, "no-such-flag", true, user3)
				assert.True(t, d.Value)
				return d.ResolutionDetail, err
			}, of.FlagNotFoundCode},
			{"type mismatch", func() (of.ResolutionDetail, error) {
				d, err := c.BooleanValueDetails(ctx, "banner-text:payload", false, user3)
				return d.ResolutionDetail, err
			}, of.TypeMismatchCode},
			{"int asked of a float", func() (of.ResolutionDetail, error) {
				d, err := c.IntValueDetails(ctx, "discount:payload", 7, user3)
				assert.Equal(t, int64(7), d.Value)
				return d.ResolutionDetail, err
			}, of.TypeMismatchCode},
			{"targeting key missing", func() (of.ResolutionDetail, error) {
				d, err := c.BooleanValueDetails(ctx, "half", false, of.NewEvaluationContext("", map[string]any{"region": "eu"}))
				return d.ResolutionDetail, err
			}, of.TargetingKeyMissingCode},
			{"invalid context", func() (of.ResolutionDetail, error) {
				d, err := c.BooleanValueDetails(ctx, "half", false, of.NewEvaluationContext("user-3", map[string]any{"region": 7}))
				return d.ResolutionDetail, err
			}, of.InvalidContextCode},
		}
		for _, tt := range errorCases {
			t.Run(tt.name, func(t *testing.T) {
				d, err := tt.eval()
				require.Error(t, err)
				assert.Equal(t, tt.code, d.ErrorCode)
				assert.Equal(t, of.ErrorReason, d.Reason)
			})
		}

		require.NoError(t, rdb.HSet(ctx, "feature-flags:flag:max-items:environment:production", "rolloutPercent", "abc").Err())
		ts.settle(t)
		d, err := c.IntValueDetails(ctx, "max-items:payload", 3, user3)
		require.Error(t, err)
		assert.Equal(t, of.ParseErrorCode, d.ErrorCode)
		assert.Contains(t, d.ErrorMessage, "environments.production.rolloutPercent")
		assert.Equal(t, int64(3), d.Value)
		s, err = c.StringValueDetails(ctx, "banner-text:payload", "default", user3)
		require.NoError(t, err, "one corrupt flag leaves the others alone")
		assert.Equal(t, "Hello", s.Value)
	})
}

// bulk posts a bulk evaluation.
func bulk(t *testing.T, url, body, ifNoneMatch string) (*http.Response, []map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", url+"/ofrep/v1/evaluate/flags", strings.NewReader(body))
	require.NoError(t, err)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		require.Empty(t, raw, "a 304 has no body")
		return resp, nil
	}
	var out struct {
		Flags []map[string]any `json:"flags"`
	}
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp, out.Flags
}

func TestOFREPBulkWithETags(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		seedTypedFlags(t, ts)
		const ctxUser3 = `{"context":{"targetingKey":"user-3","region":"eu-central"}}`

		resp, flags := bulk(t, ts.url, ctxUser3, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		tag := resp.Header.Get("ETag")
		require.NotEmpty(t, tag)
		keys := make([]string, len(flags))
		byKey := map[string]map[string]any{}
		for i, f := range flags {
			keys[i] = f["key"].(string)
			byKey[keys[i]] = f
		}
		var want []string
		for _, k := range []string{"banner-text", "checkout-config", "dark-mode", "discount", "half", "max-items", "old-banner", "tags"} {
			want = append(want, k, k+":payload")
		}
		assert.Equal(t, want, keys, "every tutorial flag with its payload companion")
		assert.Equal(t, true, byKey["banner-text"]["value"], "a switch")
		assert.Equal(t, "Hello", byKey["banner-text:payload"]["value"])
		assert.Equal(t, float64(25), byKey["max-items:payload"]["value"])
		assert.Equal(t, true, byKey["dark-mode"]["value"])
		assert.Equal(t, false, byKey["old-banner"]["value"])
		assert.NotContains(t, byKey["old-banner:payload"], "value", "off with a payload: the code default")
		assert.Equal(t, "DISABLED", byKey["old-banner:payload"]["reason"])

		resp, flags = bulk(t, ts.url, ctxUser3, tag)
		assert.Equal(t, http.StatusNotModified, resp.StatusCode)
		assert.Nil(t, flags)
		resp, _ = bulk(t, ts.url, ctxUser3, `"other", `+tag)
		assert.Equal(t, http.StatusNotModified, resp.StatusCode, "one of a list")

		resp, _ = bulk(t, ts.url, `{"context":{"targetingKey":"user-4"}}`, tag)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "another context, another ETag")
		assert.NotEqual(t, tag, resp.Header.Get("ETag"))

		resp, flags = bulk(t, ts.url, `{}`, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for _, f := range flags {
			if f["key"] == "half" {
				assert.Equal(t, "TARGETING_KEY_MISSING", f["errorCode"], "failures are items of the bulk answer")
				assert.NotContains(t, f, "value")
			}
		}

		// A write by another process reaches the snapshot through the change
		// notice: the old ETag stops matching within milliseconds.
		start := time.Now()
		other := evaluator.Flag{Key: "banner-text", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env100(`"Bonjour"`)}}
		_, err := ts.store.Upsert(t.Context(), other)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			resp, _ := bulk(t, ts.url, ctxUser3, tag)
			return resp.StatusCode == http.StatusOK
		}, 5*time.Second, 2*time.Millisecond)
		t.Logf("a change notice reached the OFREP snapshot in %v", time.Since(start))
		resp, flags = bulk(t, ts.url, ctxUser3, tag)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for _, f := range flags {
			if f["key"] == "banner-text:payload" {
				assert.Equal(t, "Bonjour", f["value"])
			}
		}
	})
}

func TestOFREPNotLoadedYet(t *testing.T) {
	s := New(nil, nil)
	for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/x"} {
		req, err := http.NewRequest("POST", path, strings.NewReader(`{}`))
		require.NoError(t, err)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		assert.Equal(t, http.StatusInternalServerError, w.Code)
		assert.JSONEq(t, `{"errorCode":"GENERAL","errorDetails":"flags are not loaded yet: Redis has not answered"}`, w.Body.String())
	}
}

// TestOFREPServesVariantFlags: a variant flag's rules see the whole OFREP
// context, and the reasons are the provider's.
func TestOFREPServesVariantFlags(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		ctx := t.Context()
		_, err := ts.store.Upsert(ctx, evaluator.Flag{Key: "theme", DefaultEnabled: true,
			Variants:       map[string]json.RawMessage{"dark": json.RawMessage(`"dark"`), "light": json.RawMessage(`"light"`)},
			DefaultVariant: "light",
			Rules:          []evaluator.Rule{{Conditions: []evaluator.Condition{{Attribute: "plan", Op: evaluator.OpEquals, Values: []any{"pro"}}}, Variant: "dark"}},
			Metadata:       map[string]any{"team": "web"}})
		require.NoError(t, err)
		ts.settle(t)
		c := ofrepClient(t, ts.url)

		d, err := c.StringValueDetails(ctx, "theme", "x", of.NewEvaluationContext("u1", map[string]any{"plan": "pro"}))
		require.NoError(t, err)
		assert.Equal(t, "dark", d.Value)
		assert.Equal(t, "dark", d.Variant)
		assert.Equal(t, of.TargetingMatchReason, d.Reason)
		assert.Equal(t, "web", d.FlagMetadata["team"])

		d, err = c.StringValueDetails(ctx, "theme", "x", of.NewEvaluationContext("u1", map[string]any{"plan": "free"}))
		require.NoError(t, err)
		assert.Equal(t, "light", d.Value)
		assert.Equal(t, of.DefaultReason, d.Reason)

		resp, body := ts.do(t, http.MethodGet, "/api/flags/theme/evaluate?subject=u1", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.JSONEq(t, `{"flagKey":"theme","environment":"production","subject":"u1","enabled":true,"reason":"default","bucket":null,"value":"light","variant":"light"}`, body)
	})
}

// TestOFREPBulkBadAttributeFailsOnlyTheFlagsItAffects: a context attribute
// of the wrong type is an INVALID_CONTEXT item for the flags that read it,
// not a 400 for the whole request (which would leave a web client serving
// the previous user's values).
func TestOFREPBulkBadAttributeFailsOnlyTheFlagsItAffects(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		seedTypedFlags(t, ts)
		resp, flags := bulk(t, ts.url, `{"context":{"targetingKey":"user-3","region":7}}`, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotEmpty(t, flags)
		for _, f := range flags {
			assert.Equal(t, "INVALID_CONTEXT", f["errorCode"], f["key"])
			assert.Contains(t, f["errorDetails"], "region", "the message names the attribute")
		}
		resp, _ = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{"context":[1]}`))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a body that is no context at all is still a request error")
	})
}

// FuzzReadContext: any body gives a context or an error, never a panic.
func FuzzReadContext(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"context":null}`, `{"context":{"targetingKey":"u","region":7}}`, `{"context":[1]}`, `[`, `{"context":{"kind":"multi","user":{"key":"k"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fc, err := readContext(body)
		if err == nil && fc == nil {
			t.Fatal("no error and no context")
		}
	})
}

// TestAParseErrorFailsOnlyItsEnvironmentOnEveryRoute: OFREP (single and
// bulk) and the evaluate route fail only the environment whose field does
// not parse.
func TestAParseErrorFailsOnlyItsEnvironmentOnEveryRoute(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		f, err := evaluator.ParseFlag([]byte(`{"defaultEnabled":true,"environments":{
			"production":{"enabled":true,"rolloutPercent":100},"staging":{"enabled":true,"rolloutPercent":100}}}`), "split-env")
		require.NoError(t, err)
		_, err = ts.store.Upsert(t.Context(), f)
		require.NoError(t, err)
		require.NoError(t, rdb.HSet(t.Context(), "feature-flags:flag:split-env:environment:staging", "enabled", "maybe").Err())
		ts.settle(t)

		resp, body := ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags/split-env", strings.NewReader(`{"context":{"targetingKey":"u"}}`))
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
		resp, body = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags/split-env", strings.NewReader(`{"context":{"targetingKey":"u","environment":"staging"}}`))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		assert.Contains(t, body, `"errorCode":"PARSE_ERROR"`)
		assert.Contains(t, body, "environments.staging.enabled")
		_, flags := bulk(t, ts.url, `{"context":{"targetingKey":"u"}}`, "")
		require.NotEmpty(t, flags)
		assert.Equal(t, true, flags[0]["value"], "bulk in production")

		resp, body = ts.do(t, http.MethodGet, "/api/flags/split-env/evaluate?subject=u", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
		resp, body = ts.do(t, http.MethodGet, "/api/flags/split-env/evaluate?subject=u&environment=staging", nil)
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, body)
		assert.Contains(t, body, "environments.staging.enabled")

		// A flag that does not parse at all: its payload key is a
		// PARSE_ERROR item too, as Go answers it (not a missing flag).
		require.NoError(t, rdb.HSet(t.Context(), "feature-flags:flag:split-env", "defaultEnabled", "maybe").Err())
		ts.settle(t)
		_, flags = bulk(t, ts.url, `{"context":{"targetingKey":"u"}}`, "")
		require.Len(t, flags, 2)
		assert.Equal(t, "split-env:payload", flags[1]["key"])
		assert.Equal(t, "PARSE_ERROR", flags[1]["errorCode"])
	})
}
