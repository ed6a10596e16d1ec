package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/console"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
	"github.com/redisflags/redisflags/tracking"
)

// consoleLargeSet is the largest allowlist the console loads.
const consoleLargeSet = 10000

const serveSynopsis = "serve [--addr HOST:PORT] [--redis-url URL] [--admin-token T | --admin-tokens N=T,… | --insecure-no-auth] [--read-token T] [--allowed-host H]… [--simple-flags PREFIX] [--large-allowlist N] [--key-prefix P] [--environment E] [--log-stream KEY] [--resync D] [--cors-origin ORIGIN]… [--webhook NAME=URL]… [--no-scheduler] [--users FILE] [--secure-cookies] [--no-console] [--metrics-addr HOST:PORT]"

// runServe is "redisflags serve": the HTTP server, until ctx ends. It then
// stops accepting requests, lets those under way finish (10 s at most),
// stops the flag refresher and the log mirror, and closes Redis: nothing it
// started outlives it.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	var c conn
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "`HOST:PORT` to listen on (\":8080\" for every interface)")
	var tok secret
	secretVar(fs, &tok, "admin-token", "REDISFLAGS_ADMIN_TOKEN", "`token` the admin routes require as Authorization: Bearer (its writes are audited as \"admin\"); prefer $REDISFLAGS_ADMIN_TOKEN, which ps does not show")
	var named secret
	secretVar(fs, &named, "admin-tokens", "REDISFLAGS_ADMIN_TOKENS", "named admin tokens, `NAME=TOKEN,…`: writes are audited under the name of the token that made them")
	var readTok secret
	secretVar(fs, &readTok, "read-token", "REDISFLAGS_READ_TOKEN", "`token` that reading definitions (GET /api/flags/…, /evaluate) then requires (or an admin token); OFREP stays open")
	insecure := fs.Bool("insecure-no-auth", false, "serve the admin API WITHOUT any token, to anyone who reaches it (development only)")
	simplePrefix := fs.String("simple-flags", "", "also serve plain string keys `PREFIX`NAME (\"true\", \"false\" or a percentage) as boolean flags, as set by `redis-cli SET feature:x true` (e.g. \"feature:\")")
	largeSet := fs.Int64("large-allowlist", 10000, "allowlists of more than `N` members stay in Redis (asked with SISMEMBER) rather than in the snapshot; 0 keeps all in memory")
	var allowedHosts stringList
	fs.Var(&allowedHosts, "allowed-host", "answer requests for this Host `name` (repeatable); on a loopback address, or with --insecure-no-auth, only loopback names and these are answered (DNS rebinding)")
	environment := fs.String("environment", "production", "`environment` evaluated when a request names none")
	logStream := fs.String("log-stream", "", "also append request logs to this Redis stream `key` (the tutorial's is \"logs\")")
	resync := fs.Duration("resync", 30*time.Second, "full reload of the OFREP snapshot every `interval`, for writers that publish no change notice")
	var rel releaseFlags
	rel.register(fs)
	var cors stringList
	fs.Var(&cors, "cors-origin", "allow cross-origin OFREP requests from this `origin` (https://app.example.com; repeatable; \"*\" for any); default none")
	usersFile := fs.String("users", os.Getenv("REDISFLAGS_USERS"), "console accounts, one \"name:role:bcrypt-hash\" a line (role viewer, editor or admin); default $REDISFLAGS_USERS")
	secureCookies := fs.Bool("secure-cookies", false, "mark the console's session cookie Secure also over plain HTTP (behind a proxy that ends TLS)")
	noConsole := fs.Bool("no-console", false, "do not serve the web console at /")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics, on a listener of their own (default off; OTLP export follows $OTEL_EXPORTER_OTLP_ENDPOINT)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
	}
	hooks, err := rel.webhooks()
	if err != nil {
		return err
	}
	admins, err := adminTokens(tok.reveal(), named.reveal())
	if err != nil {
		return err
	}
	if len(admins) == 0 && !*insecure {
		return fmt.Errorf("serve: no admin token: set REDISFLAGS_ADMIN_TOKEN (or REDISFLAGS_ADMIN_TOKENS=NAME=TOKEN,…) so that writes need one; --insecure-no-auth serves the admin API open, for development only")
	}
	if len(admins) > 0 && *insecure {
		return fmt.Errorf("serve: --insecure-no-auth and an admin token: choose one")
	}
	if *largeSet < 0 {
		return fmt.Errorf("--large-allowlist %d: give 0 (keep every allowlist in memory) or more", *largeSet)
	}
	hosts, err := hostCheck(*addr, *insecure, allowedHosts)
	if err != nil {
		return err
	}

	var rdb redis.UniversalClient
	if c.redisURL.reveal() == "" {
		m, err := miniredis.Run()
		if err != nil {
			return fmt.Errorf("start the embedded Redis: %w", err)
		}
		defer m.Close()
		fmt.Fprintf(stderr, "\n"+
			"  ******************************************************************\n"+
			"  WARNING: no --redis-url and no REDIS_URL: using an EMBEDDED,\n"+
			"  in-memory Redis (miniredis) at %s.\n"+
			"  Every flag is LOST when redisflags stops. Not for production.\n"+
			"  ******************************************************************\n\n", m.Addr())
		rdb = redis.NewClient(&redis.Options{Addr: m.Addr()})
	} else {
		// A URL that does not parse fails now; a Redis that does not answer
		// yet does not: /readyz says so until it does.
		client, err := c.client()
		if err != nil {
			return err
		}
		rdb = client
		// A wrong or missing password is final: say how to fix it rather
		// than retry forever.
		if err := checkRedisAuth(ctx, client); err != nil {
			_ = client.Close()
			return err
		}
	}
	defer rdb.Close()
	// Every write serve makes also queues its webhook event (store.WithOutbox).
	st := c.store(rdb, store.WithOutbox())

	var handler slog.Handler = slog.NewJSONHandler(stderr, nil)
	if *logStream != "" {
		mirror := newStreamMirror(rdb, *logStream)
		defer mirror.Close()
		handler = mirror.handler(handler)
	}
	logger := slog.New(handler)
	// go-redis logs reconnections itself; through slog its lines stay JSON.
	redis.SetLogger(redisLogger{logger})
	token := tok.reveal()
	if *insecure {
		logger.Warn("--insecure-no-auth: the admin API is OPEN to anyone who can reach " + *addr + "; writes are audited under the X-Actor they claim")
	}

	// Tracking events of OFREP clients: the provider's queue and sender,
	// without a provider's snapshot (the server keeps its own).
	events := provider.NewEventQueue(rdb, provider.WithKeyPrefix(c.prefix), provider.WithLogger(logger))
	events.Start()
	defer events.Stop(context.WithoutCancel(ctx))

	metrics, err := startMetrics(ctx, *metricsAddr, stdout, logger)
	if err != nil {
		return err
	}
	if metrics != nil {
		defer metrics.close(ctx)
	}

	var users []console.User
	if *usersFile != "" && !*noConsole {
		if users, err = console.LoadUsers(*usersFile); err != nil {
			return err
		}
	}
	opts := append([]server.Option{server.WithEnvironment(*environment), server.WithAdminTokens(admins...),
		server.WithReadTokens(server.Token{Name: "reader", Secret: readTok.reveal()}), server.WithAllowedHosts(hosts...),
		server.WithProviderOptions(provider.WithLargeAllowlists(*largeSet, 0), provider.WithSimpleFlags(*simplePrefix)),
		server.WithLogger(logger), server.WithResync(*resync), server.WithCORSOrigins(cors...),
		server.WithClock(func() time.Time { return now() }),
		server.WithRoute("POST /ofrep/v1/track", tracking.Handler(events))}, releaseOptions(st)...)
	// The console is mounted at / and answers through the server's own
	// provider (srv.Provider(), the one evaluation path), which it follows
	// with provider.Watch for its live updates; it exists once srv does, so
	// the route reaches it through con.
	if metrics != nil {
		opts = append(opts, server.WithMeterProvider(metrics.provider()))
	}
	var con *console.Console
	if !*noConsole {
		opts = append(opts, server.WithRoute("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { con.ServeHTTP(w, r) })))
	}
	srv := server.New(rdb, st, opts...)
	stopRelease := rel.start(st, hooks, logger)
	defer stopRelease()
	if !*noConsole {
		// The console's changes meet the approval policies the admin
		// routes meet.
		conOpts := []console.Option{console.WithUsers(users), console.WithAdminToken(consoleToken(token, admins)),
			console.WithEnvironment(*environment), console.WithLogger(logger),
			console.WithWriteGuard(releaseWriteGuard(release.NewService(st, func() time.Time { return now() })))}
		if *secureCookies {
			conOpts = append(conOpts, console.WithSecureCookies())
		}
		// The console's reads leave allowlists of more than 10,000 members
		// in Redis (browsed with SSCAN, kept by its edits), so no page
		// carries a million subjects.
		conStore := store.New(rdb, store.WithKeyPrefix(c.prefix), store.WithClock(func() time.Time { return now() }),
			store.WithLargeSetThreshold(consoleLargeSet))
		con = console.New(conStore, srv.Provider(), conOpts...)
		defer con.Close()
		if len(users) == 0 && len(admins) == 0 {
			logger.Warn("console: no --users and no --admin-token: nobody can sign in to the console")
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10, // the default is 1 MiB: nothing we serve needs more than a token and a few headers
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	// Change streams would hold Shutdown for its whole timeout.
	hs.RegisterOnShutdown(srv.StopStreams)
	if con != nil {
		// The console's live streams end when the server shuts down, so
		// that Shutdown does not wait for them.
		hs.RegisterOnShutdown(func() { _ = con.Close() })
	}

	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = srv.Shutdown(context.WithoutCancel(ctx)) }()

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "redisflags: serving on http://%s (key prefix %q)\n", ln.Addr(), c.prefix)
	logger.Info("serving", "addr", ln.Addr().String(), "prefix", c.prefix, "environment", *environment)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// redisLogger sends go-redis' own log lines (reconnections, pool
// warnings) through slog, so that serve's stderr stays JSON lines.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}
