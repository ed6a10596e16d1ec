package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// seedMany writes n tutorial-layout flags (two environments each) in
// pipelined batches, as the tutorial's application would store them.
func seedMany(b *testing.B, h *harness, n int) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 500 {
		p := h.rdb.Pipeline()
		for i := start; i < min(start+500, n); i++ {
			key := fmt.Sprintf("feature-%05d", i)
			base := "feature-flags:flag:" + key
			p.HSet(ctx, base, "description", "Flag number "+fmt.Sprint(i)+" of the load test", "defaultEnabled", "true", "updatedAt", "2026-11-01T10:00:00.000Z", "version", "3",
				"metadata", `{"owner":"team-`+fmt.Sprint(i%17)+`","tags":"load"}`)
			p.SAdd(ctx, base+":environments", "production", "staging")
			p.HSet(ctx, base+":environment:production", "enabled", fmt.Sprint(i%3 != 0), "rolloutPercent", fmt.Sprint(i%101), "value", `{"title":"t"}`, "updatedAt", "2026-11-01T10:00:00.000Z")
			p.HSet(ctx, base+":environment:staging", "enabled", "true", "rolloutPercent", "100", "value", "null", "updatedAt", "2026-11-01T10:00:00.000Z")
			p.SAdd(ctx, base+":environment:production:users", "user-1", "user-2")
			p.SAdd(ctx, "feature-flags:index", key)
		}
		_, err := p.Exec(ctx)
		require.NoError(b, err)
	}
}

// session signs in through the handler and returns the cookie.
func benchSession(b *testing.B, h *harness) *http.Cookie {
	b.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"user": {"vera"}, "password": {password("vera")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.con.ServeHTTP(rec, req)
	require.Equal(b, http.StatusSeeOther, rec.Code)
	for _, c := range rec.Result().Cookies() {
		if c.Value != "" {
			return c
		}
	}
	b.Fatal("no session cookie")
	return nil
}

// BenchmarkPage measures the server time and the size of console pages
// over 10,000 flags in a real redis-server (one round trip to Redis is part
// of each). store-load-page is the reference: the Redis reads the first
// list page needs (the index, then 50 flags), without rendering.
func BenchmarkPage(b *testing.B) {
	h := start(b)
	seedMany(b, h, 10000)
	ck := benchSession(b, h)
	for _, bc := range []struct{ name, path string }{
		{"", ""}, // the reference first too, to see the drift across the run
		{"list-first-page-10000-flags", "/"},
		{"list-search-10000-flags", "/?q=feature-099"},
		{"flag-page", "/flags/feature-04242"},
		{"history-page", "/flags/feature-04242/history"},
	} {
		if bc.path == "" {
			b.Run("store-load-page", func(b *testing.B) { benchStoreLoad(b, h) })
			continue
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, bc.path, nil)
				req.AddCookie(ck)
				h.con.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", bc.path, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
	b.Run("store-load-page", func(b *testing.B) { benchStoreLoad(b, h) })
}

func benchStoreLoad(b *testing.B, h *harness) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		keys, err := h.st.Keys(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.st.Load(ctx, keys[:50]...); err != nil {
			b.Fatal(err)
		}
	}
}
