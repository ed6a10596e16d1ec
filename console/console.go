package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console is the web console, an http.Handler meant to be mounted at "/".
// Its routes: /login, /logout, / (the list), /new, /flags/{key} (with
// /history and the POST actions under it), /evaluate, /events (the live
// change stream) and /assets/. Safe for concurrent use; Close stops its
// goroutine.
type Console struct {
	store     *store.Store
	prov      *provider.Provider
	cfg       config
	users     map[string]User
	tokenHash *[sha256.Size]byte
	sessions  *sessions
	limit     *limiter
	log       *slog.Logger
	tmpl      map[string]*template.Template
	mux       *http.ServeMux
	live      *hub
	index     keyIndex

	closeOnce sync.Once
	stopWatch func()
	stop      chan struct{}
	done      chan struct{}
}

// Option configures a Console.
type Option func(*config)

type config struct {
	users       []User
	adminToken  string
	environment string
	secure      bool
	sessionTTL  time.Duration
	logger      *slog.Logger
	now         func() time.Time
	pageSize    int
	loginBurst  int
	loginWindow time.Duration
	writeGuard  func(ctx context.Context, key string, next *evaluator.Flag) error
}

// WithUsers sets the accounts that may sign in. Default: none (only the
// admin token, if any, gets in). The slice is copied.
func WithUsers(users []User) Option {
	return func(c *config) { c.users = append([]User(nil), users...) }
}

// WithAdminToken lets requests with "Authorization: Bearer TOKEN" in with
// the admin role and the actor "admin-token", for automation; they need no
// CSRF token. Default: empty, no token.
func WithAdminToken(token string) Option {
	return func(c *config) { c.adminToken = token }
}

// WithEnvironment sets the environment the list shows first and the
// evaluate panel proposes. Default: "production".
func WithEnvironment(name string) Option {
	return func(c *config) {
		if name != "" {
			c.environment = name
		}
	}
}

// WithSecureCookies marks the session cookie Secure even when the request
// did not arrive over TLS here (behind a proxy that ends TLS). Default: the
// cookie is Secure when the request came over TLS.
func WithSecureCookies() Option {
	return func(c *config) { c.secure = true }
}

// WithSessionTTL sets how long a sign-in lasts. Default: 12 hours.
func WithSessionTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.sessionTTL = d
		}
	}
}

// WithLoginLimit allows burst failed sign-ins per client address, and per
// user name, per window; more are refused with 429 until the window ends.
// Default: 5 per 5 minutes.
func WithLoginLimit(burst int, window time.Duration) Option {
	return func(c *config) {
		if burst > 0 && window > 0 {
			c.loginBurst, c.loginWindow = burst, window
		}
	}
}

// WithWriteGuard makes every change the console makes ask guard first, as
// server.WithWriteGuard does for the admin API: next is the definition
// about to be written (nil for a delete or an allowlist edit); an error
// refuses the change, shown to the person, and nothing is written (for
// example, environments under an approval policy go through change
// requests). Default: none.
func WithWriteGuard(guard func(ctx context.Context, key string, next *evaluator.Flag) error) Option {
	return func(c *config) { c.writeGuard = guard }
}

// guard runs the write guard, if any.
func (c *Console) guard(ctx context.Context, key string, next *evaluator.Flag) error {
	if c.cfg.writeGuard == nil {
		return nil
	}
	return c.cfg.writeGuard(ctx, key, next)
}

// WithLogger sets where sign-ins and failures are logged. Default: discarded.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithPageSize sets how many flags one list page shows. Default: 50.
func WithPageSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.pageSize = min(n, 500)
		}
	}
}

// WithClock sets the clock of sessions, the login limit and kill-date
// warnings. Default: time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// New returns a console over st (where changes are written) and prov (which
// answers every evaluation, and whose events drive the live updates). prov
// must be started by its owner (the SDK, or InitWithContext) and may be the
// one the server or the application already uses: the console follows it
// with provider.Watch. Give st a large-set threshold (store.WithLargeSetThreshold,
// serve uses 10,000) so that pages never load a huge allowlist: such lists
// are then browsed a page at a time and kept as stored by every edit. Call
// Close when done.
func New(st *store.Store, prov *provider.Provider, opts ...Option) *Console {
	cfg := config{
		environment: "production", sessionTTL: 12 * time.Hour, logger: slog.New(slog.DiscardHandler),
		now: time.Now, pageSize: 50, loginBurst: 5, loginWindow: 5 * time.Minute,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	c := &Console{
		store: st, prov: prov, cfg: cfg, log: cfg.logger,
		users:    make(map[string]User, len(cfg.users)),
		sessions: &sessions{ttl: cfg.sessionTTL, now: cfg.now, m: map[string]*session{}},
		limit:    &limiter{now: cfg.now, window: cfg.loginWindow, burst: cfg.loginBurst, m: map[string]*attempts{}},
		live:     newHub(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, u := range cfg.users {
		c.users[u.Name] = u
	}
	if cfg.adminToken != "" {
		h := sha256.Sum256([]byte(cfg.adminToken))
		c.tokenHash = &h
	}
	c.tmpl = parseTemplates()
	c.mux = c.routes()
	changes, stopWatch := prov.Watch()
	c.stopWatch = stopWatch
	go c.relay(changes)
	return c
}

// Close stops the console's goroutine and ends its live streams. It may be
// called more than once.
func (c *Console) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.stopWatch()
		c.live.close()
	})
	return nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	assets := http.StripPrefix("/assets/", http.FileServerFS(static))
	mux.Handle("GET /assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		assets.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.act(Viewer, func(w http.ResponseWriter, r *http.Request, _ *identity) { c.logout(w, r) }))
	mux.HandleFunc("GET /{$}", c.read(c.listPage))
	mux.HandleFunc("GET /new", c.read(c.newPage))
	mux.HandleFunc("POST /new", c.act(Editor, c.create))
	mux.HandleFunc("GET /flags/{key}", c.read(c.flagPage))
	mux.HandleFunc("GET /flags/{key}/history", c.read(c.historyPage))
	mux.HandleFunc("GET /flags/{key}/allowlist", c.read(c.allowlistPage))
	mux.HandleFunc("POST /flags/{key}/edit", c.act(Editor, c.edit))
	mux.HandleFunc("POST /flags/{key}/allowlist", c.act(Editor, c.editAllowlist))
	mux.HandleFunc("POST /flags/{key}/copy", c.act(Editor, c.copyFlag))
	mux.HandleFunc("POST /flags/{key}/delete", c.act(Editor, c.deleteFlag))
	mux.HandleFunc("POST /flags/{key}/revert", c.act(Editor, c.revert))
	mux.HandleFunc("GET /evaluate", c.read(c.evaluatePage))
	mux.HandleFunc("GET /evaluate.json", c.read(c.evaluateJSON))
	mux.HandleFunc("GET /events", c.read(c.events))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Error: "There is no page at " + r.URL.Path + "."})
	})
	return mux
}

// read wraps a page any signed-in person may see; others go to /login.
func (c *Console) read(h func(http.ResponseWriter, *http.Request, *identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := c.identify(r)
		if id == nil {
			if r.Header.Get("Accept") == "text/event-stream" || r.URL.Path == "/evaluate.json" {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, id)
	}
}

// maxForm bounds a form post.
const maxForm = 1 << 20

// act wraps a state change: it needs a signed-in person with at least the
// role, and the session's CSRF token. Refusals change nothing.
func (c *Console) act(need Role, h func(http.ResponseWriter, *http.Request, *identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		id := c.identify(r)
		if id == nil {
			c.render(w, r, http.StatusUnauthorized, "error", page{Title: "Sign in", Error: "Sign in first."})
			return
		}
		if err := r.ParseForm(); err != nil {
			c.render(w, r, http.StatusBadRequest, "error", page{Title: "Bad request", Error: "The form does not parse: " + err.Error(), ID: id})
			return
		}
		if !checkCSRF(id, r) {
			c.render(w, r, http.StatusForbidden, "error", page{Title: "Refused", Error: "This form is missing its CSRF token or has an old one: reload the page and try again.", ID: id})
			return
		}
		if id.role < need {
			c.render(w, r, http.StatusForbidden, "error", page{Title: "Refused", Error: "Your role (" + id.role.String() + ") may not make changes.", ID: id})
			return
		}
		h(w, r, id)
	}
}
