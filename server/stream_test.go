package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
)

const switchOn = `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":100}}}`

func TestCORSOnlyOnOFREPAndOnlyWhenConfigured(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		const page = "http://127.0.0.1:9999"
		ts := startServer(t, rdb, "", WithCORSOrigins(page))
		off := startServer(t, rdb, "")

		preflight := []string{"Origin", page, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,if-none-match"}
		resp, _ := ts.do(t, http.MethodOptions, "/ofrep/v1/evaluate/flags", nil, preflight...)
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Equal(t, page, resp.Header.Get("Access-Control-Allow-Origin"), "the origin echoed")
		assert.Contains(t, resp.Header.Values("Vary"), "Origin")
		assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
		assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "GET", "the change stream")
		assert.Equal(t, "content-type,if-none-match", resp.Header.Get("Access-Control-Allow-Headers"))

		resp, _ = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{}`), "Origin", page)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, page, resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "ETag", resp.Header.Get("Access-Control-Expose-Headers"), "without it a browser never sends If-None-Match")

		resp, _ = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{}`), "Origin", "http://evil.example")
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "an origin not configured")

		resp, _ = ts.do(t, http.MethodGet, "/api/flags/x", nil, "Origin", page)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "only the OFREP routes")

		resp, _ = off.do(t, http.MethodOptions, "/ofrep/v1/evaluate/flags", nil, preflight...)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "off by default")
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

		star := startServer(t, rdb, "", WithCORSOrigins("*"))
		resp, _ = star.do(t, http.MethodOptions, "/ofrep/v1/events", nil, "Origin", "http://any.example", "Access-Control-Request-Method", "GET")
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Equal(t, "http://any.example", resp.Header.Get("Access-Control-Allow-Origin"))
	})
}

// sseClient reads one change stream.
type sseClient struct {
	resp  *http.Response
	lines chan string
}

func openStream(t *testing.T, ts *testServer, header ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+eventsPath, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	c := &sseClient{resp: resp, lines: make(chan string, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return c
}

// next returns the next line starting with prefix, failing after within.
func (c *sseClient) next(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the stream ended while waiting for %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line within %v", prefix, within)
		}
	}
}

// TestChangeStreamTellsClientsToRefetch: the bulk answer advertises the
// stream (ADR-0008); a write reaches a connected client as a
// refetchEvaluation message carrying the new revision, well within a
// second; heartbeats flow; CORS covers the stream.
func TestChangeStreamTellsClientsToRefetch(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		const page = "http://127.0.0.1:9999"
		ts := startServer(t, rdb, "", WithCORSOrigins(page), WithChangeStream(10, 50*time.Millisecond))
		_, flags := bulk(t, ts.url, `{}`, "")
		assert.Empty(t, flags)
		resp, body := ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{}`))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `{"flags":[],"eventStreams":[{"type":"sse","endpoint":{"requestUri":"/ofrep/v1/events"},"inactivityDelaySec":120}]}`, body)

		c := openStream(t, ts, "Origin", page)
		require.Equal(t, http.StatusOK, c.resp.StatusCode)
		assert.Equal(t, "text/event-stream", c.resp.Header.Get("Content-Type"))
		assert.Equal(t, page, c.resp.Header.Get("Access-Control-Allow-Origin"))
		c.next(t, ": connected", 5*time.Second)
		c.next(t, ": heartbeat", 5*time.Second)

		f, err := evaluator.ParseFlag([]byte(switchOn), "k1")
		require.NoError(t, err)
		start := time.Now()
		_, err = ts.store.Upsert(t.Context(), f)
		require.NoError(t, err)
		line := c.next(t, "data: ", 5*time.Second)
		took := time.Since(start)
		t.Logf("a write reached the stream in %v", took)
		assert.Less(t, took, time.Second)
		var msg struct{ Type, ETag string }
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &msg))
		assert.Equal(t, "refetchEvaluation", msg.Type)
		assert.Equal(t, ts.srv.Provider().Revision(), msg.ETag)
	})
}

// TestChangeStreamIsBoundedAndLeavesNothing: clients past the bound get a
// 503 with Retry-After; a client that goes away frees its place; Shutdown
// ends the streams still open (TestMain's goleak proves no goroutine is
// left).
func TestChangeStreamIsBoundedAndLeavesNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ts := startServer(t, rdb, "", WithChangeStream(1, time.Second))
		first := openStream(t, ts)
		require.Equal(t, http.StatusOK, first.resp.StatusCode)
		first.next(t, ": connected", 5*time.Second)
		resp, body := ts.do(t, http.MethodGet, eventsPath, nil)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		first.resp.Body.Close()
		require.Eventually(t, func() bool { return ts.srv.streamCount() == 0 }, 5*time.Second, 5*time.Millisecond, "a gone client frees its place")

		second := openStream(t, ts)
		require.Equal(t, http.StatusOK, second.resp.StatusCode)
		second.next(t, ": connected", 5*time.Second)
		require.NoError(t, ts.srv.Shutdown(t.Context()))
		for range second.lines {
		} // the stream ends
		require.Eventually(t, func() bool { return ts.srv.streamCount() == 0 }, 5*time.Second, 5*time.Millisecond)

		off := startServer(t, rdb, "", WithChangeStream(0, 0))
		_, body = off.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{}`))
		assert.NotContains(t, body, "eventStreams", "a stream turned off is not advertised")
	})
}
