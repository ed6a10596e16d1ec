package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// A forged X-Actor never names the actor, neither of an admin write nor of
// a release request: the token's name does.
func TestAttackServeForgedActorIsAuditedUnderTheTokensName(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "")
	t.Setenv("REDISFLAGS_ADMIN_TOKENS", "alice=alice-secret-0123456789,ci=ci-secret-0123456789")
	url, _, _ := serve(t, "--redis-url", srv.URL(), "--no-console")
	code, body := httpDo(t, "PUT", url+"/api/admin/flags/f", `{"defaultEnabled":true,"environments":{"production":{"enabled":true}}}`,
		"Authorization", "Bearer alice-secret-0123456789", "X-Actor", "mallory")
	require.Equal(t, http.StatusOK, code, body)
	st := store.New(srv.Client(t))
	entries, err := st.Audit(t.Context(), "f", 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "http:alice@127.0.0.1", entries[0].Actor)

	require.NoError(t, st.SetPolicy(t.Context(), "production", store.Policy{RequireApproval: true}))
	code, body = httpDo(t, "PUT", url+"/api/release/flags/f", `{"defaultEnabled":true,"environments":{"production":{"enabled":true,"rolloutPercent":50}}}`,
		"Authorization", "bearer ci-secret-0123456789", "X-Actor", "mallory")
	require.Equal(t, http.StatusAccepted, code, body)
	assert.Contains(t, body, `"author":"ci"`)
	assert.NotContains(t, body, "mallory")
}

// DNS rebinding against a serve on loopback: a forged Host is refused
// before any route runs.
func TestAttackServeRefusesAForgedHost(t *testing.T) {
	t.Setenv("REDISFLAGS_ADMIN_TOKEN", "tok")
	t.Setenv("REDIS_URL", "")
	url, _, _ := serve(t, "--allowed-host", "flags.example", "--no-console")
	for host, want := range map[string]int{"evil.example": 421, "evil.example:80": 421, "flags.example": 200, "localhost:1": 200} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", url+"/healthz", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, host)
	}
}
