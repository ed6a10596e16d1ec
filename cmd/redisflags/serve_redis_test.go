package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

// A Redis that needs a password stops serve with a message that says how
// to give it (before: serve retried forever, /readyz saying not ready).
func TestServeStopsOnRedisAuthErrors(t *testing.T) {
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "tok")
	m := miniredis.RunT(t)
	m.RequireAuth("s3cret")
	_, _, err := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--redis-url", "redis://"+m.Addr()+"/0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Redis needs a password: give it in REDIS_URL (redis://:PASSWORD@host")
	_, _, err = runCLI(t, "serve", "--addr", "127.0.0.1:0", "--redis-url", "redis://:wrongpw@"+m.Addr()+"/0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused the user or password")
	assert.False(t, strings.Contains(err.Error(), "wrongpw"), "no password in the message")
}

// --simple-flags serves `SET feature:x true` keys; --large-allowlist is
// checked.
func TestServeProviderOptions(t *testing.T) {
	srv := redistest.Start(t)
	require.NoError(t, srv.Client(t).Set(t.Context(), "feature:new_checkout", "true", 0).Err())
	url, _, _ := serve(t, "--redis-url", srv.URL(), "--admin-token", "tok", "--no-console", "--simple-flags", "feature:", "--large-allowlist", "5")
	// Serving starts before the first load ends: wait for it.
	require.Eventually(t, func() bool { c, _ := httpDo(t, "GET", url+"/readyz", ""); return c == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
	code, body := httpDo(t, "POST", url+"/ofrep/v1/evaluate/flags/new_checkout", `{"context":{"targetingKey":"u1"}}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"value":true`)

	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "tok")
	_, _, err := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--large-allowlist", "-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--large-allowlist -1")
}
