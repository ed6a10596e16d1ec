// Package provider is the OpenFeature provider for flags stored in Redis in
// the layout of the Redis feature-flags tutorial (see package store).
//
// Register it once; every flag check after that is plain OpenFeature:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	p := provider.New(rdb, provider.WithEnvironment("production"))
//	if err := openfeature.SetProviderAndWait(p); err != nil { … }
//	defer openfeature.Shutdown()
//	client := openfeature.NewDefaultClient()
//	on, _ := client.BooleanValue(ctx, "checkout-banner", false,
//		openfeature.NewEvaluationContext("user-123", map[string]any{"region": "us-west"}))
//
// # Modes
//
// Live snapshot (the default): Init loads every flag in a few batched round
// trips and compiles them into an immutable snapshot behind an
// atomic.Pointer; evaluations read only memory and, on the boolean path,
// allocate nothing. A background loop keeps the snapshot fresh from the
// change notices this project's writes publish on P:changes, from keyspace
// notifications when the server has them enabled (notify-keyspace-events
// with K and the events of hashes and sets, e.g. "Kgsh" or "KA"), and from a
// full resync every WithResyncInterval (30s by default) and after every
// reconnect. Every change emits PROVIDER_CONFIGURATION_CHANGED with the
// changed keys. When Redis goes away the provider keeps serving the last
// snapshot, emits PROVIDER_STALE, reconnects with backoff (50ms doubling to
// 5s), reloads, and emits PROVIDER_READY.
//
// Direct reads (WithDirectReads): no snapshot; each evaluation costs one
// MULTI/EXEC round trip that reads only the requested environment's keys,
// with SISMEMBER for the allowlists.
//
// # Mapping onto OpenFeature
//
// A tutorial flag's variants are "on" and "off" (a variant flag serves its
// own variant names, a flag imported from LaunchDarkly its variation
// indexes, as LaunchDarkly's provider does). Reasons of a tutorial flag: flag-disabled and
// environment-disabled → DISABLED; environment-missing → DEFAULT;
// allowlist-user and allowlist-region → TARGETING_MATCH; a rollout strictly
// between 0% and 100% → SPLIT, 0% or 100% → DEFAULT. Boolean evaluations
// return whether the flag is on; String, Int, Float and Object return the
// environment's payload when the flag is on and the payload has the asked
// type, the caller's default when the flag is off or has no payload, and
// TYPE_MISMATCH otherwise. Flag metadata carries "environment",
// "evaluationReason" (the tutorial's reason name) and, when stored,
// "version" (int64); it is shared and read-only (the SDK copies it).
//
// Errors resolve to the caller's default with reason ERROR: FLAG_NOT_FOUND,
// PARSE_ERROR (stored data of that flag does not parse; other flags are
// unaffected), TARGETING_KEY_MISSING (a partial rollout without a subject),
// INVALID_CONTEXT (an attribute of the wrong type), PROVIDER_NOT_READY
// (nothing loaded yet) and GENERAL (a direct read failed).
//
// # Evaluation context
//
// The subject is the targeting key, else the attribute "key" (a
// LaunchDarkly single context), else the "key" of the WithContextKind kind
// (default "user") in a LaunchDarkly multi-context ("kind": "multi"). The
// region is the attribute "region", at the top level or inside that kind.
// The attribute "environment" overrides WithEnvironment per evaluation.
package provider
