package store

import (
	"context"
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// writer is where a write queues its commands: a MULTI/EXEC pipeline for
// one flag ([pipeWriter]), or the command list of one bulk script for many
// ([cmdList]). Both queue the same commands, so a flag is stored the same
// way by Upsert and by UpsertAll.
type writer interface {
	del(keys ...string)
	hset(key string, fieldValues ...any)
	sadd(key string, members ...string)
	srem(key string, members ...string)
	publish(channel, message string)
	// xadd appends an entry to a stream trimmed to about maxLen entries.
	xadd(stream string, maxLen int64, fieldValues ...string)
	// audit appends an entry to the audit stream, trimmed to AuditMaxLen
	// entries and AuditMaxBytes bytes (see auditAddScript).
	audit(stream, counter string, size int, fieldValues ...string)
}

// pipeWriter queues into a go-redis pipeline.
type pipeWriter struct {
	ctx context.Context
	p   redis.Pipeliner
}

func (w pipeWriter) del(keys ...string)                  { w.p.Del(w.ctx, keys...) }
func (w pipeWriter) hset(key string, fieldValues ...any) { w.p.HSet(w.ctx, key, fieldValues...) }
func (w pipeWriter) sadd(key string, members ...string)  { w.p.SAdd(w.ctx, key, toAny(members)...) }
func (w pipeWriter) srem(key string, members ...string)  { w.p.SRem(w.ctx, key, toAny(members)...) }
func (w pipeWriter) publish(channel, message string)     { w.p.Publish(w.ctx, channel, message) }
func (w pipeWriter) xadd(stream string, maxLen int64, fieldValues ...string) {
	w.p.XAdd(w.ctx, &redis.XAddArgs{Stream: stream, MaxLen: maxLen, Approx: true, Values: toAny(fieldValues)})
}
func (w pipeWriter) audit(stream, counter string, size int, fieldValues ...string) {
	args := append([]any{AuditMaxLen, AuditMaxBytes, size}, toAny(fieldValues)...)
	w.p.Eval(w.ctx, auditAddScript, []string{stream, counter}, args...)
}

// cmdList is the command list of the bulk script: each command as its
// argument count, then its name and arguments. Members are split into
// commands of at most cmdListChunk, within what a Lua call can unpack.
type cmdList struct{ args []any }

// cmdListChunk is the most members one queued SADD or SREM carries (Lua's
// unpack stops at 8000 values).
const cmdListChunk = 1000

func (l *cmdList) add(args ...any) {
	l.args = append(l.args, len(args))
	l.args = append(l.args, args...)
}

func (l *cmdList) del(keys ...string) { l.add(append([]any{"DEL"}, toAny(keys)...)...) }
func (l *cmdList) hset(key string, fieldValues ...any) {
	l.add(append([]any{"HSET", key}, fieldValues...)...)
}
func (l *cmdList) sadd(key string, members ...string) { l.chunked("SADD", key, members) }
func (l *cmdList) srem(key string, members ...string) { l.chunked("SREM", key, members) }
func (l *cmdList) publish(channel, message string)    { l.add("PUBLISH", channel, message) }
func (l *cmdList) xadd(stream string, maxLen int64, fieldValues ...string) {
	l.add(append([]any{"XADD", stream, "MAXLEN", "~", maxLen, "*"}, toAny(fieldValues)...)...)
}
func (l *cmdList) audit(stream, counter string, size int, fieldValues ...string) {
	l.add(append([]any{"AUDIT", stream, counter, AuditMaxLen, AuditMaxBytes, size}, toAny(fieldValues)...)...)
}

func (l *cmdList) chunked(name, key string, members []string) {
	for len(members) > 0 {
		n := min(len(members), cmdListChunk)
		l.add(append([]any{name, key}, toAny(members[:n])...)...)
		members = members[n:]
	}
}

// The Lua of the audit stream's append and trim, shared by the one-flag
// script and the bulk script. audit(stream, counter, maxlen, maxbytes,
// size, field, value, …) adds the entry with its size, adds the size to the
// counter, then deletes the oldest entries while the stream holds more than
// maxlen entries or the counter says more than maxbytes (never the entry
// just added). An entry without a size field (written before sizes were
// recorded) counts as 0 bytes; a counter found with an empty stream is
// reset.
//
//go:embed audit.lua
var auditLua string

// auditAddScript is audit(KEYS[1], KEYS[2], ARGV…) as a script of its own.
var auditAddScript = auditLua + `
return audit(KEYS[1], KEYS[2], unpack(ARGV))`

// bulkWriteScript checks the fingerprint of every flag of a bulk write and,
// when none changed since it was read, runs the command list; else it
// returns 0 and writes nothing. A script runs alone, so the check and the
// writes are one step: nothing else happens between them.
//
//go:embed bulk.lua
var bulkLua string

var bulkWriteScript = auditLua + bulkLua
