package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/provider"
)

// referenceBucket computes the tutorial's bucket from its description,
// independently of the evaluator package.
func referenceBucket(flag, env, subject string) int {
	sum := sha256.Sum256([]byte(flag + ":" + env + ":" + subject))
	n, err := strconv.ParseUint(hex.EncodeToString(sum[:])[:8], 16, 32)
	if err != nil {
		panic(err)
	}
	return int(n % 100)
}

// bind registers p for a domain of its own and returns a client for it; the
// provider is shut down when the test ends.
func bind(t *testing.T, p *provider.Provider) *of.Client {
	t.Helper()
	domain := newDomain(t)
	require.NoError(t, of.SetNamedProviderAndWait(domain, p))
	t.Cleanup(p.Shutdown)
	return of.NewClient(domain)
}

var domains atomic.Int64

// newDomain returns an OpenFeature domain no other test (or -count run)
// uses, so that no test replaces another's provider.
func newDomain(t *testing.T) string {
	return fmt.Sprintf("%s#%d", t.Name(), domains.Add(1))
}

// eventLog records the events a client's provider emits.
type eventLog struct {
	mu     sync.Mutex
	events []of.EventDetails
	types  []of.EventType
	ch     chan struct{}
}

func watchEvents(c *of.Client) *eventLog {
	l := &eventLog{ch: make(chan struct{}, 1024)}
	for _, t := range []of.EventType{of.ProviderReady, of.ProviderStale, of.ProviderError, of.ProviderConfigChange} {
		cb := func(d of.EventDetails) {
			l.mu.Lock()
			l.events = append(l.events, d)
			l.types = append(l.types, t)
			l.mu.Unlock()
			select {
			case l.ch <- struct{}{}:
			default:
			}
		}
		c.AddHandler(t, &cb)
	}
	return l
}

// waitFor waits until an event of type t for which match returns true has
// been recorded (match may be nil), and returns it.
func (l *eventLog) waitFor(t *testing.T, typ of.EventType, within time.Duration, match func(of.EventDetails) bool) of.EventDetails {
	t.Helper()
	deadline := time.After(within)
	seen := 0
	for {
		l.mu.Lock()
		for ; seen < len(l.events); seen++ {
			if l.types[seen] == typ && (match == nil || match(l.events[seen])) {
				d := l.events[seen]
				l.mu.Unlock()
				return d
			}
		}
		l.mu.Unlock()
		select {
		case <-l.ch:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s event within %v", typ, within)
		}
	}
}

func (l *eventLog) count(typ of.EventType) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.types {
		if x == typ {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// evalLoad is an evaluation load: goroutines asking flag-0 … flag-19 for
// alice, each answer expected true, until stop is closed. It counts
// evaluations and failures (an error or false).
type evalLoad struct {
	evals, failures atomic.Int64
	stop            chan struct{}
	wg              sync.WaitGroup
	once            sync.Once
}

// startEvalLoad starts n goroutines evaluating through c.
func startEvalLoad(ctx context.Context, c *of.Client, n int) *evalLoad {
	l := &evalLoad{stop: make(chan struct{})}
	for g := range n {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				d, err := c.BooleanValueDetails(ctx, fmt.Sprintf("flag-%d", (g+i)%20), false, of.NewEvaluationContext("alice", nil))
				l.evals.Add(1)
				if err != nil || !d.Value {
					l.failures.Add(1)
				}
				if i%64 == 63 {
					// Yield now and then, as request handlers do when they
					// block on I/O: busy loops on two cores under -race
					// would otherwise leave writers and the provider's loop
					// waiting tens of milliseconds for every network read.
					runtime.Gosched()
				}
			}
		})
	}
	return l
}

// halt stops the load and waits for it; it may be called more than once.
func (l *evalLoad) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}
