// Package release automates releases without a person at the keyboard
// (docs/design.md §14): it applies scheduled changes exactly once across
// replicas, keeps the tutorial's rolloutPercent in step with progressive
// rollouts, runs the four-eyes change-request workflow, notices kill dates,
// and delivers every event of the store's outbox to webhooks, signed with
// HMAC-SHA256 and retried with backoff.
//
// Everything it stores lives in Redis through package store (schedules,
// requests, policies, the outbox), so any number of replicas can run a
// [Scheduler] and a [Dispatcher] side by side: claims, leases and the
// WATCHed transactions of the store decide who does what, and nothing is
// done twice.
//
//	st := store.New(rdb, store.WithOutbox())
//	sched := release.NewScheduler(st)
//	sched.Start()
//	defer sched.Close()
//	d := release.NewDispatcher(st, []release.Webhook{{Name: "ops", URL: "https://hooks.example/flags", Secret: release.Secret(key)}})
//	d.Start()
//	defer d.Close()
//	http.Handle("/api/release/", http.StripPrefix("/api/release", release.NewHandler(release.NewService(st))))
//
// The HTTP handler takes the acting person from the request: the server's
// authentication puts it in the request's context with [ContextWithActor]
// (or the handler is given [WithActorFunc]); a request without one is
// refused with 401.
package release
