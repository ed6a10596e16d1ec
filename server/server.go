package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/store"
)

// maxBody is the largest request body accepted (413 above it).
const maxBody = 1 << 20

// Server serves the tutorial's HTTP API, OFREP and health checks over the
// flags of one store. Its handlers are separately mountable (API, OFREP,
// Health) or mounted together by Handler, with the routes and middleware
// given by WithRoute and WithMiddleware.
//
// Evaluation: GET /api/flags/{flagKey}/evaluate reads Redis on every
// request, as the tutorial's application does; OFREP, which is polled and
// asks for every flag at once, evaluates from an in-memory snapshot that
// Start keeps fresh.
//
// A Server holds no package-level state; its methods are safe for
// concurrent use. Start it before serving OFREP (answers are 500 "not
// loaded yet" until the first load) and Shutdown it when done.
type Server struct {
	store       *store.Store
	rdb         redis.UniversalClient
	flags       *liveFlags
	environment string
	tokenHash   *[sha256.Size]byte // nil: the admin API is open
	log         *slog.Logger
	cfg         config

	mu      sync.Mutex
	stop    context.CancelFunc // nil unless started
	stopped chan struct{}
}

// config is what the options set.
type config struct {
	environment string
	adminToken  string
	logger      *slog.Logger
	resync      time.Duration
	routes      []route
	middleware  []func(http.Handler) http.Handler
}

type route struct {
	pattern string
	handler http.Handler
}

// Option configures a Server.
type Option func(*config)

// WithEnvironment sets the environment evaluated when a request names none.
// Default "production".
func WithEnvironment(name string) Option { return func(c *config) { c.environment = name } }

// WithAdminToken makes the admin routes (/api/admin/…) require
// "Authorization: Bearer token". Default "": the admin routes are open.
func WithAdminToken(token string) Option { return func(c *config) { c.adminToken = token } }

// WithLogger sets where request logs and warnings go. Default: discarded.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithResync sets how often the OFREP snapshot is reloaded in full, for
// writers that publish no change notice. Default 30 s.
func WithResync(d time.Duration) Option { return func(c *config) { c.resync = d } }

// WithRoute adds a route to the mux of Handler: pattern is a
// http.ServeMux pattern ("GET /metrics", "/console/"). Routes added this
// way sit beside the built-in ones and pass through the same middleware and
// request log. A pattern that conflicts with a built-in route makes Handler
// panic, as http.ServeMux does, when Handler is first called.
func WithRoute(pattern string, h http.Handler) Option {
	return func(c *config) { c.routes = append(c.routes, route{pattern, h}) }
}

// WithMiddleware wraps the mux of Handler (every route, built-in and added)
// in mw. Middleware given first is outermost: WithMiddleware(a, b) serves
// a(b(mux)). The request log wraps all of it. Default: none.
func WithMiddleware(mw ...func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middleware = append(c.middleware, mw...) }
}

// New returns a server over the flags of st, whose client rdb /readyz
// pings. It does not talk to Redis: Start does.
func New(rdb redis.UniversalClient, st *store.Store, opts ...Option) *Server {
	c := config{environment: "production", resync: 30 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	if c.environment == "" {
		c.environment = "production"
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: st, rdb: rdb, environment: c.environment, log: c.logger, cfg: c}
	s.flags = newLiveFlags(rdb, st, c.resync, c.logger)
	if c.adminToken != "" {
		h := sha256.Sum256([]byte(c.adminToken))
		s.tokenHash = &h
	}
	return s
}

// Start begins keeping the OFREP snapshot fresh, in one goroutine that
// Shutdown stops; it returns at once. ctx's values are kept but not its
// cancellation: only Shutdown stops the goroutine. Calling Start twice is
// an error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return errors.New("server: already started")
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.stopped = cancel, make(chan struct{})
	go func() {
		defer close(s.stopped)
		s.flags.run(lctx)
	}()
	return nil
}

// Shutdown stops what Start started and waits for it, or for ctx to end.
// It does not close the client or the store (the caller owns them) and may
// be called more than once, or without Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	stop, stopped := s.stop, s.stopped
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Loaded reports whether the OFREP snapshot has been loaded at least once.
func (s *Server) Loaded() bool { return s.flags.loaded() }

// API returns the tutorial's routes: GET/PUT/DELETE /api/admin/flags…
// (admin, guarded by WithAdminToken), GET /api/flags/{flagKey} and
// GET /api/flags/{flagKey}/evaluate. Mount it at "/api/".
func (s *Server) API() http.Handler {
	mux := http.NewServeMux()
	s.routeAPI(mux)
	return mux
}

// OFREP returns the OpenFeature Remote Evaluation Protocol routes:
// POST /ofrep/v1/evaluate/flags and POST /ofrep/v1/evaluate/flags/{key}.
// Mount it at "/ofrep/".
func (s *Server) OFREP() http.Handler {
	mux := http.NewServeMux()
	s.routeOFREP(mux)
	return mux
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
		mux.Handle(r.pattern, r.handler)
	}
	var h http.Handler = mux
	for i := len(s.cfg.middleware) - 1; i >= 0; i-- {
		h = s.cfg.middleware[i](h)
	}
	return s.logRequests(h)
}

func (s *Server) routeAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/admin/flags", s.admin(s.listFlags))
	mux.HandleFunc("PUT /api/admin/flags/{flagKey}", s.admin(s.putFlag))
	mux.HandleFunc("DELETE /api/admin/flags/{flagKey}", s.admin(s.deleteFlag))
	mux.HandleFunc("GET /api/flags/{flagKey}", s.getFlag)
	mux.HandleFunc("GET /api/flags/{flagKey}/evaluate", s.evaluate)
}

func (s *Server) routeOFREP(mux *http.ServeMux) {
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", s.ofrepSingle)
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags", s.ofrepBulk)
}

func (s *Server) routeHealth(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
}
