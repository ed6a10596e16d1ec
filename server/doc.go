// Package server is redisflags' HTTP layer as a library: the Redis
// feature-flags tutorial's API, the OpenFeature Remote Evaluation Protocol
// (OFREP) and health checks, as http.Handlers over the flags of one store.
// "redisflags serve" is this package plus flag parsing; a Go service can
// mount the same handlers in its own mux.
//
// Mounting OFREP inside your own service:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	st := store.New(rdb)
//	srv := server.New(rdb, st, server.WithEnvironment("production"))
//	if err := srv.Start(ctx); err != nil { … }
//	defer srv.Shutdown(context.Background())
//
//	mux := http.NewServeMux()
//	mux.Handle("/ofrep/", srv.OFREP())   // POST /ofrep/v1/evaluate/flags[/{key}]
//	mux.Handle("/api/", srv.API())       // the tutorial's routes (WithAdminToken guards /api/admin/)
//	mux.Handle("/readyz", srv.Health())
//	mux.HandleFunc("/", yourApp)
//
// Or take every route at once, with your own beside them and middleware
// around all of them:
//
//	srv := server.New(rdb, st,
//		server.WithRoute("GET /metrics", metricsHandler),
//		server.WithMiddleware(authenticate, limit))
//	http.ListenAndServe(addr, srv.Handler())
//
// The package keeps no global state: any number of Servers can run in one
// process, each stopped by its Shutdown.
package server
