package main

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

// TestServeConsole: serve mounts the console at / beside the API, signs in
// an account of --users, streams changes through the request log, and
// stops with its live streams open.
func TestServeConsole(t *testing.T) {
	srv := redistest.Start(t)
	stdin = strings.NewReader("correct horse battery\n")
	defer func() { stdin = os.Stdin }()
	var line bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"user", "alice", "editor"}, &line, &bytes.Buffer{}))
	assert.NotContains(t, line.String(), "correct horse", "the password is never printed")
	users := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(users, line.Bytes(), 0o600))

	base, _, stop := serve(t, "--redis-url", srv.URL(), "--users", users, "--admin-token", "tok")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := c.Get(base + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "/login", res.Request.URL.Path, "signed out, / is the console's sign-in")
	res, err = c.PostForm(base+"/login", url.Values{"user": {"alice"}, "password": {"correct horse battery"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "/", res.Request.URL.Path)

	// The API is still there, beside the console.
	code, _ := httpDo(t, http.MethodPut, base+"/api/admin/flags/banner", `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":5}}}`, "Authorization", "Bearer tok")
	require.Equal(t, http.StatusOK, code)

	// The change stream flushes through the server's request log.
	res, err = c.Get(base + "/events")
	require.NoError(t, err)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	r := bufio.NewReader(res.Body)
	first, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "retry: 2000\n", first)
	code, _ = httpDo(t, http.MethodPut, base+"/api/admin/flags/banner", `{"defaultEnabled":true,"environments":{"production":{"enabled":false,"rolloutPercent":5}}}`, "Authorization", "Bearer tok")
	require.Equal(t, http.StatusOK, code)
	for {
		l, err := r.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(l, "data:") {
			assert.Contains(t, l, `"banner"`)
			break
		}
	}
	require.NoError(t, stop(), "serve stops with a live stream open")
	res.Body.Close()
}
