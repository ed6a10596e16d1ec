package server

import (
	"encoding/json"
	"net/http"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
)

// The change stream (OFREP ADR-0008, "event streams"): the bulk evaluation
// answers eventStreams naming GET /ofrep/v1/events, a Server-Sent Events
// stream on which the server sends
//
//	data: {"type":"refetchEvaluation","etag":"<revision>"}
//
// whenever the provider's snapshot changes (a change notice on P:changes, a
// keyspace notification, a resync that found a difference, a reconnection
// to Redis). A client (the npm web provider ≥ 0.4 speaks it) then
// re-fetches the bulk evaluation, with If-None-Match; no polling is needed.
// Comments (": heartbeat") keep idle connections and proxies alive. The
// number of connected clients is bounded (503 with Retry-After past it),
// every write has a deadline (a client that stops reading is dropped), and
// a stream ends with its client, or with StopStreams or Shutdown: nothing
// is left behind.

// eventsPath is the change stream's route.
const eventsPath = "/ofrep/v1/events"

// eventStream is one entry of the bulk response's eventStreams.
type eventStream struct {
	Type     string          `json:"type"`
	Endpoint *streamEndpoint `json:"endpoint,omitempty"`
	// InactivityDelaySec is how long a hidden page may keep the stream
	// closed before it re-fetches unconditionally on return.
	InactivityDelaySec int `json:"inactivityDelaySec,omitempty"`
}

// streamEndpoint is relative to the origin the client reached: the
// server may sit behind any host name or proxy.
type streamEndpoint struct {
	RequestURI string `json:"requestUri"`
}

// eventStreams is what the bulk answer advertises; nil when the stream is
// off.
func (s *Server) eventStreams(*http.Request) []eventStream {
	if s.cfg.maxStreams <= 0 {
		return nil
	}
	return []eventStream{{Type: "sse", Endpoint: &streamEndpoint{RequestURI: eventsPath}, InactivityDelaySec: 120}}
}

// StopStreams ends every change stream, now and from now on (new ones are
// refused with 503): call it before http.Server.Shutdown (for example with
// RegisterOnShutdown), which waits for handlers that a stream would keep
// busy. Shutdown calls it too. It may be called more than once.
func (s *Server) StopStreams() { s.closeStreams.Do(func() { close(s.streamsDone) }) }

// ofrepEvents is GET /ofrep/v1/events.
func (s *Server) ofrepEvents(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.streamsDone:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	default:
	}
	if n := s.streams.Add(1); n > int64(s.cfg.maxStreams) {
		s.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "too many change-stream clients (%d); poll the bulk evaluation instead, or retry later", s.cfg.maxStreams)
		return
	}
	defer s.streams.Add(-1)

	rc := http.NewResponseController(w)
	// The stream outlives the server's read and write timeouts: no read
	// deadline (the request has no body to read), a deadline per write.
	_ = rc.SetReadDeadline(time.Time{})
	changes, stop := s.live.Watch()
	defer stop()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(msg string) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.streamWriteTimeout)); err != nil && err != http.ErrNotSupported {
			return false
		}
		if _, err := w.Write([]byte(msg)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: how long EventSource waits before reconnecting.
	if !send("retry: 1000\n: connected\n\n") {
		return
	}
	beat := time.NewTicker(s.cfg.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.streamsDone:
			return
		case <-beat.C:
			if !send(": heartbeat\n\n") {
				return
			}
		case c, ok := <-changes:
			if !ok {
				return
			}
			if c.Type != of.ProviderConfigChange && c.Type != of.ProviderReady {
				continue
			}
			data, _ := json.Marshal(struct {
				Type string `json:"type"`
				ETag string `json:"etag,omitempty"`
			}{"refetchEvaluation", c.Revision})
			if !send("data: " + string(data) + "\n\n") {
				return
			}
		}
	}
}

// streamCount is the number of connected change-stream clients.
func (s *Server) streamCount() int { return int(s.streams.Load()) }
