// Package schema holds the JSON Schema (draft 2020-12) of a redisflags flag
// definition: the Redis feature-flags tutorial's fields and the fields
// redisflags adds (variants, rules with recursive conditions, splits,
// metadata, bucketing, kill date).
//
// The schema is for editors, linters and other languages; Go code validates
// definitions with evaluator.Validate (or evaluator.ParseFlag), which also
// checks what a schema cannot say (split weights summing to 100, CEL and
// RE2 compiling, rules naming variants the flag has). Every definition the
// schema accepts, ParseFlag accepts unless one of those checks fails; the
// package's tests hold the two to that.
//
// Usage, serving it over HTTP:
//
//	mux.HandleFunc("GET /schema/flag.json", func(w http.ResponseWriter, _ *http.Request) {
//		w.Header().Set("Content-Type", "application/schema+json")
//		w.Write(schema.Flag)
//	})
package schema

import _ "embed"

// Flag is the JSON Schema of one flag definition (flag.schema.json). It is
// shared: do not modify it.
//
//go:embed flag.schema.json
var Flag []byte

// ID is the schema's $id.
const ID = "https://github.com/redisflags/redisflags/schema/flag.schema.json"
