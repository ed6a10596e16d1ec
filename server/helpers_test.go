package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// fixedNow is the store's clock in these tests: updatedAt and audit times
// come out the same on every run.
var fixedNow = time.Date(2026, 3, 19, 12, 0, 0, 0, time.UTC)

// testServer is a server over rdb on a loopback port, with its flag
// refresher running; both stop when the test ends.
type testServer struct {
	url   string
	store *store.Store
	srv   *Server
	rdb   redis.UniversalClient
	token string
}

func startServer(t testing.TB, rdb redis.UniversalClient, token string, opts ...Option) *testServer {
	t.Helper()
	st := store.New(rdb, store.WithClock(func() time.Time { return fixedNow }))
	s := New(rdb, st, append([]Option{WithAdminToken(token), WithResync(200 * time.Millisecond)}, opts...)...)
	require.NoError(t, s.Start(context.Background()))
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, s.Shutdown(context.Background()))
	})
	require.Eventually(t, s.Loaded, 5*time.Second, 5*time.Millisecond, "flags never loaded")
	return &testServer{url: hs.URL, store: st, srv: s, rdb: rdb, token: token}
}

// settle waits until the server's live snapshot holds what Redis holds:
// its revision equals that of a provider freshly loaded from Redis
// (revisions hash the stored content). Writes that publish no change
// notice are picked up by the resync (200 ms here).
func (ts *testServer) settle(t testing.TB) {
	t.Helper()
	fresh := provider.New(ts.rdb)
	require.NoError(t, fresh.InitWithContext(context.Background(), of.EvaluationContext{}))
	want := fresh.Revision()
	fresh.Shutdown()
	require.Eventually(t, func() bool { return ts.srv.Provider().Revision() == want }, 5*time.Second, 5*time.Millisecond,
		"the server never loaded what Redis holds")
}

// do sends one request and returns the response with its body read.
func (ts *testServer) do(t *testing.T, method, path string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.url+path, body)
	require.NoError(t, err)
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}
