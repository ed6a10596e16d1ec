package provider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

var attrSink map[string]any

func readAllEvents(t *testing.T, rdb redis.UniversalClient) []store.TrackedEvent {
	t.Helper()
	evs, err := store.New(rdb).ReadEvents(t.Context(), "", 1_000_000)
	require.NoError(t, err)
	return evs
}

// TestTrackAppendsToTheStream: OpenFeature's client.Track reaches the
// stream with its name, subject, value and attributes.
func TestTrackAppendsToTheStream(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	p := provider.New(rdb)
	c := bind(t, p)
	c.Track(t.Context(), "checkout", of.NewEvaluationContext("user-1", nil),
		of.NewTrackingEventDetails(42.5).Add("currency", "EUR"))
	c.Track(t.Context(), "signup", of.NewEvaluationContext("", map[string]any{"key": "user-2"}), of.TrackingEventDetails{})
	eventually(t, 5*time.Second, "two events in the stream", func() bool { return len(readAllEvents(t, rdb)) == 2 })
	evs := readAllEvents(t, rdb)
	require.Equal(t, "checkout", evs[0].Name)
	require.Equal(t, store.EventTrack, evs[0].Kind)
	require.Equal(t, "user-1", evs[0].Subject)
	require.Equal(t, 42.5, evs[0].Value)
	require.Equal(t, map[string]any{"currency": "EUR"}, evs[0].Attributes)
	require.WithinDuration(t, time.Now(), evs[0].At, time.Minute)
	require.Equal(t, "signup", evs[1].Name)
	require.Equal(t, "user-2", evs[1].Subject)
	require.Equal(t, provider.TrackStats{Sent: 2}, p.TrackStats())
}

// TestTrackSurvivesARedisRestart kills redis-server, tracks more events
// than the queue holds, restarts it, and checks that every event the queue
// (and the sender's batch) could hold arrives once, in order, and that the
// rest were counted as dropped.
func TestTrackSurvivesARedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	const queue, batch = 100, 10
	p := provider.New(rdb, provider.WithTracking(queue, batch, 0))
	c := bind(t, p)
	ctx := t.Context()
	track := func(i int) {
		c.Track(ctx, "e", of.NewEvaluationContext(fmt.Sprintf("user-%d", i), nil), of.NewTrackingEventDetails(float64(i)))
	}
	for i := range 5 {
		track(i)
	}
	eventually(t, 5*time.Second, "the first events sent", func() bool { return p.TrackStats().Sent == 5 })

	srv.Kill()
	const during = 300
	start := time.Now()
	for i := 5; i < 5+during; i++ {
		track(i)
	}
	// Non-blocking with Redis down: 300 Track calls take far less than one
	// dial timeout (generous for a loaded machine).
	require.Less(t, time.Since(start), 2*time.Second)
	st := p.TrackStats()
	require.Positive(t, st.Dropped)
	require.LessOrEqual(t, st.Dropped, int64(during-queue), "dropped more than the queue bound allows")
	require.GreaterOrEqual(t, st.Dropped, int64(during-queue-batch), "held more than the queue and one batch")

	// Let the sender meet the outage before Redis comes back.
	eventually(t, 30*time.Second, "an append refused", func() bool { return p.TrackStats().FailedAppends > 0 })
	srv.Restart()
	kept := int64(5+during) - st.Dropped
	eventually(t, 30*time.Second, "the kept events sent after the restart", func() bool { return p.TrackStats().Sent == kept })
	evs := readAllEvents(t, rdb) // the restarted server's stream: only what was kept
	require.Len(t, evs, int(kept-5))
	last := -1.0
	for _, e := range evs {
		require.Greater(t, e.Value, last, "events out of order or duplicated")
		last = e.Value
	}
	require.Equal(t, 5.0, evs[0].Value, "the first event tracked during the outage")
	final := p.TrackStats()
	require.Equal(t, st.Dropped, final.Dropped)
	require.Zero(t, final.Queued)
}

// TestTrackStreamIsBounded: the stream is trimmed near its maximum length.
func TestTrackStreamIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	p := provider.New(rdb, provider.WithTracking(0, 0, 1000))
	c := bind(t, p)
	for i := range 5000 {
		c.Track(t.Context(), "e", of.NewEvaluationContext("u", nil), of.NewTrackingEventDetails(float64(i)))
		if i%1000 == 999 {
			eventually(t, 10*time.Second, "sent", func() bool { return p.TrackStats().Sent == int64(i+1) })
		}
	}
	n, err := rdb.XLen(t.Context(), store.New(rdb).EventsKey()).Result()
	require.NoError(t, err)
	require.Less(t, n, int64(2000), "MAXLEN ~ 1000 keeps the stream near 1000 entries")
	require.GreaterOrEqual(t, n, int64(1000))
}

// TestShutdownWritesTrackedEvents: events queued just before Shutdown are
// written by it.
func TestShutdownWritesTrackedEvents(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seedUsageFlags(t, rdb)
	p := provider.New(rdb)
	require.NoError(t, p.Init(of.EvaluationContext{}))
	for i := range 50 {
		p.Track(context.Background(), "e", of.NewEvaluationContext("u", nil), of.NewTrackingEventDetails(float64(i)))
	}
	p.Shutdown()
	require.Len(t, readAllEvents(t, rdb), 50)
}

// BenchmarkTrack measures Track queuing an event with the sender running
// beside it, and with Redis down once the queue is full (Track then drops
// and counts), beside the copy of the attributes every queued event costs,
// in the same run: "ratio" is over that reference. What Track alone costs
// its caller is BenchmarkTrackQueued (track_internal_test.go).
func BenchmarkTrack(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client(b)
	ctx := context.Background()
	ec := of.NewEvaluationContext("user-1", nil)
	details := of.NewTrackingEventDetails(1).Add("currency", "EUR")
	// The reference: copying the details' attributes, which Track must do
	// (the caller may change them after Track returns), and which go-sdk
	// offers only as a fresh map.
	var ref float64
	b.Run("AttributesCopyReference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			attrSink = details.Attributes()
		}
		ref = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	// Every round gets a provider whose queue holds all of its b.N events,
	// so that no event is dropped (a drop costs a few ns and would flatter
	// the figure): the benchmark fails if one is.
	queued := func(b *testing.B, p *provider.Provider) {
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			p.Track(ctx, "checkout", ec, details)
		}
		b.StopTimer()
		if d := p.TrackStats().Dropped; d != 0 {
			b.Fatalf("%d of %d events dropped: the figure would not be Track's cost", d, b.N)
		}
		if ref > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ref, "ratio")
		}
	}
	// QueuedWhileSending: the same with the sender appending to Redis on
	// the other core as fast as Track feeds it, a saturation no application
	// reaches: its allocations (the stream entries) and garbage collection
	// count here too (allocs/op includes them).
	b.Run("QueuedWhileSending", func(b *testing.B) {
		queued(b, startedProvider(b, rdb, provider.WithTracking(b.N+1, 0, 0)))
	})
	down := startedProvider(b, srv.Client(b), provider.WithTracking(1000, 0, 0))
	srv.Kill()
	b.Run("RedisDown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			down.Track(ctx, "checkout", ec, details)
		}
		b.ReportMetric(float64(down.TrackStats().Dropped), "dropped")
	})
}
