// Package console is the web console of redisflags: server-rendered pages
// (html/template) with a little hand-written JavaScript and CSS, embedded in
// the binary, for the people who release. A person signs in and can list
// and search flags, flip kill switches, move rollouts, edit allowlists and
// payloads, edit a whole definition as JSON (variants, rules, splits),
// create, copy and delete flags, read a flag's history with a readable diff
// and revert to any earlier version, and ask what a subject gets and why.
//
// Every change goes through the store path the HTTP API uses
// ([store.Store.Upsert] or [store.Store.Delete] with [store.IfVersion] and
// [store.Actor]): validation first, one MULTI/EXEC, the version check, and
// the signed-in person as the audit actor. Every answer about what a
// subject gets comes from the [provider.Provider]'s resolution; the console
// computes no bucket and no reason of its own.
//
// Usage:
//
//	users, err := console.LoadUsers("users.txt") // name:role:bcrypt-hash lines
//	if err != nil { … }
//	c := console.New(st, prov, console.WithUsers(users), console.WithAdminToken(token))
//	defer c.Close()
//	mux.Handle("/", c)
//
// The live updates follow the provider with provider.Watch, so the
// provider may be the one the server or the application already uses.
package console
