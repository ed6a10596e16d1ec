package server

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/internal/tutorial"
)

// tutorialBody is the tutorial's PUT body for its example flag.
const tutorialBody = `{
  "description": "Show the fast-checkout banner",
  "defaultEnabled": true,
  "environments": {
    "production": {
      "enabled": true,
      "rolloutPercent": 25,
      "value": {"title": "Fast checkout"},
      "allowlistUsers": ["user-123"],
      "allowlistRegions": ["us-west"]
    },
    "staging": {"enabled": false, "rolloutPercent": 100, "allowlistUsers": [], "allowlistRegions": []}
  }
}`

// tutorialStored is the definition as the server answers it after the PUT.
const tutorialStored = `{
  "flagKey": "checkout-banner",
  "description": "Show the fast-checkout banner",
  "defaultEnabled": true,
  "environments": {
    "production": {
      "enabled": true,
      "rolloutPercent": 25,
      "value": {"title": "Fast checkout"},
      "allowlistUsers": ["user-123"],
      "allowlistRegions": ["us-west"],
      "updatedAt": "2026-03-19T12:00:00.000Z"
    },
    "staging": {"enabled": false, "rolloutPercent": 100, "allowlistUsers": [], "allowlistRegions": [], "updatedAt": "2026-03-19T12:00:00.000Z"}
  },
  "updatedAt": "2026-03-19T12:00:00.000Z",
  "version": 1
}`

func TestTutorialExamplesReplay(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")

		resp, body := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody), "X-Actor", "alice")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
		assert.JSONEq(t, tutorialStored, body)

		resp, body = ts.do(t, "GET", "/api/admin/flags", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `[`+tutorialStored+`]`, body, "the tutorial's bare array")

		resp, body = ts.do(t, "GET", "/api/flags/checkout-banner", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
		assert.JSONEq(t, tutorialStored, body)

		evals := []struct {
			name, query, want string
		}{
			{"allowlisted user", "environment=production&subject=user-123&region=eu-central",
				`{"flagKey":"checkout-banner","environment":"production","subject":"user-123","enabled":true,"reason":"allowlist-user","bucket":58,"value":{"title":"Fast checkout"}}`},
			{"allowlisted region", "environment=production&subject=user-42&region=us-west",
				`{"flagKey":"checkout-banner","environment":"production","subject":"user-42","enabled":true,"reason":"allowlist-region","bucket":76,"value":{"title":"Fast checkout"}}`},
			{"rollout hit", "environment=production&subject=user-3&region=eu-central",
				`{"flagKey":"checkout-banner","environment":"production","subject":"user-3","enabled":true,"reason":"rollout-hit","bucket":10,"value":{"title":"Fast checkout"}}`},
			{"rollout miss", "environment=production&subject=user-42&region=eu-central",
				`{"flagKey":"checkout-banner","environment":"production","subject":"user-42","enabled":false,"reason":"rollout-miss","bucket":76,"value":null}`},
			{"environment disabled", "environment=staging&subject=user-123",
				`{"flagKey":"checkout-banner","environment":"staging","subject":"user-123","enabled":false,"reason":"environment-disabled","bucket":` + bucketOf("staging", "user-123") + `,"value":null}`},
			{"environment missing", "environment=qa&subject=user-123",
				`{"flagKey":"checkout-banner","environment":"qa","subject":"user-123","enabled":false,"reason":"environment-missing","bucket":` + bucketOf("qa", "user-123") + `,"value":null}`},
			{"environment defaults to production", "subject=user-123",
				`{"flagKey":"checkout-banner","environment":"production","subject":"user-123","enabled":true,"reason":"allowlist-user","bucket":58,"value":{"title":"Fast checkout"}}`},
		}
		for _, tt := range evals {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := ts.do(t, "GET", "/api/flags/checkout-banner/evaluate?"+tt.query, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				assert.JSONEq(t, tt.want, body)
			})
		}

		resp, body = ts.do(t, "DELETE", "/api/admin/flags/checkout-banner", nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
		assert.Empty(t, body)
		for _, path := range []string{"/api/flags/checkout-banner", "/api/flags/checkout-banner/evaluate?subject=user-123"} {
			resp, body = ts.do(t, "GET", path, nil)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
			assert.JSONEq(t, `{"error":"flag \"checkout-banner\" not found"}`, body)
		}
		resp, _ = ts.do(t, "DELETE", "/api/admin/flags/checkout-banner", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		resp, body = ts.do(t, "GET", "/api/admin/flags", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `[]`, body)

		entries, err := ts.store.Audit(t.Context(), "checkout-banner", 0)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		assert.Equal(t, "delete", entries[0].Op)
		assert.Equal(t, "upsert", entries[1].Op)
		assert.Equal(t, "http:unauthenticated:alice@127.0.0.1", entries[1].Actor)
		assert.Equal(t, "http:unauthenticated:anonymous@127.0.0.1", entries[0].Actor)
	})
}

func bucketOf(env, subject string) string {
	return strconv.Itoa(evaluator.Bucket("checkout-banner", env, subject))
}

func TestFlagsWrittenByTheTutorialAppServe(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		require.NoError(t, tutorial.Write(t.Context(), rdb, "feature-flags", tutorial.CheckoutBanner()))
		resp, body := ts.do(t, "GET", "/api/flags/checkout-banner", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, `"0"`, resp.Header.Get("ETag"), "no version stored")
		assert.Contains(t, body, `"updatedAt":"2026-03-19T12:00:00.000Z"`)
		resp, body = ts.do(t, "GET", "/api/flags/checkout-banner/evaluate?environment=production&subject=user-42&region=us-west", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `{"flagKey":"checkout-banner","environment":"production","subject":"user-42","enabled":true,"reason":"allowlist-region","bucket":76,"value":{"title":"Fast checkout"}}`, body)
	})
}

func TestOptimisticConcurrency(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "")
		resp, _ := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, body := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody), "If-Match", `"1"`)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, `"2"`, resp.Header.Get("ETag"))
		resp, _ = ts.do(t, "GET", "/api/flags/checkout-banner", nil, "If-None-Match", `"2"`)
		assert.Equal(t, http.StatusNotModified, resp.StatusCode)
		resp, _ = ts.do(t, "GET", "/api/flags/checkout-banner", nil, "If-None-Match", `"1"`)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody), "If-Match", "*")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = ts.do(t, "PUT", "/api/admin/flags/new-flag", strings.NewReader(tutorialBody), "If-Match", "*")
		assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, "If-Match: * needs the flag to exist")
		resp, _ = ts.do(t, "DELETE", "/api/admin/flags/checkout-banner", nil, "If-Match", `"3"`)
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	})
}

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	const token = "s3cret-token"
	huge := `{"description":"` + strings.Repeat("x", 2<<20) + `"}`
	long := strings.Repeat("k", 300)
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		want                     []string // substrings of the body
	}{
		{"malformed JSON", "PUT", "/api/admin/flags/checkout-banner", `{"description": `, nil, 400,
			[]string{`"field":"(body)"`, "is not a JSON object"}},
		{"not an object", "PUT", "/api/admin/flags/checkout-banner", `[1,2]`, nil, 400, []string{"(body)"}},
		{"defaultEnabled a string", "PUT", "/api/admin/flags/checkout-banner", `{"defaultEnabled":"yes"}`, nil, 400,
			[]string{`"field":"defaultEnabled"`, `must be true or false, got \"yes\"`}},
		{"environments an array", "PUT", "/api/admin/flags/checkout-banner", `{"environments":[]}`, nil, 400,
			[]string{`"field":"environments"`}},
		{"allowlist not strings", "PUT", "/api/admin/flags/checkout-banner", `{"environments":{"production":{"allowlistUsers":[1]}}}`, nil, 400,
			[]string{`"field":"environments.production.allowlistUsers"`, "must be an array of strings"}},
		{"percent 101", "PUT", "/api/admin/flags/checkout-banner", `{"environments":{"production":{"rolloutPercent":101}}}`, nil, 400,
			[]string{`"field":"environments.production.rolloutPercent"`, "must be an integer from 0 to 100, got 101"}},
		{"percent -1", "PUT", "/api/admin/flags/checkout-banner", `{"environments":{"production":{"rolloutPercent":-1}}}`, nil, 400,
			[]string{`"field":"environments.production.rolloutPercent"`, "got -1"}},
		{"percent 1.5", "PUT", "/api/admin/flags/checkout-banner", `{"environments":{"production":{"rolloutPercent":1.5}}}`, nil, 400,
			[]string{`"field":"environments.production.rolloutPercent"`, "got 1.5"}},
		{"percent as text", "PUT", "/api/admin/flags/checkout-banner", `{"environments":{"production":{"rolloutPercent":"25"}}}`, nil, 400,
			[]string{`"field":"environments.production.rolloutPercent"`}},
		{"unknown field", "PUT", "/api/admin/flags/checkout-banner", `{"rollout":25}`, nil, 400,
			[]string{`"field":"rollout"`, "is not a known field"}},
		{"body names another key", "PUT", "/api/admin/flags/checkout-banner", `{"flagKey":"other"}`, nil, 400,
			[]string{`"field":"flagKey"`, `is \"other\" but the request names \"checkout-banner\"`}},
		{"bad environment name", "PUT", "/api/admin/flags/checkout-banner", `{"environments":{"prod uction":{}}}`, nil, 400,
			[]string{`environments.prod uction`}},
		{"key with spaces", "PUT", "/api/admin/flags/checkout%20banner", tutorialBody, nil, 400,
			[]string{`"field":"flagKey"`, `flag key \"checkout banner\"`, "may hold only letters"}},
		{"key with a star", "PUT", "/api/admin/flags/checkout*", tutorialBody, nil, 400,
			[]string{`"field":"flagKey"`, `flag key \"checkout*\"`}},
		{"key of 300 characters", "PUT", "/api/admin/flags/" + long, tutorialBody, nil, 400,
			[]string{`"field":"flagKey"`, "is 300 characters long; the limit is 128"}},
		{"delete a key with a star", "DELETE", "/api/admin/flags/*", "", nil, 400, []string{`"field":"flagKey"`}},
		{"body of 2 MiB", "PUT", "/api/admin/flags/checkout-banner", huge, nil, 413,
			[]string{"the limit is 1048576 (1 MiB)"}},
		{"body of 2 MiB without a length", "PUT", "/api/admin/flags/checkout-banner", huge, []string{"Transfer-Encoding", "chunked"}, 413,
			[]string{"larger than 1048576 bytes"}},
		{"missing token", "PUT", "/api/admin/flags/checkout-banner", tutorialBody, []string{"Authorization", ""}, 401,
			[]string{"the admin API needs the header Authorization: Bearer <admin token>"}},
		{"wrong token", "PUT", "/api/admin/flags/checkout-banner", tutorialBody, []string{"Authorization", "Bearer s3cret-tokem"}, 401,
			[]string{"the admin token is wrong"}},
		{"token in the wrong scheme", "DELETE", "/api/admin/flags/checkout-banner", "", []string{"Authorization", "Basic " + token}, 401,
			[]string{"Authorization: Bearer"}},
		{"list without token", "GET", "/api/admin/flags", "", []string{"Authorization", ""}, 401, []string{"admin API"}},
		{"stale If-Match", "PUT", "/api/admin/flags/checkout-banner", tutorialBody, []string{"If-Match", `"1"`}, 412,
			[]string{`write flag \"checkout-banner\": stored version is 2, not 1`}},
		{"stale If-Match on delete", "DELETE", "/api/admin/flags/checkout-banner", "", []string{"If-Match", `"7"`}, 412,
			[]string{"stored version is 2, not 7"}},
		{"If-Match that is no version", "PUT", "/api/admin/flags/checkout-banner", tutorialBody, []string{"If-Match", `"abc"`}, 412,
			[]string{`If-Match \"abc\" is not a version`}},
		{"If-Match with a list", "PUT", "/api/admin/flags/checkout-banner", tutorialBody, []string{"If-Match", `"1", "2"`}, 400,
			[]string{"give one ETag"}},
		{"delete an unknown flag", "DELETE", "/api/admin/flags/nope", "", nil, 404, []string{`flag \"nope\" not found`}},
		{"evaluate: bad environment", "GET", "/api/flags/checkout-banner/evaluate?environment=a*b&subject=u", "", nil, 400,
			[]string{`"field":"environment"`}},
		{"evaluate: no subject for a partial rollout", "GET", "/api/flags/checkout-banner/evaluate?environment=production", "", nil, 400,
			[]string{`"field":"subject"`, "rolls out to 25%"}},
		{"evaluate: unknown flag", "GET", "/api/flags/nope/evaluate?subject=u", "", nil, 404, []string{`flag \"nope\" not found`}},
		{"OFREP: body not JSON", "POST", "/ofrep/v1/evaluate/flags/checkout-banner", `{"context":`, nil, 400,
			[]string{`"errorCode":"INVALID_CONTEXT"`, `"key":"checkout-banner"`}},
		{"OFREP: context not an object", "POST", "/ofrep/v1/evaluate/flags", `{"context":[1]}`, nil, 400,
			[]string{`"errorCode":"INVALID_CONTEXT"`, "context must be a JSON object"}},
		{"OFREP: body of 2 MiB", "POST", "/ofrep/v1/evaluate/flags", huge, nil, 413, []string{"the limit for an evaluation context is 65536"}},
	}
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, token)
		for range 2 { // version 2, so that a stale version exists
			resp, body := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody))
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := redistest.Dump(t, rdb)
				var body *strings.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				var resp *http.Response
				var got string
				if body == nil {
					resp, got = ts.do(t, tt.method, tt.path, nil, tt.header...)
				} else if len(tt.header) == 2 && tt.header[0] == "Transfer-Encoding" {
					// A reader of unknown length makes the client stream the
					// body without Content-Length.
					resp, got = ts.do(t, tt.method, tt.path, struct{ *strings.Reader }{body})
				} else {
					resp, got = ts.do(t, tt.method, tt.path, body, tt.header...)
				}
				assert.Equal(t, tt.status, resp.StatusCode, got)
				for _, w := range tt.want {
					assert.Contains(t, got, w)
				}
				if tt.status == 401 {
					assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
				}
				assert.Equal(t, before, redistest.Dump(t, rdb), "Redis must be unchanged")
			})
		}
	})
}
