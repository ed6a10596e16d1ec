package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/redisflags/redisflags/internal/redistest"
)

var servingRE = regexp.MustCompile(`serving on (http://\S+)`)

// serve runs "redisflags serve args…" until the returned stop is called;
// stop returns run's error and fails the test if run takes more than 10 s
// to return.
func serve(t *testing.T, args ...string) (url string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), stdout, stderr) }()
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		return servingRE.MatchString(stdout.String())
	}, 10*time.Second, 5*time.Millisecond)
	m := servingRE.FindStringSubmatch(stdout.String())
	if m == nil {
		cancel()
		t.Fatalf("serve did not start: %v\nstderr:\n%s", <-done, stderr.String())
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not return within 10s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return m[1], stderr, stop
}

func httpDo(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServeEndToEndAndShutsDownCleanly(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	// Everything started from here on must be gone when serve returns.
	ignore := goleak.IgnoreCurrent()

	url, stderr, stop := serve(t, "--redis-url", srv.URL(), "--admin-token", "tok", "--log-stream", "logs", "--resync", "50ms")
	code, body := httpDo(t, "GET", url+"/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	require.Eventually(t, func() bool { c, _ := httpDo(t, "GET", url+"/readyz", ""); return c == http.StatusOK }, 5*time.Second, 10*time.Millisecond)

	code, body = httpDo(t, "PUT", url+"/api/admin/flags/checkout-banner", tutorialBody, "Authorization", "Bearer tok", "X-Actor", "ops")
	require.Equal(t, http.StatusOK, code, body)
	code, body = httpDo(t, "GET", url+"/api/flags/checkout-banner/evaluate?environment=production&subject=user-123", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"reason":"allowlist-user"`)
	code, body = httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/checkout-banner", `{"context":{"targetingKey":"user-123"}}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"reason":"TARGETING_MATCH"`)

	require.NoError(t, stop())
	goleak.VerifyNone(t, ignore)

	logs := stderr.String()
	assert.Contains(t, logs, `"msg":"request"`)
	assert.Contains(t, logs, `"path":"/api/flags/checkout-banner/evaluate"`)
	assert.Contains(t, logs, `"msg":"shutting down"`)
	entries, err := rdb.XRange(t.Context(), "logs", "-", "+").Result()
	require.NoError(t, err)
	var paths []string
	for _, e := range entries {
		if e.Values["msg"] == "request" {
			paths = append(paths, e.Values["method"].(string)+" "+e.Values["path"].(string)+" "+e.Values["status"].(string))
		}
	}
	assert.Contains(t, paths, "PUT /api/admin/flags/checkout-banner 200", "request logs are mirrored to the stream")
	assert.Contains(t, paths, "POST /ofrep/v1/evaluate/flags/checkout-banner 200")
	audit, err := rdb.XRange(t.Context(), "feature-flags:audit", "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, audit, 1)
	assert.Equal(t, "http:admin@127.0.0.1", audit[0].Values["actor"], "the token's name, not the X-Actor the caller claims")
}

func TestServeWithoutRedisUsesEmbeddedAndSaysSo(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "")
	ignore := goleak.IgnoreCurrent()
	url, stderr, stop := serve(t, "--insecure-no-auth")
	assert.Contains(t, stderr.String(), "WARNING: no --redis-url and no REDIS_URL: using an EMBEDDED")
	assert.Contains(t, stderr.String(), "Every flag is LOST when redisflags stops")
	assert.Contains(t, stderr.String(), "the admin API is OPEN")
	code, body := httpDo(t, "PUT", url+"/api/admin/flags/checkout-banner", tutorialBody)
	require.Equal(t, http.StatusOK, code, body)
	code, _ = httpDo(t, "GET", url+"/api/flags/checkout-banner", "")
	assert.Equal(t, http.StatusOK, code)
	require.NoError(t, stop())
	goleak.VerifyNone(t, ignore)
}

func TestServeReadsTokenFromEnvironment(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "from-env")
	url, _, _ := serve(t)
	code, _ := httpDo(t, "GET", url+"/api/admin/flags", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = httpDo(t, "GET", url+"/api/admin/flags", "", "Authorization", "Bearer from-env")
	assert.Equal(t, http.StatusOK, code)
}

// TestServeNoticesRedisGoingAndComing: /readyz follows the provider's
// state, so it says not ready within a second of Redis being killed (the
// provider goes STALE), while OFREP keeps serving the last flags; after a
// restart with an empty Redis, OFREP serves the new (empty) state within a
// second, without waiting for the resync.
func TestServeNoticesRedisGoingAndComing(t *testing.T) {
	srv := redistest.Start(t)
	url, stderr, _ := serve(t, "--redis-url", srv.URL(), "--resync", "1h", "--admin-token", "tok")
	require.Eventually(t, func() bool { c, _ := httpDo(t, "GET", url+"/readyz", ""); return c == http.StatusOK }, 5*time.Second, 10*time.Millisecond)
	code, body := httpDo(t, "PUT", url+"/api/admin/flags/k1", `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":100}}}`, "Authorization", "Bearer tok")
	require.Equal(t, http.StatusOK, code, body)
	code, body = httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/k1", `{}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"value":true`)

	srv.Kill()
	killed := time.Now()
	require.Eventually(t, func() bool {
		c, _ := httpDo(t, "GET", url+"/readyz", "")
		return c == http.StatusServiceUnavailable
	}, time.Second, 10*time.Millisecond, "/readyz must say not ready within 1 s of Redis going away")
	t.Logf("/readyz not ready %v after the kill", time.Since(killed).Round(time.Millisecond))
	code, body = httpDo(t, "GET", url+"/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.JSONEq(t, `{"status":"not ready"}`, body, "anonymous callers learn nothing of Redis")
	_, body = httpDo(t, "GET", url+"/readyz", "", "Authorization", "Bearer tok")
	assert.Contains(t, body, "Redis does not answer", "the admin token sees why")
	code, _ = httpDo(t, "GET", url+"/healthz", "")
	assert.Equal(t, http.StatusOK, code, "alive, just not ready")
	code, body = httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/k1", `{}`)
	assert.Equal(t, http.StatusOK, code, "the last flags are still served")
	assert.Contains(t, body, `"value":true`)

	srv.Restart() // empty
	restarted := time.Now()
	require.Eventually(t, func() bool {
		c, _ := httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/k1", `{}`)
		return c == http.StatusNotFound
	}, time.Second, 10*time.Millisecond, "OFREP must serve the restarted Redis' state within 1 s")
	t.Logf("OFREP served the restarted (empty) Redis %v after the restart", time.Since(restarted).Round(time.Millisecond))
	code, _ = httpDo(t, "GET", url+"/readyz", "")
	assert.Equal(t, http.StatusOK, code)

	// go-redis' own log lines go through slog: stderr is JSON lines only.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line == "" || !strings.HasPrefix(line, "{") && !strings.HasPrefix(line, " ") {
			assert.Fail(t, "a line of stderr is not JSON", "%q", line)
		}
	}
}

func TestServeBadArguments(t *testing.T) {
	_, stderr, err := runCLI(t, "serve", "--addr")
	assert.ErrorIs(t, err, errUsage)
	assert.Contains(t, stderr, "flag needs an argument")
	_, _, err = runCLI(t, "serve", "--redis-url", "http://nope", "--admin-token", "tok")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--redis-url")
	_, _, err = runCLI(t, "serve", "--redis-url", "redis://127.0.0.1:1/0", "--addr", "256.0.0.1:99999", "--admin-token", "tok")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on 256.0.0.1:99999")
	_, _, err = runCLI(t, "serve", "-h")
	assert.True(t, errors.Is(err, flag.ErrHelp))
}

// TestServeRefusesToRunOpen: without an admin token serve does not start
// unless --insecure-no-auth says so, and the error says how to give one;
// named tokens are checked without showing them; on loopback, a request
// for another Host (DNS rebinding) is refused.
func TestServeRefusesToRunOpen(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "")
	t.Setenv("REDISFLAGS_ADMIN_TOKENS", "")
	_, _, err := runCLI(t, "serve", "--addr", "127.0.0.1:0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "REDISFLAGS_ADMIN_TOKEN")
	assert.Contains(t, err.Error(), "--insecure-no-auth")
	_, _, err = runCLI(t, "serve", "--addr", "127.0.0.1:0", "--insecure-no-auth", "--admin-token", "tok")
	assert.ErrorContains(t, err, "choose one")
	t.Setenv("REDISFLAGS_ADMIN_TOKENS", "alice=tiny1,bob")
	_, _, err = runCLI(t, "serve", "--addr", "127.0.0.1:0")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "tiny1")
	t.Setenv("REDISFLAGS_ADMIN_TOKENS", "alice=alice-secret-0123456789")
	url, _, stop := serve(t)
	code, body := httpDo(t, "PUT", url+"/api/admin/flags/checkout-banner", tutorialBody, "Authorization", "Bearer alice-secret-0123456789")
	require.Equal(t, http.StatusOK, code, body)
	req, err := http.NewRequestWithContext(t.Context(), "GET", url+"/api/flags/checkout-banner", nil)
	require.NoError(t, err)
	req.Host = "rebound.example"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
	require.NoError(t, stop())
}
