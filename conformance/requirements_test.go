package conformance_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// One test per provider requirement of the OpenFeature spec's sections 2
// (providers) and 5 (events) that applies to redisflags, named after it.
// README.md lists those that do not apply (SDK-only requirements, the
// static-context paradigm, tracking).

// Compile-time checks for 2.1.1, 2.2.1, 2.2.2.1, 2.3.1, 2.4.1, 2.5.1 and
// 5.1.1: the provider implements the interfaces that carry them.
var (
	_ of.FeatureProvider          = (*provider.Provider)(nil)
	_ of.StateHandler             = (*provider.Provider)(nil)
	_ of.ContextAwareStateHandler = (*provider.Provider)(nil)
	_ of.EventHandler             = (*provider.Provider)(nil)
)

// eachMode runs fn in both provider modes with a provider bound to a domain
// of its own over the shared server; the binding is shut down after.
func eachMode(t *testing.T, fn func(t *testing.T, b *binding, p *provider.Provider)) {
	t.Helper()
	fx := newFixture(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := provider.New(fx.rdb, m.opts...)
			b, err := bind(t.Context(), m.name, p)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.close()) })
			fn(t, b, p)
		})
	}
}

var (
	noContext = of.FlattenedContext{}
	emailCtx  = of.FlattenedContext{"email": "ballmer@macrosoft.com"}
)

// idle returns a client that is never used (the provider is not
// initialized), closed when the test ends.
func idle(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRequirement_2_1_1(t *testing.T) {
	p := provider.New(idle(t))
	assert.Equal(t, provider.Name, p.Metadata().Name)
	assert.NotEmpty(t, p.Metadata().Name, "the provider names itself")
}

// 2.2.1: methods resolving flag values from a key, a default and an
// optional (here nil) evaluation context, returning resolution details.
func TestRequirement_2_2_1(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		assert.True(t, p.BooleanEvaluation(ctx, "boolean-flag", false, nil).Value)
		assert.Equal(t, "hi", p.StringEvaluation(ctx, "string-flag", "x", nil).Value)
		assert.Equal(t, int64(10), p.IntEvaluation(ctx, "integer-flag", 1, nil).Value)
		assert.InDelta(t, 0.5, p.FloatEvaluation(ctx, "float-flag", 0.1, nil).Value, 0)
		assert.NotNil(t, p.ObjectEvaluation(ctx, "object-flag", nil, nil).Value)
	})
}

// 2.2.2.1: typed resolution for boolean, numeric, string and structure.
func TestRequirement_2_2_2_1(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		var (
			b of.BoolResolutionDetail      = p.BooleanEvaluation(ctx, "boolean-flag", false, noContext)
			s of.StringResolutionDetail    = p.StringEvaluation(ctx, "string-flag", "", noContext)
			i of.IntResolutionDetail       = p.IntEvaluation(ctx, "integer-flag", 0, noContext)
			f of.FloatResolutionDetail     = p.FloatEvaluation(ctx, "float-flag", 0, noContext)
			o of.InterfaceResolutionDetail = p.ObjectEvaluation(ctx, "object-flag", nil, noContext)
		)
		assert.IsType(t, true, b.Value)
		assert.IsType(t, "", s.Value)
		assert.IsType(t, int64(0), i.Value)
		assert.IsType(t, float64(0), f.Value)
		assert.IsType(t, map[string]any{}, o.Value)
	})
}

// 2.2.3: normal execution populates value with the resolved value.
func TestRequirement_2_2_3(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		o := p.ObjectEvaluation(ctx, "object-flag", map[string]any{}, noContext)
		assert.Equal(t, map[string]any{"showImages": true, "title": "Check out these pics!", "imagesPerPage": float64(100)}, o.Value)
		assert.Equal(t, "INTERNAL", p.StringEvaluation(ctx, "complex-targeted", "x",
			of.FlattenedContext{"email": "ballmer@macrosoft.com", "age": int64(65), "customer": false}).Value)
		// A zero value is a resolved value, not "nothing".
		assert.Equal(t, int64(0), p.IntEvaluation(ctx, "integer-zero-flag", 7, noContext).Value)
	})
}

// 2.2.4: normal execution populates the variant.
func TestRequirement_2_2_4(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		assert.Equal(t, "on", p.BooleanEvaluation(ctx, "boolean-flag", false, noContext).Variant)
		assert.Equal(t, "ten", p.IntEvaluation(ctx, "integer-flag", 0, noContext).Variant)
		assert.Equal(t, "zero", p.StringEvaluation(ctx, "string-targeted-zero-flag", "x", emailCtx).Variant)
	})
}

// 2.2.5: the reason says why: STATIC, TARGETING_MATCH, DEFAULT, DISABLED,
// ERROR — each where the spec's flags call for it.
func TestRequirement_2_2_5(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		tests := []struct {
			flag string
			fc   of.FlattenedContext
			want of.Reason
		}{
			{"boolean-flag", noContext, of.StaticReason},
			{"boolean-targeted-zero-flag", emailCtx, of.TargetingMatchReason},
			{"boolean-targeted-zero-flag", noContext, of.DefaultReason},
			{"boolean-disabled-flag", noContext, of.DisabledReason},
			{"no-such-flag", noContext, of.ErrorReason},
		}
		for _, tt := range tests {
			assert.Equal(t, tt.want, p.BooleanEvaluation(ctx, tt.flag, true, tt.fc).Reason, tt.flag)
		}
	})
}

// 2.2.6: normal execution leaves the error code empty.
func TestRequirement_2_2_6(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		for _, d := range []of.ProviderResolutionDetail{
			p.BooleanEvaluation(ctx, "boolean-flag", false, noContext).ProviderResolutionDetail,
			p.BooleanEvaluation(ctx, "boolean-disabled-flag", false, noContext).ProviderResolutionDetail,
			p.StringEvaluation(ctx, "string-targeted-zero-flag", "x", noContext).ProviderResolutionDetail,
		} {
			assert.Empty(t, d.ResolutionDetail().ErrorCode)
			assert.NoError(t, d.Error())
		}
	})
}

// 2.2.7: abnormal execution is an error with a code and a message.
func TestRequirement_2_2_7(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		ctx := t.Context()
		tests := []struct {
			name string
			d    of.ProviderResolutionDetail
			code of.ErrorCode
		}{
			{"missing flag", p.BooleanEvaluation(ctx, "no-such-flag", false, noContext).ProviderResolutionDetail, of.FlagNotFoundCode},
			{"wrong type", p.IntEvaluation(ctx, "wrong-flag", 13, noContext).ProviderResolutionDetail, of.TypeMismatchCode},
			{"attribute of the wrong type", p.BooleanEvaluation(ctx, "boolean-flag", false, of.FlattenedContext{"environment": 7}).ProviderResolutionDetail, of.InvalidContextCode},
		}
		for _, tt := range tests {
			rd := tt.d.ResolutionDetail()
			assert.Equal(t, tt.code, rd.ErrorCode, tt.name)
			assert.Equal(t, of.ErrorReason, rd.Reason, tt.name)
			assert.Error(t, tt.d.Error(), tt.name)
		}
	})
}

// 2.2.8.1: resolution details are typed by their value (Go: one detail
// type per value type, as go-sdk defines them).
func TestRequirement_2_2_8_1(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		var d of.IntResolutionDetail = p.IntEvaluation(t.Context(), "integer-flag", 0, noContext)
		var v int64 = d.Value // statically typed: no assertion needed
		assert.Equal(t, int64(10), v)
	})
}

// 2.2.9: the provider populates flag metadata.
func TestRequirement_2_2_9(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		d := p.BooleanEvaluation(t.Context(), "metadata-flag", false, noContext)
		assert.Equal(t, of.FlagMetadata{"string": "1.0.2", "integer": int64(2), "boolean": true, "float": 0.1}, d.FlagMetadata)
	})
}

// 2.2.10: metadata keys are strings, values bool, string or number (whole
// numbers int64, others float64).
func TestRequirement_2_2_10(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		d := p.BooleanEvaluation(t.Context(), "metadata-flag", false, noContext)
		require.NotEmpty(t, d.FlagMetadata)
		for k, v := range d.FlagMetadata {
			switch v.(type) {
			case bool, string, int64, float64:
			default:
				t.Errorf("metadata %q is a %T", k, v)
			}
		}
		n, err := d.FlagMetadata.GetInt("integer")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
	})
}

// 2.3.1: the provider hook mechanism exists (redisflags adds no hooks).
func TestRequirement_2_3_1(t *testing.T) {
	p := provider.New(idle(t))
	assert.Empty(t, p.Hooks())
}

// 2.3.2: normal execution leaves the error message empty.
func TestRequirement_2_3_2(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		rd := p.StringEvaluation(t.Context(), "string-flag", "x", noContext).ResolutionDetail()
		assert.Empty(t, rd.ErrorMessage)
	})
}

// 2.3.3: abnormal execution may carry a message; redisflags' names the
// flag.
func TestRequirement_2_3_3(t *testing.T) {
	eachMode(t, func(t *testing.T, _ *binding, p *provider.Provider) {
		rd := p.StringEvaluation(t.Context(), "no-such-flag", "x", noContext).ResolutionDetail()
		assert.Contains(t, rd.ErrorMessage, "no-such-flag")
	})
}

// 2.4.1: the provider has an initialization function, and it is what
// makes the provider ready: before it, evaluations are PROVIDER_NOT_READY.
func TestRequirement_2_4_1(t *testing.T) {
	fx := newFixture(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := provider.New(fx.rdb, m.opts...)
			if !isDirect(m) {
				d := p.BooleanEvaluation(t.Context(), "boolean-flag", false, noContext)
				assert.Equal(t, of.ProviderNotReadyCode, d.ResolutionDetail().ErrorCode)
			}
			require.NoError(t, p.Init(of.EvaluationContext{}))
			t.Cleanup(p.Shutdown)
			assert.True(t, p.BooleanEvaluation(t.Context(), "boolean-flag", false, noContext).Value)
		})
	}
}

func isDirect(m mode) bool { return m.name == "direct" }

// 2.4.2.1: an initialization that cannot make the provider ready
// terminates abnormally (an error, within the init timeout).
func TestRequirement_2_4_2_1(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := provider.New(unreachable(t), append(m.opts, provider.WithInitTimeout(300*time.Millisecond))...)
			t.Cleanup(p.Shutdown)
			start := time.Now()
			err := p.Init(of.EvaluationContext{})
			require.Error(t, err)
			assert.Less(t, time.Since(start), 3*time.Second)
		})
	}
}

// 2.5.1: shutdown disposes of resources: the provider's goroutines stop
// (checked by goleak in TestMain) and it may be called twice.
func TestRequirement_2_5_1(t *testing.T) {
	fx := newFixture(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := provider.New(fx.rdb, m.opts...)
			require.NoError(t, p.Init(of.EvaluationContext{}))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			require.NoError(t, p.ShutdownWithContext(ctx))
			require.NoError(t, p.ShutdownWithContext(ctx))
		})
	}
}

// 2.5.2: after shutdown the provider is uninitialized again (NOT_READY)
// and can be initialized again.
func TestRequirement_2_5_2(t *testing.T) {
	fx := newFixture(t)
	p := provider.New(fx.rdb)
	require.NoError(t, p.Init(of.EvaluationContext{}))
	p.Shutdown()
	d := p.BooleanEvaluation(t.Context(), "boolean-flag", false, noContext)
	assert.Equal(t, of.ProviderNotReadyCode, d.ResolutionDetail().ErrorCode)
	require.NoError(t, p.Init(of.EvaluationContext{}))
	t.Cleanup(p.Shutdown)
	assert.True(t, p.BooleanEvaluation(t.Context(), "boolean-flag", false, noContext).Value)
}

// ---- 5. Events ------------------------------------------------------------

// handlerLog records the events a handler saw.
type handlerLog struct {
	mu     sync.Mutex
	events []of.EventDetails
	ch     chan of.EventDetails
}

func newHandlerLog() *handlerLog { return &handlerLog{ch: make(chan of.EventDetails, 64)} }

func (l *handlerLog) callback() of.EventCallback {
	cb := func(d of.EventDetails) {
		l.mu.Lock()
		l.events = append(l.events, d)
		l.mu.Unlock()
		select {
		case l.ch <- d:
		default:
		}
	}
	return &cb
}

// wait returns the next event matching match, or fails after within.
func (l *handlerLog) wait(t *testing.T, within time.Duration, match func(of.EventDetails) bool) of.EventDetails {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case d := <-l.ch:
			if match == nil || match(d) {
				return d
			}
		case <-deadline:
			t.Fatalf("no matching event within %v", within)
			return of.EventDetails{}
		}
	}
}

func (l *handlerLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// changeFixture is a redis-server of the test's own with the spec's flags,
// for tests that write flags or kill the server.
func changeFixture(t *testing.T) (*redistest.Server, redis.UniversalClient) {
	t.Helper()
	fx := newFixture(t)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	seed(t, rdb, fx.flags)
	return srv, rdb
}

func changedFlag(key string) evaluator.Flag {
	return evaluator.Flag{Key: key, DefaultEnabled: true,
		Variants: map[string]json.RawMessage{"a": json.RawMessage(`"A"`), "b": json.RawMessage(`"B"`)}, DefaultVariant: "b"}
}

// 5.1.1: the provider signals PROVIDER_READY (through Init), and
// PROVIDER_CONFIGURATION_CHANGED with the changed flag keys, PROVIDER_STALE
// when Redis goes away and PROVIDER_READY when it is back, each with event
// details.
func TestRequirement_5_1_1(t *testing.T) {
	srv, rdb := changeFixture(t)
	p := provider.New(rdb, provider.WithHealthInterval(100*time.Millisecond))
	b, err := bind(t.Context(), "5.1.1", p)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.close()) })
	changed, stale, ready := newHandlerLog(), newHandlerLog(), newHandlerLog()
	b.client.AddHandler(of.ProviderConfigChange, changed.callback())
	b.client.AddHandler(of.ProviderStale, stale.callback())
	b.client.AddHandler(of.ProviderReady, ready.callback())
	ready.wait(t, 5*time.Second, nil) // 5.3.3: ready already: runs at once

	_, err = store.New(rdb).Upsert(t.Context(), changedFlag("new-flag"))
	require.NoError(t, err)
	d := changed.wait(t, 10*time.Second, func(d of.EventDetails) bool { return len(d.FlagChanges) > 0 })
	assert.Contains(t, d.FlagChanges, "new-flag")
	assert.Equal(t, provider.Name, d.ProviderName)
	assert.Equal(t, "B", b.client.String(t.Context(), "new-flag", "x", of.EvaluationContext{}))

	srv.Kill()
	d = stale.wait(t, 15*time.Second, nil)
	assert.NotEmpty(t, d.Message)
	assert.Equal(t, "B", b.client.String(t.Context(), "new-flag", "x", of.EvaluationContext{}), "stale: the last flags are still served")

	srv.Restart() // empty: nothing is persisted
	ready.wait(t, 15*time.Second, nil)
	assert.Equal(t, of.ReadyState, b.client.State())
}

// 5.1.2: when the provider signals an event, the client's and the API's
// handlers run.
func TestRequirement_5_1_2(t *testing.T) {
	_, rdb := changeFixture(t)
	p := provider.New(rdb)
	b, err := bind(t.Context(), "5.1.2", p)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.close()) })
	client, api := newHandlerLog(), newHandlerLog()
	b.client.AddHandler(of.ProviderConfigChange, client.callback())
	b.api.AddHandler(of.ProviderConfigChange, api.callback())

	_, err = store.New(rdb).Upsert(t.Context(), changedFlag("string-flag"))
	require.NoError(t, err)
	isChange := func(d of.EventDetails) bool { return len(d.FlagChanges) > 0 }
	assert.Contains(t, client.wait(t, 10*time.Second, isChange).FlagChanges, "string-flag")
	assert.Contains(t, api.wait(t, 10*time.Second, isChange).FlagChanges, "string-flag")
}

// 5.1.3: handlers of clients bound to another provider do not run.
func TestRequirement_5_1_3(t *testing.T) {
	_, rdb := changeFixture(t)
	p := provider.New(rdb)
	b, err := bind(t.Context(), "5.1.3", p)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.close()) })
	// Another domain of the same API, bound to another redisflags
	// provider over another server.
	_, other := changeFixture(t)
	otherDomain := newDomain("5.1.3-other")
	require.NoError(t, b.api.SetProviderAndWait(t.Context(), provider.New(other), of.WithDomain(otherDomain)))
	otherClient := b.api.NewClient(of.WithDomain(otherDomain))
	mine, theirs := newHandlerLog(), newHandlerLog()
	b.client.AddHandler(of.ProviderConfigChange, mine.callback())
	otherClient.AddHandler(of.ProviderConfigChange, theirs.callback())

	_, err = store.New(rdb).Upsert(t.Context(), changedFlag("string-flag"))
	require.NoError(t, err)
	mine.wait(t, 10*time.Second, func(d of.EventDetails) bool { return len(d.FlagChanges) > 0 })
	time.Sleep(300 * time.Millisecond) // give a wrong delivery time to happen
	assert.Zero(t, theirs.count(), "the other provider's client saw this provider's event")
}

// 5.1.4: PROVIDER_ERROR carries an error message (an initialization that
// fails, the SDK turning its error into the event).
func TestRequirement_5_1_4(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			errs := newHandlerLog()
			p := provider.New(unreachable(t), append(m.opts, provider.WithInitTimeout(200*time.Millisecond))...)
			b, err := bindAsync(t.Context(), "5.1.4", p)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.close()) })
			b.client.AddHandler(of.ProviderError, errs.callback())
			d := errs.wait(t, 5*time.Second, nil)
			assert.NotEmpty(t, d.Message)
			assert.Contains(t, d.Message, "Redis")
		})
	}
}

// 5.2.3: event details name the provider.
func TestRequirement_5_2_3(t *testing.T) {
	_, rdb := changeFixture(t)
	b, err := bind(t.Context(), "5.2.3", provider.New(rdb))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.close()) })
	ready, changed := newHandlerLog(), newHandlerLog()
	b.client.AddHandler(of.ProviderReady, ready.callback())
	b.client.AddHandler(of.ProviderConfigChange, changed.callback())
	assert.Equal(t, provider.Name, ready.wait(t, 5*time.Second, nil).ProviderName)
	_, err = store.New(rdb).Upsert(t.Context(), changedFlag("string-flag"))
	require.NoError(t, err)
	assert.Equal(t, provider.Name, changed.wait(t, 10*time.Second, nil).ProviderName)
}

// 5.3.1: an initialization that terminates normally runs PROVIDER_READY
// handlers.
func TestRequirement_5_3_1(t *testing.T) {
	fx := newFixture(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ready := newHandlerLog()
			b, err := bindAsync(t.Context(), "5.3.1", provider.New(fx.rdb, m.opts...))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.close()) })
			b.api.AddHandler(of.ProviderReady, ready.callback())
			assert.Equal(t, provider.Name, ready.wait(t, 5*time.Second, nil).ProviderName)
			assert.Equal(t, of.ReadyState, b.client.State())
		})
	}
}

// 5.3.2: an initialization that terminates abnormally runs PROVIDER_ERROR
// handlers; redisflags then keeps trying and runs PROVIDER_READY handlers
// when Redis answers (the spec's note on transient errors).
func TestRequirement_5_3_2(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			fx := newFixture(t)
			srv := redistest.Start(t)
			srv.Kill()
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
			t.Cleanup(func() { _ = rdb.Close() })
			errs, ready := newHandlerLog(), newHandlerLog()
			p := provider.New(rdb, append(m.opts, provider.WithInitTimeout(300*time.Millisecond))...)
			b, err := bindAsync(t.Context(), "5.3.2", p)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, b.close()) })
			b.client.AddHandler(of.ProviderError, errs.callback())
			b.client.AddHandler(of.ProviderReady, ready.callback())
			errs.wait(t, 5*time.Second, nil)
			assert.Equal(t, of.ErrorState, b.client.State())

			srv.Restart()
			ready.wait(t, 15*time.Second, nil)
			seed(t, rdb, fx.flags)
			assert.Eventually(t, func() bool {
				return b.client.Boolean(t.Context(), "boolean-flag", false, of.EvaluationContext{})
			}, 10*time.Second, 20*time.Millisecond, "the flags written after READY are served")
		})
	}
}

// 5.3.3: a handler attached once the provider is ready runs at once.
func TestRequirement_5_3_3(t *testing.T) {
	eachMode(t, func(t *testing.T, b *binding, _ *provider.Provider) {
		ready := newHandlerLog()
		b.client.AddHandler(of.ProviderReady, ready.callback())
		ready.wait(t, 2*time.Second, nil)
	})
}
