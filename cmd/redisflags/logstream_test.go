package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request that logs a 1,000,000-character path writes a bounded entry
// into the log stream (before: the whole path, ~10 GB for the stream).
func TestAttackLogStreamEntriesAreBoundedInBytes(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	mirror := newStreamMirror(rdb, "logs")
	logger := slog.New(mirror.handler(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	logger.Info("request", "path", "/"+strings.Repeat("a", 1_000_000), "status", 404)
	var many []any
	for i := range 100 {
		many = append(many, strings.Repeat("k", 10)+string(rune('a'+i%26)), strings.Repeat("v", 1000))
	}
	logger.Info("many", many...)
	mirror.Close()

	entries, err := rdb.XRange(t.Context(), "logs", "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 2)
	path, _ := entries[0].Values["path"].(string)
	assert.Less(t, len(path), logValueMax+32)
	assert.Contains(t, path, "…[1000001 bytes]")
	assert.Equal(t, "404", entries[0].Values["status"])
	size := 0
	for k, v := range entries[1].Values {
		size += len(k) + len(v.(string))
	}
	assert.LessOrEqual(t, size, logEntryMax+64)
	assert.NotEmpty(t, entries[1].Values["omitted"])
}

// A log stream Redis refuses (an ACL without XADD on the key, say) is said
// on the process's own log, not dropped silently.
func TestLogStreamFailuresAreLogged(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetError("NOPERM this user has no permissions to access the 'logs' key")
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	var out syncBuffer
	mirror := newStreamMirror(rdb, "logs")
	logger := slog.New(mirror.handler(slog.NewTextHandler(&out, nil)))
	logger.Info("one")
	logger.Info("two")
	mirror.Close()
	assert.Contains(t, out.String(), `log stream \"logs\": entry dropped (1 so far)`)
	assert.Contains(t, out.String(), "NOPERM")
	assert.Equal(t, 1, strings.Count(out.String(), "entry dropped"), "said once, not per entry")
}
