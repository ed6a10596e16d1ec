package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
)

// TestNamedTokensAreTheActor: writes are audited under the name of the
// token that made them; a caller's X-Actor does not change it; the Bearer
// scheme's name is case-insensitive; a wrong token changes nothing.
func TestNamedTokensAreTheActor(t *testing.T) {
	srv := redistest.Start(t)
	ts := startServer(t, srv.Client(t), "", WithAdminTokens(Token{Name: "alice", Secret: "alice-secret-0123456789"}, Token{Name: "ci", Secret: "ci-secret-0123456789"}))
	resp, body := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody),
		"Authorization", "bearer ci-secret-0123456789", "X-Actor", "mallory")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, body = ts.do(t, "DELETE", "/api/admin/flags/checkout-banner", nil, "Authorization", "Bearer wrong", "X-Actor", "alice")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	entries, err := ts.store.Audit(t.Context(), "checkout-banner", 0)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the refused delete wrote nothing")
	assert.Equal(t, "http:ci@127.0.0.1", entries[0].Actor, "the token's name, not X-Actor")
	_, err = ts.store.Get(t.Context(), "checkout-banner")
	require.NoError(t, err, "still there")
}

// TestReadTokensProtectDefinitions: with a read token, GET /api/flags/{key}
// and /evaluate (an allowlist-membership oracle) need it or an admin
// token; OFREP evaluation is not affected.
func TestReadTokensProtectDefinitions(t *testing.T) {
	srv := redistest.Start(t)
	ts := startServer(t, srv.Client(t), "admin-secret", WithReadTokens(Token{Name: "reader", Secret: "read-secret"}))
	resp, body := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	ts.settle(t)
	for _, path := range []string{"/api/flags/checkout-banner", "/api/flags/checkout-banner/evaluate?environment=production&subject=user-123"} {
		resp, body = ts.do(t, "GET", path, nil, "Authorization", "")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
		assert.NotContains(t, body, "user-123", path)
		resp, _ = ts.do(t, "GET", path, nil, "Authorization", "Bearer nope")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
		resp, _ = ts.do(t, "GET", path, nil, "Authorization", "Bearer read-secret")
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		resp, _ = ts.do(t, "GET", path, nil) // the admin token
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	resp, body = ts.do(t, "POST", "/ofrep/v1/evaluate/flags/checkout-banner", strings.NewReader(`{"context":{"targetingKey":"user-123"}}`), "Authorization", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
}

// TestAllowedHostsRefuseRebinding: with allowed hosts, a request whose
// Host is another name (a DNS-rebinding page's) gets 421 and changes
// nothing; the allowed names, with any port, are answered.
func TestAllowedHostsRefuseRebinding(t *testing.T) {
	srv := redistest.Start(t)
	ts := startServer(t, srv.Client(t), "", WithAllowedHosts("localhost", "127.0.0.1", "::1"))
	req, err := http.NewRequestWithContext(t.Context(), "PUT", ts.url+"/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody))
	require.NoError(t, err)
	req.Host = "evil.example:8080"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
	_, err = ts.store.Get(t.Context(), "checkout-banner")
	assert.Error(t, err, "nothing written")
	resp2, body := ts.do(t, "PUT", "/api/admin/flags/checkout-banner", strings.NewReader(tutorialBody)) // Host 127.0.0.1:port
	assert.Equal(t, http.StatusOK, resp2.StatusCode, body)
}
