package provider_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// generation g of the flag spreads over three keys, so a read that mixed two
// writes would show: the version lives in the flag hash, the payload {"gen":
// g} in the environment hash, and the reader's subject is in the allowlist
// set exactly when g is odd (reason TARGETING_MATCH, else the 100% rollout's
// DEFAULT).
func generation(g int) evaluator.Flag {
	env := evaluator.Environment{Enabled: true, RolloutPercent: 100, Value: []byte(fmt.Sprintf(`{"gen":%d}`, g))}
	if g%2 == 1 {
		env.AllowlistUsers = []string{"reader"}
	}
	return evaluator.Flag{Key: "torn", DefaultEnabled: true, Environments: map[string]evaluator.Environment{"production": env}}
}

type observation struct {
	version int64
	gen     int
	reason  of.Reason
}

// TestAnswersComeFromWholeDefinitions: 2 writers × 1,000 upserts of one flag
// while 8 readers evaluate; every answer must match one definition.
func TestAnswersComeFromWholeDefinitions(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := redistest.Start(t)
			ctx := t.Context()
			s := store.New(srv.Client(t))
			_, err := s.Upsert(ctx, generation(0))
			require.NoError(t, err)
			c := bind(t, provider.New(srv.Client(t), m.opts...))

			var mu sync.Mutex
			written := map[int64]int{1: 0} // version → generation
			seen := map[observation]int{}
			var readErrs []string
			stop := make(chan struct{})
			var readers, writers sync.WaitGroup
			for range 8 {
				readers.Go(func() {
					local := map[observation]int{}
					var errs []string
					for {
						select {
						case <-stop:
							mu.Lock()
							for o, n := range local {
								seen[o] += n
							}
							readErrs = append(readErrs, errs...)
							mu.Unlock()
							return
						default:
						}
						d, err := c.ObjectValueDetails(ctx, "torn", nil, of.NewEvaluationContext("reader", nil))
						if err != nil {
							errs = append(errs, err.Error())
							continue
						}
						obj, _ := d.Value.(map[string]any)
						gen, _ := obj["gen"].(float64)
						v, _ := d.FlagMetadata["version"].(int64)
						local[observation{v, int(gen), d.Reason}]++
					}
				})
			}
			for w := range 2 {
				writers.Go(func() {
					for i := range 1000 {
						g := 1 + w*1000 + i
						stored, err := s.Upsert(ctx, generation(g))
						if !assert.NoError(t, err) {
							return
						}
						mu.Lock()
						written[stored.Version] = g
						mu.Unlock()
					}
				})
			}
			writers.Wait()
			time.Sleep(50 * time.Millisecond)
			close(stop)
			readers.Wait()

			require.Empty(t, readErrs)
			require.Len(t, written, 2001, "every write got its own version")
			total, versions := 0, map[int64]bool{}
			for o, n := range seen {
				total += n
				versions[o.version] = true
				g, ok := written[o.version]
				require.True(t, ok, "answer with version %d that was never written", o.version)
				require.Equal(t, g, o.gen, "version %d carries the payload of generation %d, not %d: a torn read", o.version, o.gen, g)
				want := of.DefaultReason
				if g%2 == 1 {
					want = of.TargetingMatchReason
				}
				require.Equal(t, want, o.reason, "version %d (generation %d) answered with the allowlist of another generation", o.version, g)
			}
			t.Logf("%s: %d answers over %d distinct versions, all whole", m.name, total, len(versions))
			assert.Greater(t, len(versions), 10, "readers saw the flag change many times")
		})
	}
}
