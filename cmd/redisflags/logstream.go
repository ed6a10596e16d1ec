package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// logStreamMaxLen bounds the log stream: XADD … MAXLEN ~ logStreamMaxLen.
const logStreamMaxLen = 10000

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
			m.dropped.Add(1)
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
	h.m.send(values)
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
