package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

// TestServeTrackingRoute: an OFREP client's tracking events posted to
// serve reach the tracking stream, and serve stops its sender on exit.
func TestServeTrackingRoute(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ignore := goleak.IgnoreCurrent()
	url, _, stop := serve(t, "--redis-url", srv.URL(), "--admin-token", "tok")
	code, body := httpDo(t, "POST", url+"/ofrep/v1/track", `{"events":[{"key":"purchase","context":{"targetingKey":"user-9"},"value":3}]}`)
	require.Equal(t, http.StatusAccepted, code, body)
	require.JSONEq(t, `{"accepted":1,"dropped":0}`, body)
	require.NoError(t, stop())
	goleak.VerifyNone(t, ignore)
	require.Eventually(t, func() bool {
		evs, err := store.New(rdb).ReadEvents(t.Context(), "", 10)
		return err == nil && len(evs) == 1 && evs[0].Name == "purchase" && evs[0].Subject == "user-9"
	}, 5*time.Second, 10*time.Millisecond, "Stop flushed the queue")
}
