package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/importer"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
)

// The LaunchDarkly equivalence data (importer's, and the example's), which
// importer's tests prove the Go provider evaluates as LaunchDarkly's SDK.
var ldDataFiles = []string{"../importer/testdata/launchdarkly/flags.json", "../examples/from-launchdarkly/flags.json"}

// ldTestContexts are contexts as LaunchDarkly applications send them:
// users with rule attributes, organisations, multi-contexts, and some
// LaunchDarkly refuses (no key). They go through JSON, as over OFREP.
func ldTestContexts(n int) []map[string]any {
	r := rand.New(rand.NewPCG(14, 8))
	pick := func(v ...any) any { return v[r.IntN(len(v))] }
	out := []map[string]any{{"targetingKey": "user-1001", "plan": "free"}}
	for i := range n {
		u := map[string]any{"key": fmt.Sprintf("user-%d", r.IntN(2000))}
		for name, v := range map[string]any{
			"plan": pick("free", "pro", "team", "enterprise"), "email": pick("a1@example.com", "bob@test.org", "c7@corp.net"),
			"country": pick("NO", "SE", "US", "DE"), "age": pick(17, 30, 65.0, "30"), "beta": pick(true, false),
			"version": pick("2.0.0", "2.1.0", "3.0.0-rc.1", "x.y.z"), "tags": pick([]any{"beta"}, []any{}),
		} {
			if r.IntN(3) > 0 {
				u[name] = v
			}
		}
		switch i % 6 {
		case 0, 1:
			u[of.TargetingKey] = u["key"]
			delete(u, "key")
			out = append(out, u)
		case 2:
			out = append(out, u)
		case 3:
			out = append(out, map[string]any{"kind": "multi", "user": u, "org": map[string]any{"key": fmt.Sprintf("org-%d", r.IntN(20)), "tier": pick("gold", "silver")}})
		case 4:
			u["kind"] = "org"
			out = append(out, u)
		default:
			delete(u, "key")
			out = append(out, u) // no key: LaunchDarkly refuses it
		}
	}
	for i, c := range out {
		b, _ := json.Marshal(c)
		out[i] = nil
		_ = json.Unmarshal(b, &out[i])
	}
	return out
}

// TestLaunchDarklyFlagsOverHTTPAgreeWithTheGoProvider: for every flag of
// the equivalence data and every context, OFREP answers what the Go
// provider's typed method for the flag's type answers (value, variant,
// reason, error code), and the evaluate route serves the same variant and
// value for the subject.
func TestLaunchDarklyFlagsOverHTTPAgreeWithTheGoProvider(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ts := startServer(t, rdb, "")
	types := map[string]evaluator.Kind{}
	for _, file := range ldDataFiles {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		res, err := importer.LaunchDarkly(data)
		require.NoError(t, err, file)
		for _, f := range res.Flags {
			_, err := ts.store.Upsert(t.Context(), f)
			require.NoError(t, err, f.Key)
			for _, raw := range f.Variants {
				p, err := evaluator.DecodePayload(raw)
				require.NoError(t, err)
				types[f.Key] = p.Kind
				break
			}
		}
	}
	ts.settle(t)
	goP := provider.New(rdb)
	require.NoError(t, goP.InitWithContext(t.Context(), of.EvaluationContext{}))
	t.Cleanup(goP.Shutdown)

	ctx := t.Context()
	evaluations, diffs := 0, []string{}
	for flag, kind := range types {
		for _, fc := range ldTestContexts(40) {
			body, _ := json.Marshal(map[string]any{"context": fc})
			resp, raw := ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags/"+flag, strings.NewReader(string(body)))
			var got ofrepResult
			require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
			var value any
			var d of.ProviderResolutionDetail
			def := any("DEFAULT")
			switch kind {
			case evaluator.KindBool:
				def = false
				r := goP.BooleanEvaluation(ctx, flag, false, fc)
				value, d = r.Value, r.ProviderResolutionDetail
			case evaluator.KindString:
				r := goP.StringEvaluation(ctx, flag, "DEFAULT", fc)
				value, d = r.Value, r.ProviderResolutionDetail
			case evaluator.KindNumber:
				def = -1.5
				r := goP.FloatEvaluation(ctx, flag, -1.5, fc)
				value, d = r.Value, r.ProviderResolutionDetail
			default:
				r := goP.ObjectEvaluation(ctx, flag, "DEFAULT", fc)
				value, d = r.Value, r.ProviderResolutionDetail
			}
			rd := d.ResolutionDetail()
			evaluations++
			var ofrepValue any = def
			if len(got.Value) > 0 {
				require.NoError(t, json.Unmarshal(got.Value, &ofrepValue))
			}
			wantStatus := http.StatusOK
			switch rd.ErrorCode {
			case "":
			case of.FlagNotFoundCode:
				wantStatus = http.StatusNotFound
			case of.GeneralCode:
				wantStatus = http.StatusInternalServerError
			default:
				wantStatus = http.StatusBadRequest
			}
			if string(rd.ErrorCode) != got.ErrorCode || resp.StatusCode != wantStatus ||
				(rd.ErrorCode == "" && (rd.Variant != got.Variant || string(rd.Reason) != got.Reason || !reflect.DeepEqual(value, ofrepValue))) {
				diffs = append(diffs, fmt.Sprintf("%s %v: Go %v %q %s %s, OFREP %d %s", flag, fc, value, rd.Variant, rd.Reason, rd.ErrorCode, resp.StatusCode, raw))
			}

			// The evaluate route takes a subject (and region) only: compare
			// with the Go provider given just that.
			subject, _ := fc[of.TargetingKey].(string)
			if subject == "" {
				subject, _ = fc["key"].(string)
			}
			if subject == "" || fc["kind"] != nil {
				continue
			}
			sub := of.FlattenedContext{of.TargetingKey: subject}
			want := goP.Resolve(ctx, flag, sub)
			resp, raw = ts.do(t, http.MethodGet, "/api/flags/"+flag+"/evaluate?subject="+url.QueryEscape(subject), nil)
			var ev evaluation
			require.NoError(t, json.Unmarshal([]byte(raw), &ev))
			if want.ErrorCode != "" {
				if resp.StatusCode == http.StatusOK {
					diffs = append(diffs, fmt.Sprintf("evaluate %s %s: Go %s, route 200 %s", flag, subject, want.ErrorCode, raw))
				}
				continue
			}
			routeValue := string(ev.Value)
			if routeValue == "null" {
				routeValue = "" // the route's "no value"
			}
			if resp.StatusCode != http.StatusOK || ev.Variant != want.Variant || routeValue != string(want.Value) || ev.Reason != want.Explanation.Outcome {
				diffs = append(diffs, fmt.Sprintf("evaluate %s %s: Go %q %s %s, route %d %s", flag, subject, want.Variant, want.Value, want.Explanation.Outcome, resp.StatusCode, raw))
			}
		}
	}
	t.Logf("%d flags, %d evaluations, %d disagreements", len(types), evaluations, len(diffs))
	require.Greater(t, evaluations, 1000)
	require.Empty(t, diffs)
}
