package server

import (
	"go.opentelemetry.io/otel/metric"

	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// maxBody is the largest request body accepted (413 above it).
const maxBody = 1 << 20

// Server serves the tutorial's HTTP API, OFREP and health checks over the
// flags of one store. Its handlers are separately mountable (API, OFREP,
// Health) or mounted together by Handler, with the routes and middleware
// given by WithRoute and WithMiddleware.
//
// Evaluation goes through the OpenFeature provider (package provider), the
// one evaluation path of every edge: OFREP, which is polled and asks for
// every flag at once, resolves from the provider's live snapshot, which
// Start loads and keeps fresh; GET /api/flags/{flagKey}/evaluate resolves
// through a provider in direct-reads mode, reading Redis on every request
// as the tutorial's application does.
//
// A Server holds no package-level state; its methods are safe for
// concurrent use. Start it before serving OFREP (answers are 500 "not
// loaded yet" until the first load) and Shutdown it when done.
type Server struct {
	// metrics is nil without WithMeterProvider.
	metrics *serverMetrics
	store   *store.Store
	pub     *store.Store // the public routes' reads: large allowlists stay in Redis
	rdb     redis.UniversalClient
	// live is the snapshot-mode provider OFREP and the change stream
	// answer through; direct, the direct-reads provider of the evaluate
	// route (one Redis round trip per request, as the tutorial's app).
	live, direct *provider.Provider
	environment  string
	adminTokens  []tokenDigest // none: the admin API is open
	readTokens   []tokenDigest
	log          *slog.Logger
	cfg          config
	limiter      *limiter // the public routes' bounds, shared by every handler

	mu    sync.Mutex
	stop  context.CancelFunc // nil unless started
	tasks sync.WaitGroup     // what Start started

	streams      atomic.Int64  // connected change-stream clients
	streamsDone  chan struct{} // closed by StopStreams
	closeStreams sync.Once
}

// config is what the options set.
type config struct {
	environment string
	adminTokens []Token
	readTokens  []Token
	// allowedHosts are the Host names answered (WithAllowedHosts).
	allowedHosts []string
	logger       *slog.Logger
	resync       time.Duration
	routes       []route
	middleware   []func(http.Handler) http.Handler
	corsOrigins  []string
	maxStreams   int
	heartbeat    time.Duration
	// streamWriteTimeout bounds each write to a change-stream client.
	streamWriteTimeout time.Duration
	now                func() time.Time // nil: the provider's default
	writeGuard         func(ctx context.Context, key string, next *evaluator.Flag) error
	limits             Limits
	providerOpts       []provider.Option
	meters             metric.MeterProvider
}

// WithProviderOptions passes options to the server's providers (both the
// live snapshot and the direct reads of /evaluate), such as
// provider.WithSimpleFlags or provider.WithLargeAllowlists. Options that
// set what the server sets itself (environment, logger, key prefix, clock,
// resync, direct reads) should not be given.
func WithProviderOptions(opts ...provider.Option) Option {
	return func(c *config) { c.providerOpts = append(c.providerOpts, opts...) }
}

// WithClock sets the clock progressive rollouts are evaluated at, on every
// route (provider.WithClock). Default: time.Now. For tests.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithWriteGuard makes the admin routes ask guard before a write (next is
// nil for a delete): a non-nil error is answered 409 with its message and
// nothing is written. `redisflags serve` uses it to send edits of
// environments under an approval policy to change requests
// (release.Service.NeedsRequest). Default: none.
func WithWriteGuard(guard func(ctx context.Context, key string, next *evaluator.Flag) error) Option {
	return func(c *config) { c.writeGuard = guard }
}

type route struct {
	pattern string
	handler http.Handler
	admin   bool // behind the admin tokens (WithAdminRoute)
}

// Option configures a Server.
type Option func(*config)

// WithEnvironment sets the environment evaluated when a request names none.
// Default "production".
func WithEnvironment(name string) Option { return func(c *config) { c.environment = name } }

// WithLogger sets where request logs and warnings go. Default: discarded.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithResync sets how often the OFREP snapshot is reloaded in full, for
// writers that publish no change notice. Default 30 s.
func WithResync(d time.Duration) Option { return func(c *config) { c.resync = d } }

// WithCORSOrigins allows cross-origin requests from these origins
// ("https://app.example.com"; "*" for any) on the OFREP routes and the
// change stream, and nowhere else (see cors.go). Default: none, CORS off.
// The slice is copied.
func WithCORSOrigins(origins ...string) Option {
	return func(c *config) { c.corsOrigins = append(c.corsOrigins, origins...) }
}

// WithChangeStream bounds the change stream (GET /ofrep/v1/events): at most
// maxClients connected at once (503 past it; 0 or less turns the stream
// off and the bulk answer stops advertising it), a heartbeat comment every
// heartbeat. Default 1000 clients, 15 s.
func WithChangeStream(maxClients int, heartbeat time.Duration) Option {
	return func(c *config) {
		c.maxStreams = maxClients
		if heartbeat > 0 {
			c.heartbeat = heartbeat
		}
	}
}

// WithRoute adds a route to the mux of Handler: pattern is a
// http.ServeMux pattern ("GET /metrics", "/console/"). Routes added this
// way sit beside the built-in ones and pass through the same middleware and
// request log. A pattern that conflicts with a built-in route makes Handler
// panic, as http.ServeMux does, when Handler is first called.
func WithRoute(pattern string, h http.Handler) Option {
	return func(c *config) { c.routes = append(c.routes, route{pattern: pattern, handler: h}) }
}

// WithMiddleware wraps the mux of Handler (every route, built-in and added)
// in mw. Middleware given first is outermost: WithMiddleware(a, b) serves
// a(b(mux)). The request log wraps all of it. Middleware that wraps the
// ResponseWriter must give it an Unwrap method (see http.ResponseController)
// so that the change stream can flush. Default: none.
func WithMiddleware(mw ...func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middleware = append(c.middleware, mw...) }
}

// New returns a server over the flags of st, whose client rdb /readyz
// pings. It does not talk to Redis: Start does.
func New(rdb redis.UniversalClient, st *store.Store, opts ...Option) *Server {
	c := config{environment: "production", resync: 30 * time.Second,
		maxStreams: 1000, heartbeat: 15 * time.Second, streamWriteTimeout: 10 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	if c.environment == "" {
		c.environment = "production"
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.corsOrigins = slices.Clone(c.corsOrigins)
	s := &Server{store: st, pub: publicStore(rdb, st), rdb: rdb, environment: c.environment, log: c.logger, cfg: c, streamsDone: make(chan struct{}), limiter: newLimiter(c.limits)}
	popts := []provider.Option{provider.WithEnvironment(c.environment), provider.WithLogger(c.logger)}
	if st != nil {
		popts = append(popts, provider.WithKeyPrefix(st.Prefix()))
	}
	if c.now != nil {
		popts = append(popts, provider.WithClock(c.now))
	}
	popts = slices.Clip(append(popts, c.providerOpts...))
	livOpts := append(popts, provider.WithResyncInterval(c.resync))
	if c.meters != nil {
		livOpts = append(livOpts, provider.WithMeterProvider(c.meters))
	}
	s.live = provider.New(rdb, livOpts...)
	s.direct = provider.New(rdb, append(popts, provider.WithDirectReads())...)
	if c.meters != nil {
		m, err := newServerMetrics(c.meters, s.live)
		if err != nil {
			s.log.Error("server: metrics not registered", "err", err)
		} else {
			s.metrics = m
		}
	}
	s.adminTokens, s.readTokens = digests(c.adminTokens), digests(c.readTokens)
	return s
}

// Start begins loading the flags and keeping them fresh (the provider's
// Init, in the background: it keeps retrying while Redis does not answer);
// it returns at once. ctx's values are kept but not its cancellation: only
// Shutdown stops what Start started. Calling Start twice is an error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return errors.New("server: already started")
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	s.tasks.Go(func() { _ = s.live.InitWithContext(lctx, of.EvaluationContext{}) })
	// The provider is not registered with the OpenFeature SDK, so nobody
	// else reads its events; Watch is how the server hears of changes.
	events := s.live.EventChannel()
	s.tasks.Go(func() {
		for {
			select {
			case <-events:
			case <-lctx.Done():
				return
			}
		}
	})
	return nil
}

// Shutdown stops what Start started and waits for it, or for ctx to end.
// It does not close the client or the store (the caller owns them) and may
// be called more than once, or without Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	s.StopStreams()
	if stop == nil {
		return nil
	}
	stop()
	done := make(chan struct{})
	go func() {
		s.tasks.Wait()
		_ = s.live.ShutdownWithContext(ctx)
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Loaded reports whether the flags have been loaded at least once.
func (s *Server) Loaded() bool { return s.live.Revision() != "" }

// Provider returns the provider the server answers through (snapshot mode,
// started by Start): mount other edges on it (Resolve, Flags, Watch) to
// share its snapshot rather than load a second one.
func (s *Server) Provider() *provider.Provider { return s.live }

// API returns the tutorial's routes: GET/PUT/DELETE /api/admin/flags…
// (admin, guarded by WithAdminToken), GET /api/flags/{flagKey} and
// GET /api/flags/{flagKey}/evaluate. Mount it at "/api/".
func (s *Server) API() http.Handler {
	mux := http.NewServeMux()
	s.routeAPI(mux)
	return s.limiter.wrap(mux)
}

// OFREP returns the OpenFeature Remote Evaluation Protocol routes:
// POST /ofrep/v1/evaluate/flags, POST /ofrep/v1/evaluate/flags/{key} and
// the change stream GET /ofrep/v1/events, with CORS when WithCORSOrigins
// is given. Mount it at "/ofrep/".
func (s *Server) OFREP() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", s.ofrepSingle)
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags", s.ofrepBulk)
	mux.HandleFunc("GET "+eventsPath, s.ofrepEvents)
	return s.cors(s.limiter.wrap(withPattern(mux)))
}

// Health returns GET /healthz (the process answers) and GET /readyz (Redis
// answers and the flags are loaded; 503 naming what is missing otherwise).
func (s *Server) Health() http.Handler {
	mux := http.NewServeMux()
	s.routeHealth(mux)
	return mux
}

// Handler returns every route — API, OFREP, Health and those of WithRoute —
// wrapped in the WithMiddleware middleware and a request log (one slog line
// per request).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routeAPI(mux)
	s.routeOFREP(mux)
	s.routeHealth(mux)
	for _, r := range s.cfg.routes {
		h := r.handler
		if r.admin {
			h = s.admin(h.ServeHTTP)
		}
		mux.Handle(r.pattern, h)
	}
	var h http.Handler = s.limiter.wrap(withPattern(mux))
	for i := len(s.cfg.middleware) - 1; i >= 0; i-- {
		h = s.cfg.middleware[i](h)
	}
	return s.logRequests(s.measure(s.checkHost(h)))
}

func (s *Server) routeAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/admin/flags", s.admin(s.listFlags))
	mux.HandleFunc("PUT /api/admin/flags/{flagKey}", s.admin(s.putFlag))
	mux.HandleFunc("DELETE /api/admin/flags/{flagKey}", s.admin(s.deleteFlag))
	mux.HandleFunc("GET /api/flags/{flagKey}", s.reader(s.getFlag))
	mux.HandleFunc("GET /api/flags/{flagKey}/evaluate", s.reader(s.evaluate))
	mux.HandleFunc("GET /api/flags/{flagKey}/environments/{env}/users", s.reader(s.allowlistPage(evaluator.ListUsers)))
	mux.HandleFunc("GET /api/flags/{flagKey}/environments/{env}/regions", s.reader(s.allowlistPage(evaluator.ListRegions)))
}

func (s *Server) routeOFREP(mux *http.ServeMux) { mux.Handle("/ofrep/", s.OFREP()) }

func (s *Server) routeHealth(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
}

// readYourWrites bounds how long a write through the API waits for the
// live snapshot to take it in.
const readYourWrites = 2 * time.Second

// awaitChange prepares a write of key: call the function it returns after
// the write with the request's context (or nil when the write failed). It
// then waits until the live snapshot holds the write (the provider's
// change notice naming key), at most readYourWrites, so that an OFREP
// request after the write's answer sees it. Before the first load it does
// not wait.
func (s *Server) awaitChange(key string) func(ctx context.Context) {
	if !s.Loaded() {
		return func(context.Context) {}
	}
	changes, stop := s.live.Watch()
	return func(ctx context.Context) {
		defer stop()
		if ctx == nil {
			return
		}
		timer := time.NewTimer(readYourWrites)
		defer timer.Stop()
		for {
			select {
			case c := <-changes:
				if slices.Contains(c.Flags, key) {
					return
				}
			case <-timer.C:
				s.log.WarnContext(ctx, "a write was not seen by the live snapshot in time; change notices may be lost (the resync catches up)", "flag", key)
				return
			case <-ctx.Done():
				return
			}
		}
	}
}
