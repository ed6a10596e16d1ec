package tracking_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/leakcheck"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
	"github.com/redisflags/redisflags/tracking"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestRouteAppendsToTheStream: events posted over HTTP reach the stream the
// Go provider's Track writes, with their subject, value and attributes; a
// bad event refuses the request whole and names the field.
func TestRouteAppendsToTheStream(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	q := provider.NewEventQueue(rdb)
	q.Start()
	defer q.Stop(t.Context())
	hs := httptest.NewServer(tracking.Handler(q))
	defer hs.Close()

	code, body := post(t, hs.URL, `{"events":[
		{"key":"checkout","context":{"targetingKey":"user-1"},"value":42.5,"attributes":{"currency":"EUR"}},
		{"key":"signup","context":{"kind":"user","key":"user-2"}}]}`)
	require.Equal(t, http.StatusAccepted, code, body)
	require.JSONEq(t, `{"accepted":2,"dropped":0}`, body)

	code, body = post(t, hs.URL, `{"events":[{"key":"ok"},{"key":""}]}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "events[1].key: missing")

	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().Sent < 2 {
		require.True(t, time.Now().Before(deadline), "not sent")
		time.Sleep(5 * time.Millisecond)
	}
	evs, err := store.New(rdb).ReadEvents(t.Context(), "", 100)
	require.NoError(t, err)
	require.Len(t, evs, 2, "the refused request queued nothing")
	require.Equal(t, "checkout", evs[0].Name)
	require.Equal(t, "user-1", evs[0].Subject)
	require.Equal(t, 42.5, evs[0].Value)
	require.Equal(t, map[string]any{"currency": "EUR"}, evs[0].Attributes)
	require.Equal(t, "user-2", evs[1].Subject)
}

// TestRouteBounds: too many events, too large a body, too many attributes.
func TestRouteBounds(t *testing.T) {
	q := &countQueue{}
	hs := httptest.NewServer(tracking.Handler(q))
	defer hs.Close()
	var many bytes.Buffer
	many.WriteString(`{"events":[`)
	for i := range 101 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`{"key":"e"}`)
	}
	many.WriteString(`]}`)
	code, body := post(t, hs.URL, many.String())
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "at most 100")

	big := `{"events":[{"key":"e","attributes":{"a":"` + strings.Repeat("x", tracking.MaxBody) + `"}}]}`
	code, _ = post(t, hs.URL, big)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)

	attrs := map[string]any{}
	for i := range 33 {
		attrs[strings.Repeat("k", i+1)] = i
	}
	b, err := json.Marshal(map[string]any{"events": []any{map[string]any{"key": "e", "attributes": attrs}}})
	require.NoError(t, err)
	code, body = post(t, hs.URL, string(b))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "events[0].attributes")
	require.Zero(t, q.n)
}

// TestRouteCountsDrops: a full queue answers with the drops counted.
func TestRouteCountsDrops(t *testing.T) {
	srv := redistest.Start(t)
	q := provider.NewEventQueue(srv.Client(t), provider.WithTracking(1, 0, 0)) // never started: nothing drains
	hs := httptest.NewServer(tracking.Handler(q))
	defer hs.Close()
	code, body := post(t, hs.URL, `{"events":[{"key":"a"},{"key":"b"},{"key":"c"}]}`)
	require.Equal(t, http.StatusAccepted, code)
	require.JSONEq(t, `{"accepted":1,"dropped":2}`, body)
	require.Equal(t, int64(2), q.Stats().Dropped)
}

type countQueue struct{ n int }

func (c *countQueue) Enqueue(store.TrackedEvent) bool { c.n++; return true }

func FuzzDecode(f *testing.F) {
	f.Add(`{"events":[{"key":"checkout","context":{"targetingKey":"u"},"value":1,"attributes":{"a":1}}]}`)
	f.Add(`{"events":[]}`)
	f.Add(`{"events":[{"key":"\u0000"}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		evs, err := tracking.Decode(strings.NewReader(body))
		if err != nil {
			require.Nil(t, evs)
			return
		}
		require.NotEmpty(t, evs)
		require.LessOrEqual(t, len(evs), tracking.MaxEvents)
		for _, e := range evs {
			require.NotEmpty(t, e.Name)
			require.LessOrEqual(t, len(e.Name), tracking.MaxNameLength)
			require.Equal(t, store.EventTrack, e.Kind)
		}
	})
}
