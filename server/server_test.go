package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/store"
)

// TestHandlerComposesRoutesAndMiddleware: routes added with WithRoute are
// served beside the built-in ones, and middleware wraps all of them, the
// first given outermost.
func TestHandlerComposesRoutesAndMiddleware(t *testing.T) {
	var order []string
	mark := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				w.Header().Add("X-Seen", name)
				next.ServeHTTP(w, r)
			})
		}
	}
	s := New(nil, nil,
		WithRoute("GET /extra", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("extra")) })),
		WithMiddleware(mark("outer"), mark("inner")))
	h := s.Handler()

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/extra", nil))
	assert.Equal(t, "extra", w.Body.String())
	assert.Equal(t, []string{"outer", "inner"}, w.Header().Values("X-Seen"))

	order = nil
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, []string{"outer", "inner"}, order, "middleware wraps the built-in routes too")
}

// TestHandlersMountSeparately: each handler serves its own routes and
// nothing else, so an application can mount only OFREP.
func TestHandlersMountSeparately(t *testing.T) {
	s := New(nil, nil)
	for _, tt := range []struct {
		name     string
		h        http.Handler
		method   string
		path     string
		status   int
		contains string
	}{
		{"health serves healthz", s.Health(), "GET", "/healthz", 200, `"ok"`},
		{"health has no OFREP", s.Health(), "POST", "/ofrep/v1/evaluate/flags", 404, ""},
		{"OFREP before loading", s.OFREP(), "POST", "/ofrep/v1/evaluate/flags", 500, "not loaded"},
		{"OFREP has no API", s.OFREP(), "GET", "/api/flags/x", 404, ""},
		{"API rejects a bad key", s.API(), "GET", "/api/flags/a%20b", 400, "flagKey"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tt.h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}")))
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), tt.contains)
		})
	}
}

// TestShutdownWithoutStartAndTwice: Shutdown is safe before Start and
// when repeated; Start twice is refused.
func TestShutdownWithoutStartAndTwice(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, store.New(rdb))
	require.NoError(t, s.Shutdown(t.Context()))
	require.NoError(t, s.Start(context.Background()))
	require.Error(t, s.Start(context.Background()))
	require.NoError(t, s.Shutdown(t.Context()))
	require.NoError(t, s.Shutdown(t.Context()))
}
