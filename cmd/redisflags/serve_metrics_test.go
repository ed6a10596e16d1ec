package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/redisflags/redisflags/internal/redistest"
)

// metricValue returns the value of the first sample of the scrape whose
// line matches the series pattern, or -1.
func metricValue(scrape, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + series + `\S* ([0-9.e+-]+)$`).FindStringSubmatch(scrape)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestServeMetrics: with --metrics-addr, serve answers /metrics on that
// listener only (not on the public one) with the provider's instruments,
// the evaluation counter of every OFREP resolution (by flag, variant and
// reason) and the request durations by route pattern, and the counts move
// with the requests made. Nothing it started outlives it.
func TestServeMetrics(t *testing.T) {
	srv := redistest.Start(t)
	ignore := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	maddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	url, _, stop := serve(t, "--redis-url", srv.URL(), "--admin-token", "tok", "--metrics-addr", maddr)
	murl := "http://" + maddr + "/metrics"
	require.Eventually(t, func() bool { c, _ := httpDo(t, "GET", url+"/readyz", ""); return c == http.StatusOK }, 5*time.Second, 10*time.Millisecond)
	code, body := httpDo(t, "PUT", url+"/api/admin/flags/checkout-banner", tutorialBody, "Authorization", "Bearer tok")
	require.Equal(t, http.StatusOK, code, body)
	code, _ = httpDo(t, "GET", url+"/metrics", "")
	assert.NotEqual(t, http.StatusOK, code, "metrics are not on the public listener")

	require.Eventually(t, func() bool {
		c, b := httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/checkout-banner", `{"context":{"targetingKey":"user-123"}}`)
		return c == http.StatusOK && regexp.MustCompile(`TARGETING_MATCH`).MatchString(b)
	}, 5*time.Second, 10*time.Millisecond)
	code, scrape := httpDo(t, "GET", murl, "")
	require.Equal(t, http.StatusOK, code)
	evals := `feature_flag_evaluations_total\{[^}]*feature_flag_key="checkout-banner"[^}]*feature_flag_result_reason="targeting_match"`
	before := metricValue(scrape, evals)
	require.GreaterOrEqual(t, before, 1.0, "the evaluation counter:\n%s", scrape)
	route := `http_server_request_duration_seconds_count\{[^}]*http_route="POST /ofrep/v1/evaluate/flags/\{key\}"`
	reqs := metricValue(scrape, route)
	require.GreaterOrEqual(t, reqs, 1.0, "request durations by route pattern:\n%s", scrape)
	assert.Regexp(t, `(?m)^redisflags_`, scrape, "the provider's instruments")

	for range 3 {
		code, _ := httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/checkout-banner", `{"context":{"targetingKey":"user-123"}}`)
		require.Equal(t, http.StatusOK, code)
	}
	// A scan of random paths adds no series: they are "unmatched".
	httpDo(t, "GET", url+"/no/such/path/1", "")
	httpDo(t, "GET", url+"/no/such/path/2", "")
	_, scrape = httpDo(t, "GET", murl, "")
	assert.Equal(t, before+3, metricValue(scrape, evals))
	assert.Equal(t, reqs+3, metricValue(scrape, route))
	assert.NotContains(t, scrape, "/no/such/path")

	require.NoError(t, stop())
	goleak.VerifyNone(t, ignore)
}

// TestServeExportsOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set, serve pushes
// its metrics over OTLP/HTTP (a stand-in collector receives them, the
// evaluation counter among them), and flushes on shutdown.
func TestServeExportsOTLP(t *testing.T) {
	srv := redistest.Start(t)
	var mu sync.Mutex
	var got [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/metrics" {
			mu.Lock()
			got = append(got, b)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
	url, _, stop := serve(t, "--redis-url", srv.URL(), "--admin-token", "tok")
	code, body := httpDo(t, "PUT", url+"/api/admin/flags/checkout-banner", tutorialBody, "Authorization", "Bearer tok")
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool {
		c, _ := httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/checkout-banner", `{"context":{"targetingKey":"user-123"}}`)
		return c == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
	mu.Lock()
	defer mu.Unlock()
	all := bytes.Join(got, nil)
	assert.Contains(t, string(all), "feature_flag.evaluations")
	assert.Contains(t, string(all), "http.server.request.duration")
	assert.Contains(t, string(all), "checkout-banner")
}
