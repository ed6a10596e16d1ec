package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/store"
)

func startLimited(t *testing.T, l Limits) *testServer {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	st := startServerWith(t, rdb, WithLimits(l))
	return st
}

// startServerWith is startServer (no admin token) with options.
func startServerWith(t *testing.T, rdb redis.UniversalClient, opts ...Option) *testServer {
	t.Helper()
	st := store.New(rdb, store.WithClock(func() time.Time { return fixedNow }))
	s := New(rdb, st, append([]Option{WithResync(time.Minute)}, opts...)...)
	require.NoError(t, s.Start(context.Background()))
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, s.Shutdown(context.Background()))
	})
	require.Eventually(t, s.Loaded, 5*time.Second, 5*time.Millisecond, "flags never loaded")
	return &testServer{url: hs.URL, store: st, srv: s, rdb: rdb}
}

// Requests beyond MaxInFlight get 429 with Retry-After at once, without
// their body being read; once the slots free up, requests are served again.
func TestAttackPublicRequestsBeyondTheInFlightBoundGet429(t *testing.T) {
	ts := startLimited(t, Limits{MaxInFlight: 2})
	var holders []*io.PipeWriter
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		pr, pw := io.Pipe()
		holders = append(holders, pw)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.url+"/ofrep/v1/evaluate/flags", pr)
		require.NoError(t, err)
		wg.Go(func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				codes <- resp.StatusCode
				resp.Body.Close()
			}
		})
		_, err = pw.Write([]byte(`{"context":`)) // the handler is now reading it
		require.NoError(t, err)
	}
	// Both slots are taken once both handlers are reading their bodies.
	require.Eventually(t, func() bool { return len(ts.srv.limiter.slots) == 2 }, 5*time.Second, 5*time.Millisecond)
	var resp *http.Response
	require.Eventually(t, func() bool {
		r, _ := ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{"context":{"targetingKey":"u"}}`))
		resp = r
		return r.StatusCode == http.StatusTooManyRequests
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	r, _ := ts.do(t, http.MethodGet, "/api/flags/anything", nil)
	assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "the tutorial's public routes share the bound")
	r, _ = ts.do(t, http.MethodGet, "/healthz", nil)
	assert.Equal(t, http.StatusOK, r.StatusCode, "health is not bounded")

	for _, pw := range holders {
		_, _ = pw.Write([]byte(`{"targetingKey":"u"}}`))
		_ = pw.Close()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Equal(t, http.StatusOK, c)
	}
	r, _ = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", strings.NewReader(`{"context":{"targetingKey":"u"}}`))
	assert.Equal(t, http.StatusOK, r.StatusCode, "served again once the slots are free")
}

func TestAttackOFREPContextsAboveTheBoundGet413(t *testing.T) {
	ts := startLimited(t, Limits{})
	big := bigContext(DefaultMaxContextBytes + 1)
	r, body := ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", bytes.NewReader(big))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.StatusCode, body)
	// Without a Content-Length (chunked), the body is cut at the bound.
	r, body = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", io.MultiReader(bytes.NewReader(big)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.StatusCode, body)
	r, _ = ts.do(t, http.MethodPost, "/ofrep/v1/evaluate/flags", bytes.NewReader(bigContext(DefaultMaxContextBytes-100)))
	assert.Equal(t, http.StatusOK, r.StatusCode)
}

// bigContext is an OFREP request of about n bytes: a context with one
// attribute holding many short strings, the shape that costs most to
// decode.
func bigContext(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"context":{"targetingKey":"u","tags":[`)
	for i := 0; b.Len() < n-20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"t` + strconv.Itoa(i%1000) + `"`)
	}
	b.WriteString(`]}}`)
	for b.Len() < n {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

// vmHWM is the process's peak resident set size, in bytes.
func vmHWM(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status: cannot read RSS")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc/self/status")
	return 0
}

// 50 concurrent OFREP requests with a 780 KB context: with the default
// limits the peak RSS hardly moves (each is refused with 413 before it is
// read); the same attack on a server with the limits off (1 MiB bodies, no
// in-flight bound) is measured in the same run as the reference. The peak
// is monotonic, so the bounded server goes first.
func TestAttackFiftyConcurrentLargeContextsDoNotExhaustMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 × 39 MB over loopback")
	}
	payload := bigContext(780_000)
	attack := func(ts *testServer) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 2 * time.Minute}
		for range 50 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, ts.url+"/ofrep/v1/evaluate/flags", bytes.NewReader(payload))
				resp, err := client.Do(req)
				code := -1
				if err == nil {
					code = resp.StatusCode
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return codes
	}
	base := vmHWM(t)
	bounded := attack(startLimited(t, Limits{}))
	afterBounded := vmHWM(t)
	assert.Equal(t, map[int]int{http.StatusRequestEntityTooLarge: 50}, bounded)
	assert.Less(t, afterBounded-base, int64(64<<20), "the bounded server reads none of the 39 MB it is sent")
	if raceEnabled {
		t.Logf("peak RSS: %d MB before, +%d MB under the bounded server; the unbounded reference is left out under -race (.ci/run's attack step runs it)", base>>20, (afterBounded-base)>>20)
		return
	}
	open := attack(startLimited(t, Limits{MaxInFlight: -1, MaxContextBytes: -1}))
	afterOpen := vmHWM(t)
	t.Logf("peak RSS: %d MB before; +%d MB under the bounded server (%v); +%d MB more under the unbounded one (%v)",
		base>>20, (afterBounded-base)>>20, bounded, (afterOpen-afterBounded)>>20, open)
	assert.Greater(t, afterOpen-afterBounded, 4*(afterBounded-base), "the reference shows what the bounds prevent")
}
