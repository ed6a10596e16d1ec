// Package store keeps flag definitions in Redis in the layout of the Redis
// feature-flags tutorial (docs/design.md §2), so that flags written by the tutorial's
// application, by hand with redis-cli, or by this package read the same.
//
// With prefix P (default "feature-flags") and flag key K:
//
//	P:index                          set   every flag key
//	P:flag:K                         hash  description, defaultEnabled, updatedAt, version,
//	                                       and a variant flag's fields (see rich.go)
//	P:flag:K:environments            set   environment names
//	P:flag:K:environment:E           hash  enabled, rolloutPercent, value, updatedAt
//	P:flag:K:environment:E:users     set   allowlisted subjects
//	P:flag:K:environment:E:regions   set   allowlisted regions
//	P:changes                        pub/sub channel of change notices
//	P:audit                          stream of every write: actor, time, op, before, after, note
//	P:rollouts                       set   flags with a progressive rollout (schedule.go)
//	P:schedule, P:schedule:ID        zset, hash  scheduled changes (schedule.go)
//	P:schedule-of:K                  zset  one flag's pending changes, by due time
//	P:requests, P:request:ID         zset, hash  change requests (requests.go)
//	P:release:policies               hash  environment → approval policy
//	P:outbox                         stream of events for webhooks, with WithOutbox (outbox.go)
//
// Every write is one MULTI/EXEC: [Store.Upsert] deletes the flag's old keys
// (old environments included), writes the new ones, bumps "version" and
// publishes a [Change] on P:changes and appends an [AuditEntry] to P:audit
// in the same transaction; [Store.Delete] removes the index entry and every
// key, publishes and audits too. [IfVersion] makes a write conditional on
// the stored version. Reads decode
// leniently where the tutorial is lenient (missing optional fields) and
// strictly where a value would change the meaning ("rolloutPercent" of "abc"),
// returning a *DecodeError that names the flag and the field.
//
// A Store is safe for concurrent use; it holds only the client and its
// settings (prefix, clock, simple-flag prefix, large-allowlist threshold),
// never flags.
//
//	s := store.New(rdb)
//	stored, err := s.Upsert(ctx, evaluator.Flag{Key: "checkout-banner", DefaultEnabled: true, ...})
package store
