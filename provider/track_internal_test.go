package provider

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
)

// BenchmarkTrackQueued measures what Track costs its caller: the copy of
// the attributes (which go-sdk offers only as a fresh map), the event and
// the queue, with the queue at its default bound and emptied outside the
// timer every 4,096 events (as the sender empties it), so that no event is
// dropped and the heap stays the size it has in use. "ratio" is over the
// attribute copy alone, measured in the same run.
func BenchmarkTrackQueued(b *testing.B) {
	m := miniredis.RunT(b)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	ec := of.NewEvaluationContext("user-1", nil)
	details := of.NewTrackingEventDetails(1).Add("currency", "EUR")
	ctx := context.Background()
	var ref float64
	b.Run("AttributesCopyReference", func(b *testing.B) {
		b.ReportAllocs()
		var sink map[string]any
		for b.Loop() {
			sink = details.Attributes()
		}
		_ = sink
		ref = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("Queued", func(b *testing.B) {
		p := New(rdb)
		b.Cleanup(p.Shutdown)
		// The running sender's clock base (it is not started here: this
		// goroutine empties the queue instead).
		p.tracker.rebase()
		q := p.tracker.queue()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			p.Track(ctx, "checkout", ec, details)
			if i%4096 == 4095 {
				b.StopTimer()
				for len(q) > 0 {
					<-q
				}
				b.StartTimer()
			}
		}
		b.StopTimer()
		if d := p.TrackStats().Dropped; d != 0 {
			b.Fatalf("%d of %d events dropped: the figure would not be Track's cost", d, b.N)
		}
		if ref > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ref, "ratio")
		}
	})
}
