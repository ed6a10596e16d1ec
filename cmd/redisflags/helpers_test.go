package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of every test that writes: updatedAt and audit
// times come out the same on every run.
var fixedNow = time.Date(2026, 3, 19, 12, 0, 0, 0, time.UTC)

// useFixedClock sets the command's clock for the test.
func useFixedClock(t testing.TB) {
	t.Helper()
	old := now
	now = func() time.Time { return fixedNow }
	t.Cleanup(func() { now = old })
}

// testServer is a server over rdb on a loopback port, with its flag
// refresher running; both stop when the test ends.
type testServer struct {
	url   string
	store *store.Store
	live  *liveFlags
	rdb   redis.UniversalClient
	token string
}

func startServer(t testing.TB, rdb redis.UniversalClient, token string) *testServer {
	t.Helper()
	useFixedClock(t)
	c := conn{prefix: store.DefaultKeyPrefix}
	st := c.store(rdb)
	logger := slog.New(slog.DiscardHandler)
	live := newLiveFlags(rdb, st, time.Minute, logger)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { live.run(ctx) })
	s := newServer(serverConfig{rdb: rdb, store: st, flags: live, adminToken: token, logger: logger})
	hs := httptest.NewServer(s.handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		wg.Wait()
	})
	require.Eventually(t, live.loaded, 5*time.Second, 5*time.Millisecond, "flags never loaded")
	return &testServer{url: hs.URL, store: st, live: live, rdb: rdb, token: token}
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

// redisState returns every key with its contents: DUMP where the server has
// it (redis-server); miniredis dumps only strings, so hashes, sets and
// streams are read out there. Equal states mean nothing was written.
func redisState(t *testing.T, rdb redis.UniversalClient) map[string]string {
	t.Helper()
	ctx := t.Context()
	keys, err := rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	sort.Strings(keys)
	out := map[string]string{}
	for _, k := range keys {
		if v, err := rdb.Dump(ctx, k).Result(); err == nil {
			out[k] = v
			continue
		}
		typ, err := rdb.Type(ctx, k).Result()
		require.NoError(t, err)
		var v any
		switch typ {
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "set":
			var m []string
			m, err = rdb.SMembers(ctx, k).Result()
			sort.Strings(m)
			v = m
		case "stream":
			v, err = rdb.XRange(ctx, k, "-", "+").Result()
		default:
			v, err = rdb.Get(ctx, k).Result()
		}
		require.NoError(t, err)
		out[k] = typ + fmt.Sprint(v)
	}
	return out
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./cmd/redisflags -update")
	require.Equal(t, string(want), got, "output differs from %s (go test ./cmd/redisflags -update rewrites it)", path)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs the command and returns its stdout, stderr and error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func mustRunCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, args...)
	require.NoError(t, err, "redisflags %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}
