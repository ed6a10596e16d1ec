package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func miniClient(t *testing.T) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return m, rdb
}

// /readyz tells anonymous callers ready or not ready, nothing of Redis.
func TestAttackReadyzDoesNotLeakRedisErrors(t *testing.T) {
	m, rdb := miniClient(t)
	ts := startServer(t, rdb, "adm")
	resp, body := ts.do(t, "GET", "/readyz", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"status":"ready"}`, body)
	m.Close()
	require.Eventually(t, func() bool {
		resp, _ := ts.do(t, "GET", "/readyz", nil, "Authorization", "")
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 20*time.Millisecond)
	_, body = ts.do(t, "GET", "/readyz", nil, "Authorization", "")
	assert.JSONEq(t, `{"status":"not ready"}`, body)
	resp, body = ts.do(t, "GET", "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, body, "reason", "the admin token sees the details")
}

// A 64 KiB path is cut in the request log.
func TestAttackLongPathIsTruncatedInTheLog(t *testing.T) {
	_, rdb := miniClient(t)
	var buf bytes.Buffer
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&buf, mu}, nil))
	ts := startServer(t, rdb, "", WithLogger(logger))
	resp, _ := ts.do(t, "GET", "/api/flags/"+strings.Repeat("a", 30000), nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	<-mu
	out := buf.String()
	mu <- struct{}{}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if p, ok := rec["path"].(string); ok && strings.HasPrefix(p, "/api/flags/aaa") {
			found = true
			assert.LessOrEqual(t, len(p), maxLoggedPath+len("…"))
		}
	}
	assert.True(t, found, "the request was logged")
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu chan struct{}
}

func (w lockedWriter) Write(p []byte) (int, error) {
	<-w.mu
	defer func() { w.mu <- struct{}{} }()
	return w.b.Write(p)
}
