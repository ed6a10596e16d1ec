package release_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/store"
)

const testSecret = release.Secret("s3cret-for-tests")

// receiver is a local webhook receiver that verifies every signature.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	events []store.Event
	bad    int
	srv    *httptest.Server
	addr   string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.addr = l.Addr().String()
	r.start(l)
	return r
}

func (r *receiver) start(l net.Listener) {
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := release.Verify(testSecret, req.Header.Get(release.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			r.mu.Lock()
			r.bad++
			r.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev store.Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(release.HeaderEventID) {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	}))
	r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
}

func (r *receiver) down() { r.srv.Close() }

func (r *receiver) up() {
	var l net.Listener
	var err error
	for range 50 { // the port was ours a moment ago
		if l, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(r.t, err)
	r.start(l)
	r.t.Cleanup(r.srv.Close)
}

func (r *receiver) got() []store.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Event(nil), r.events...)
}

func TestVerifyRejectsForgeries(t *testing.T) {
	body := []byte(`{"id":"1-0"}`)
	now := time.Now()
	h := release.Sign(testSecret, now, body)
	require.NoError(t, release.Verify(testSecret, h, body, now, time.Minute))
	require.ErrorIs(t, release.Verify("other", h, body, now, time.Minute), release.ErrBadSignature)
	require.ErrorIs(t, release.Verify(testSecret, h, []byte(`{"id":"2-0"}`), now, time.Minute), release.ErrBadSignature)
	require.ErrorIs(t, release.Verify(testSecret, h, body, now.Add(time.Hour), time.Minute), release.ErrBadSignature, "an old delivery replayed")
	require.ErrorIs(t, release.Verify(testSecret, "v1=abc", body, now, time.Minute), release.ErrBadSignature)
	assert.Equal(t, "[redacted]", fmt.Sprint(testSecret))
	assert.Equal(t, "[redacted]", fmt.Sprintf("%s %v %q %#v", testSecret, testSecret, testSecret, testSecret)[:10])
	b, _ := json.Marshal(release.Webhook{Secret: testSecret})
	assert.NotContains(t, string(b), "s3cret")
	assert.NotContains(t, fmt.Sprintf("%+v", release.Webhook{Secret: testSecret}), "s3cret")
}

// TestWebhooksSurviveA30sOutage: with the receiver down for 30 s, every
// event arrives after it returns, signed, in order per flag, none twice.
func TestWebhooksSurviveA30sOutage(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	st := store.New(rdb, store.WithOutbox())
	rc := newReceiver(t)
	d := release.NewDispatcher(st, []release.Webhook{{Name: "test", URL: "http://" + rc.addr + "/hook", Secret: testSecret}},
		release.WithBackoff(50*time.Millisecond, 2*time.Second))
	d.Start()
	defer d.Close()

	write := func(flag string, pct int) {
		_, err := st.Upsert(ctx, evaluator.Flag{Key: flag, DefaultEnabled: true,
			Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: pct}}}, store.Actor("ana"))
		require.NoError(t, err)
	}
	flags := []string{"alpha", "beta", "gamma"}
	for i := range 3 {
		for _, f := range flags {
			write(f, i)
		}
	}
	require.Eventually(t, func() bool { return len(rc.got()) == 9 }, 20*time.Second, 50*time.Millisecond)

	rc.down()
	outage := time.Now()
	for i := 3; i < 13; i++ {
		for _, f := range flags {
			write(f, i) // never blocked by the receiver being down
		}
	}
	assert.Less(t, time.Since(outage), 10*time.Second, "writes do not wait for webhooks")
	time.Sleep(30*time.Second - time.Since(outage))
	assert.Len(t, rc.got(), 9, "nothing arrives while the receiver is down")
	rc.up()
	require.Eventually(t, func() bool { return len(rc.got()) >= 39 }, 30*time.Second, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)

	got := rc.got()
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, ev := range got {
		require.False(t, seen[ev.ID], "event %s delivered twice", ev.ID)
		seen[ev.ID] = true
		assert.Equal(t, store.EventFlagUpdated, ev.Type)
		assert.Greater(t, ev.Version, last[ev.Flag], "in order for %s", ev.Flag)
		last[ev.Flag] = ev.Version
	}
	assert.Len(t, got, 39)
	for _, f := range flags {
		assert.Equal(t, int64(13), last[f])
	}
	rc.mu.Lock()
	assert.Zero(t, rc.bad, "every signature verified")
	rc.mu.Unlock()
}

func TestSlackFormat(t *testing.T) {
	b := release.Body(release.FormatSlack, store.Event{Type: store.EventFlagUpdated, Flag: "alpha", Actor: "ana", Version: 3, Note: "emergency off"})
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "redisflags: flag.updated alpha by ana (version 3): emergency off", m["text"])
	assert.Len(t, m, 1)
}
