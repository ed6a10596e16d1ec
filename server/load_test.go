package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

// The load test drives the server over loopback only, bounded in time and
// in requests: REDISFLAGS_LOAD_DURATION (a Go duration, default 1s, so CI
// runs it quickly) sets how long each endpoint is driven;
// REDISFLAGS_LOAD_WORKERS (default 16) how many clients run at once.

// loadStats is what one load run measured.
type loadStats struct {
	requests, failures int
	elapsed            time.Duration
	p50, p99, max      time.Duration
}

func (s loadStats) rps() float64 { return float64(s.requests) / s.elapsed.Seconds() }

func (s loadStats) String() string {
	return fmt.Sprintf("%d requests in %v: %.0f req/s, p50 %v, p99 %v, max %v, %d failed",
		s.requests, s.elapsed.Round(time.Millisecond), s.rps(), s.p50, s.p99, s.max, s.failures)
}

// drive sends requests from workers goroutines until d has passed or
// limit requests were sent, and measures each one.
func drive(ctx context.Context, workers int, d time.Duration, limit int, newReq func(i int) (*http.Request, error)) loadStats {
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next, failures atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i > limit {
					return
				}
				req, err := newReq(i)
				if err != nil {
					failures.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failures.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotModified {
					failures.Add(1)
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	s := loadStats{requests: len(all), failures: int(failures.Load()), elapsed: time.Since(start)}
	if n := len(all); n > 0 {
		s.p50, s.p99, s.max = all[n/2], all[min(n-1, n*99/100)], all[n-1]
	}
	return s
}

func loadSettings(tb testing.TB) (time.Duration, int) {
	d, workers := time.Second, 16
	if v := os.Getenv("REDISFLAGS_LOAD_DURATION"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(tb, err, "REDISFLAGS_LOAD_DURATION")
		d = min(d, 5*time.Minute)
	}
	if v := os.Getenv("REDISFLAGS_LOAD_WORKERS"); v != "" {
		_, err := fmt.Sscan(v, &workers)
		require.NoError(tb, err, "REDISFLAGS_LOAD_WORKERS")
	}
	return d, workers
}

// loadFlags is how many flags the load server holds (the tutorial's and
// copies of it): a bulk answer has 2 × loadFlags items (K and K:payload).
const loadFlags = 20

// loadServer is a server on a real redis-server with the tutorial's flag
// and loadFlags-1 more like it.
func loadServer(tb testing.TB) *testServer {
	srv := redistest.Start(tb)
	ts := startServer(tb, srv.Client(tb), "")
	for i := range loadFlags {
		key := "checkout-banner"
		if i > 0 {
			key = fmt.Sprintf("banner-%d", i)
		}
		req, err := http.NewRequest("PUT", ts.url+"/api/admin/flags/"+key, strings.NewReader(tutorialBody))
		require.NoError(tb, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(tb, err)
		resp.Body.Close()
		require.Equal(tb, http.StatusOK, resp.StatusCode)
	}
	ts.settle(tb)
	return ts
}

func bulkRequest(url string) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) {
		return http.NewRequest("POST", url+"/ofrep/v1/evaluate/flags",
			strings.NewReader(fmt.Sprintf(`{"context":{"targetingKey":"user-%d","region":"eu-central"}}`, i)))
	}
}

// notModifiedRequest is a web client's poll: the same context with the
// ETag of its last answer, which a snapshot unchanged answers with 304.
func notModifiedRequest(tb testing.TB, url string) func(int) (*http.Request, error) {
	const body = `{"context":{"targetingKey":"user-1","region":"eu-central"}}`
	resp, err := http.Post(url+"/ofrep/v1/evaluate/flags", "application/json", strings.NewReader(body))
	require.NoError(tb, err)
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	require.NotEmpty(tb, tag)
	req, err := http.NewRequest("POST", url+"/ofrep/v1/evaluate/flags", strings.NewReader(body))
	require.NoError(tb, err)
	req.Header.Set("If-None-Match", tag)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(tb, err)
	resp.Body.Close()
	require.Equal(tb, http.StatusNotModified, resp.StatusCode)
	return func(int) (*http.Request, error) {
		req, err := http.NewRequest("POST", url+"/ofrep/v1/evaluate/flags", strings.NewReader(body))
		if err == nil {
			req.Header.Set("If-None-Match", tag)
		}
		return req, err
	}
}

func evaluateRequest(url string) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) {
		return http.NewRequest("GET", fmt.Sprintf("%s/api/flags/checkout-banner/evaluate?environment=production&subject=user-%d&region=eu-central", url, i), nil)
	}
}

func ofrepRequest(url string) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) {
		return http.NewRequest("POST", url+"/ofrep/v1/evaluate/flags/checkout-banner",
			strings.NewReader(fmt.Sprintf(`{"context":{"targetingKey":"user-%d","region":"eu-central"}}`, i)))
	}
}

// TestLoadEvaluate drives the tutorial's evaluate endpoint (one Redis round
// trip per request) and the OFREP single-flag endpoint (evaluated from
// memory) and reports requests/s and latency percentiles. It fails on any
// failed request.
func TestLoadEvaluate(t *testing.T) {
	d, workers := loadSettings(t)
	ts := loadServer(t)
	for _, c := range []struct {
		name string
		req  func(int) (*http.Request, error)
	}{
		{"GET /api/flags/{flagKey}/evaluate", evaluateRequest(ts.url)},
		{"POST /ofrep/v1/evaluate/flags/{key}", ofrepRequest(ts.url)},
		{"POST /ofrep/v1/evaluate/flags", bulkRequest(ts.url)},
		{"POST /ofrep/v1/evaluate/flags (304)", notModifiedRequest(t, ts.url)},
	} {
		s := drive(t.Context(), workers, d, 10_000_000, c.req)
		t.Logf("%s, %d clients: %v", c.name, workers, s)
		require.Zero(t, s.failures)
		require.NotZero(t, s.requests)
	}
}

// BenchmarkEvaluateEndpoint sends b.N requests from 16 clients and reports
// req/s and p99 besides ns/op (which is wall time over requests, not the
// latency of one).
func BenchmarkEvaluateEndpoint(b *testing.B) {
	ts := loadServer(b)
	for _, c := range []struct {
		name string
		req  func(int) (*http.Request, error)
	}{
		{"tutorial", evaluateRequest(ts.url)},
		{"ofrep", ofrepRequest(ts.url)},
		{"ofrep-bulk", bulkRequest(ts.url)},
		{"ofrep-bulk-304", notModifiedRequest(b, ts.url)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			s := drive(b.Context(), 16, time.Hour, b.N, c.req)
			b.StopTimer()
			if s.failures > 0 {
				b.Fatalf("%d requests failed", s.failures)
			}
			b.ReportMetric(s.rps(), "req/s")
			b.ReportMetric(float64(s.p99.Microseconds())/1000, "p99-ms")
		})
	}
}
