package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// logStreamMaxLen bounds the log stream in entries: XADD … MAXLEN ~
// logStreamMaxLen.
const logStreamMaxLen = 10000

// logValueMax is the longest value (a message, a path, an error) an entry
// keeps; a longer one is cut and marked "…[N bytes]". logEntryMax bounds
// the whole entry: attributes past it are left out (and counted in the
// field "omitted"). With logStreamMaxLen, the stream holds at most about
// logStreamMaxLen × logEntryMax bytes (40 MiB) whatever requests log —
// before, a 1,000,000-character path was logged whole.
const (
	logValueMax = 512
	logEntryMax = 4 << 10
)

// streamMirror copies log records into a Redis stream (with --log-stream;
// the tutorial's application logs to the key "logs"), one entry per record
// with the fields time, level, msg and the record's attributes. It stays off
// the request path: records are queued and one goroutine writes them; when
// the queue is full (Redis slow or gone) records are dropped and counted,
// never waited for.
type streamMirror struct {
	rdb     redis.UniversalClient
	key     string
	queue   chan []any
	done    chan struct{}
	dropped atomic.Int64
	// warn reports the writer's failures on the process's own log (not
	// the stream); nil until handler is called.
	warn func(msg string)

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
}

func newStreamMirror(rdb redis.UniversalClient, key string) *streamMirror {
	m := &streamMirror{rdb: rdb, key: key, queue: make(chan []any, 1024), done: make(chan struct{})}
	go m.write()
	return m
}

func (m *streamMirror) write() {
	defer close(m.done)
	for values := range m.queue {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := m.rdb.XAdd(ctx, &redis.XAddArgs{Stream: m.key, MaxLen: logStreamMaxLen, Approx: true, Values: values}).Err()
		cancel()
		if err != nil {
			// Say so on the first failure and then every 1000th (a Redis
			// ACL without XADD on the key, say), not silently.
			if n := m.dropped.Add(1); n%1000 == 1 && m.warn != nil {
				m.warn(fmt.Sprintf("log stream %q: entry dropped (%d so far): %v", m.key, n, err))
			}
		}
	}
}

// Close writes what is queued and stops the writer. Records logged after
// Close are dropped.
func (m *streamMirror) Close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.queue)
	}
	m.mu.Unlock()
	<-m.done
}

func (m *streamMirror) send(values []any) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		m.dropped.Add(1)
		return
	}
	select {
	case m.queue <- values:
	default:
		m.dropped.Add(1)
	}
}

// handler returns a slog.Handler that writes to next and mirrors to the
// stream.
func (m *streamMirror) handler(next slog.Handler) slog.Handler {
	m.warn = func(msg string) {
		_ = next.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelWarn, msg, 0))
	}
	return &mirrorHandler{next: next, m: m}
}

type mirrorHandler struct {
	next  slog.Handler
	m     *streamMirror
	attrs []any  // from WithAttrs, as field/value pairs
	group string // from WithGroup, as a key prefix
}

func (h *mirrorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *mirrorHandler) Handle(ctx context.Context, r slog.Record) error {
	values := make([]any, 0, 6+len(h.attrs)+2*r.NumAttrs())
	values = append(values, "time", r.Time.UTC().Format(time.RFC3339Nano), "level", r.Level.String(), "msg", r.Message)
	values = append(values, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		values = appendAttr(values, h.group, a)
		return true
	})
	h.m.send(boundEntry(values))
	return h.next.Handle(ctx, r)
}

func (h *mirrorHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]any(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.group, a)
	}
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *mirrorHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	c.next = h.next.WithGroup(name)
	return &c
}

func appendAttr(values []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			values = appendAttr(values, prefix+a.Key+".", g)
		}
		return values
	}
	return append(values, prefix+a.Key, v.String())
}

// boundEntry cuts every value to logValueMax bytes and leaves out the
// fields past logEntryMax bytes, counting them in "omitted".
func boundEntry(values []any) []any {
	out := values[:0]
	size, omitted := 0, 0
	for i := 0; i+1 < len(values); i += 2 {
		k, _ := values[i].(string)
		v := fmt.Sprint(values[i+1])
		k, v = cut(k, 64), cut(v, logValueMax)
		if size+len(k)+len(v) > logEntryMax {
			omitted++
			continue
		}
		size += len(k) + len(v)
		out = append(out, k, v)
	}
	if omitted > 0 {
		out = append(out, "omitted", strconv.Itoa(omitted))
	}
	return out
}

// cut shortens s to about n bytes (on a rune boundary), marking how long it
// was.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…[" + strconv.Itoa(len(s)) + " bytes]"
}
